# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST holder protection fund
@custom:contract-name ProtectionFund
@license GNU Affero General Public License v3.0 only
@notice One per protocol. Inflows: the protection premium of every payment
        (the routers send it here), each defaulted listing's earmarks (the
        rest of its merchant stake, from its reserve, and the underwriting
        agent's slashed bond, from the registry) and top-ups. The free fund
        is the balance less what open pots still owe.
        At a listing's default its pot opens once:
        `pot = min(earmarked, ceiling) + min(target - that (floor 0),
        max_payout_bps * (free + committed) - committed (floor 0),
        per_listing_cap_bps * free)`, with `target = min(cover * loss_base,
        stake_cap)` and `ceiling = min(loss_base, stake_cap)`, where
        `loss_base` = the reference price (the TWAP when the listing first
        went late, or the listing price if none was observed) times `H`, the listing tokens outside its insiders
        (reserve, vesting, merchant, payout) and this fund; `stake_cap` =
        `listing stake * H / min(released allocation, H)`, so that tokens
        the merchant moved out before its default never claim back more
        than its stake; `committed` the free-fund parts of the
        pots still open. The per-token rate `pot / H` is fixed then. Any
        holder but an insider hands in tokens (kept here for good) and is
        paid `amount * rate`, whenever it claims inside the window: no race,
        no snapshot. After the window the rest returns to the free fund.
        Breakers: with coverage (free fund over `cover_bps` of the live
        listings' listing-time market caps) under `min_coverage_bps` the
        factory lists nothing; in stress (the loss bases of late listings
        times `cover_bps` above `stress_bps` of the free fund) no reserve
        buys. A guardian may pause new pots; only the owner (the timelock)
        unpauses and sets parameters.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.utils import pausable
from snekmate.utils import math

from modules import constants as c

initializes: ownable
initializes: pausable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
)


interface IReserve:
    def LISTING_STAKE() -> uint256: view
    def status() -> uint256: view
    def reference_price() -> uint256: view
    def release_to_fund() -> uint256: nonpayable


interface IRouter:
    def is_insider(account: address) -> bool: view
    def payout() -> address: view


interface IVesting:
    def released() -> uint256: view


interface IRegistry:
    def release_held(reserve: address) -> uint256: nonpayable


struct Parameters:
    cover_bps: uint256
    max_payout_bps: uint256
    per_listing_cap_bps: uint256
    claim_window: uint256
    min_coverage_bps: uint256
    stress_bps: uint256


struct Covered:
    token: address
    router: address
    reserve: address
    vesting: address
    merchant: address
    # listing-time market cap, settlement units
    market_cap: uint256
    # the loss base reported while the listing is late (0 otherwise)
    late_loss_base: uint256
    live: bool


struct Pot:
    opened_at: uint256
    amount: uint256
    earmarked: uint256
    from_fund: uint256
    loss_base: uint256
    covered_tokens: uint256
    # settlement units per token wei, times RATE_SCALE
    rate: uint256
    claimed_tokens: uint256
    paid: uint256
    closed: bool


event ListingCovered:
    id: indexed(uint256)
    reserve: indexed(address)
    market_cap: uint256


event LateReported:
    id: indexed(uint256)
    loss_base: uint256
    late_loss_total: uint256


event PotOpened:
    id: indexed(uint256)
    amount: uint256
    earmarked: uint256
    from_fund: uint256
    loss_base: uint256
    covered_tokens: uint256
    rate: uint256
    free_before: uint256
    stake_cap: uint256
    earmarks_to_fund: uint256


event Claimed:
    id: indexed(uint256)
    holder: indexed(address)
    receiver: address
    tokens: uint256
    paid: uint256


event PotClosed:
    id: indexed(uint256)
    returned: uint256


event ToppedUp:
    sender: indexed(address)
    amount: uint256


event ParametersChanged:
    cover_bps: uint256
    max_payout_bps: uint256
    per_listing_cap_bps: uint256
    claim_window: uint256
    min_coverage_bps: uint256
    stress_bps: uint256


event GuardianChanged:
    guardian: indexed(address)


event FactorySet:
    factory: indexed(address)


SETTLEMENT: public(immutable(IERC20))
REGISTRY: public(immutable(IRegistry))
# 10 ** (18 - settlement decimals)
SETTLEMENT_SCALE: public(immutable(uint256))

factory: public(address)
guardian: public(address)
params: public(Parameters)

listings: public(HashMap[uint256, Covered])
listing_of_reserve: public(HashMap[address, uint256])  # id + 1; 0 = unknown
pots: public(HashMap[uint256, Pot])

# what the open pots still owe (their amount less what was paid)
locked: public(uint256)
# the free-fund parts of the pots still open
committed: public(uint256)
# the sum of live listings' listing-time market caps
covered_market_cap: public(uint256)
# the sum of late listings' loss bases
late_loss_total: public(uint256)
open_pot_count: public(uint256)


@deploy
def __init__(settlement: IERC20, registry: IRegistry, guardian_: address):
    """
    @notice Creates the protocol's fund with the default parameters; the
            deployer owns it until governance takes it over.
    @param settlement The protocol's settlement token (<= 18 decimals).
    @param registry The underwriting registry (holds agents' slashes for pots).
    @param guardian_ May pause new pots (zero address: none).
    """
    assert settlement.address != empty(address), "fund: settlement is the zero address"
    assert registry.address != empty(address), "fund: registry is the zero address"
    decimals: uint8 = staticcall IERC20Detailed(settlement.address).decimals()
    assert decimals <= c.MAX_SETTLEMENT_DECIMALS, "fund: settlement token has more than 18 decimals"
    ownable.__init__()
    pausable.__init__()
    SETTLEMENT = settlement
    REGISTRY = registry
    SETTLEMENT_SCALE = 10**(18 - convert(decimals, uint256))
    self.guardian = guardian_
    self.params = Parameters(
        cover_bps=c.DEFAULT_COVER_BPS,
        max_payout_bps=c.DEFAULT_MAX_PAYOUT_BPS,
        per_listing_cap_bps=c.DEFAULT_PER_LISTING_CAP_BPS,
        claim_window=c.DEFAULT_CLAIM_WINDOW,
        min_coverage_bps=c.DEFAULT_MIN_COVERAGE_BPS,
        stress_bps=c.DEFAULT_STRESS_BPS,
    )


# ---------------------------------------------------------------- listings


@external
def cover_listing(
    id: uint256,
    token: address,
    router: address,
    reserve: address,
    vesting: address,
    merchant: address,
    market_cap: uint256,
):
    """
    @notice Starts covering a new listing. Factory only.
    @param id The factory's listing id.
    @param token The listing token.
    @param router The listing's revenue router (knows its insiders).
    @param reserve The listing's reserve (reports late and default here).
    @param vesting The merchant's vesting contract.
    @param merchant The merchant.
    @param market_cap Listing-time market cap, settlement units.
    """
    assert msg.sender == self.factory, "fund: caller is not the factory"
    assert reserve != empty(address), "fund: reserve is the zero address"
    assert self.listing_of_reserve[reserve] == 0, "fund: listing already covered"
    self.listings[id] = Covered(
        token=token,
        router=router,
        reserve=reserve,
        vesting=vesting,
        merchant=merchant,
        market_cap=market_cap,
        late_loss_base=0,
        live=True,
    )
    self.listing_of_reserve[reserve] = id + 1
    self.covered_market_cap += market_cap
    log ListingCovered(id=id, reserve=reserve, market_cap=market_cap)


@external
def report_late(reference_price: uint256):
    """
    @notice A listing's reserve reports the reference price of its late
            listing, or 0 when it is no longer late. Its loss base (the
            price times the tokens outside insiders now, settlement units)
            counts towards stress.
    @param reference_price Wad (settlement per token, 18 decimals); 0 clears.
    """
    id: uint256 = self._id_of(msg.sender)
    listing: Covered = self.listings[id]
    assert listing.live, "fund: listing defaulted"
    loss_base: uint256 = 0
    if reference_price != 0:
        loss_base = math._mul_div(reference_price, self._holder_tokens(listing), c.WAD, False) // SETTLEMENT_SCALE
    total: uint256 = self.late_loss_total - self.listings[id].late_loss_base + loss_base
    self.listings[id].late_loss_base = loss_base
    self.late_loss_total = total
    log LateReported(id=id, loss_base=loss_base, late_loss_total=total)


@external
@nonreentrant
def report_default():
    """
    @notice A defaulted listing's reserve opens its pot (it calls this at
            default without reverting on failure; `open_pot` retries).
    """
    self._open_pot(self._id_of(msg.sender))


@external
@nonreentrant
def open_pot(id: uint256):
    """
    @notice Opens the pot of defaulted listing `id` (anyone, once): pulls
            its earmarks, sizes the pot within its caps and fixes the rate.
    @param id The listing id.
    """
    self._open_pot(id)


# ---------------------------------------------------------------- holders


@external
@nonreentrant
def claim(id: uint256, amount: uint256, receiver: address = msg.sender) -> uint256:
    """
    @notice Hands in `amount` listing tokens of defaulted listing `id` (kept
            here for good; approve this fund first) for `amount * rate`
            settlement, sent to `receiver`. Insiders cannot claim. If the
            payment cannot be sent the claim reverts and the tokens stay
            the holder's, claimable later or to another receiver.
    @param id The listing id.
    @param amount Token amount, 18 decimals, > 0.
    @param receiver Who is paid (default: the caller), not the zero address.
    @return The settlement amount paid.
    """
    # only the fields a claim needs (a whole struct would read every slot)
    opened_at: uint256 = self.pots[id].opened_at
    assert opened_at != 0, "fund: no open pot for this listing"
    assert (
        not self.pots[id].closed and block.timestamp < opened_at + self.params.claim_window
    ), "fund: claim window closed"
    assert amount != 0, "fund: zero amount"
    assert receiver != empty(address), "fund: receiver is the zero address"
    router: address = self.listings[id].router
    assert not staticcall IRouter(router).is_insider(msg.sender), "fund: insiders cannot claim"
    claimed: uint256 = self.pots[id].claimed_tokens + amount
    assert claimed <= self.pots[id].covered_tokens, "fund: claim exceeds the covered tokens"
    paid: uint256 = math._mul_div(amount, self.pots[id].rate, c.RATE_SCALE, False)
    self.pots[id].claimed_tokens = claimed
    self.pots[id].paid += paid
    self.locked -= paid
    assert extcall IERC20(self.listings[id].token).transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "fund: token transfer failed"
    if paid != 0:
        assert extcall SETTLEMENT.transfer(receiver, paid, default_return_value=True), "fund: payment failed"
    log Claimed(id=id, holder=msg.sender, receiver=receiver, tokens=amount, paid=paid)
    return paid


@external
@view
def claimable(id: uint256, amount: uint256) -> uint256:
    """
    @notice What handing in `amount` tokens of listing `id` pays now (0 if
            its pot is not open, closed or past its window).
    @param id The listing id.
    @param amount Token amount, 18 decimals.
    """
    pot: Pot = self.pots[id]
    if pot.opened_at == 0 or pot.closed or block.timestamp >= pot.opened_at + self.params.claim_window:
        return 0
    if pot.claimed_tokens + amount > pot.covered_tokens:
        return 0
    return math._mul_div(amount, pot.rate, c.RATE_SCALE, False)


@external
@nonreentrant
def close_pot(id: uint256) -> uint256:
    """
    @notice After the claim window, returns what the pot of listing `id`
            still holds to the free fund (anyone, once).
    @param id The listing id.
    @return The amount returned.
    """
    pot: Pot = self.pots[id]
    assert pot.opened_at != 0, "fund: no open pot for this listing"
    assert not pot.closed, "fund: pot already closed"
    assert block.timestamp >= pot.opened_at + self.params.claim_window, "fund: claim window still open"
    returned: uint256 = pot.amount - pot.paid
    self.pots[id].closed = True
    self.locked -= returned
    self.committed -= pot.from_fund
    self.open_pot_count -= 1
    log PotClosed(id=id, returned=returned)
    return returned


@external
@nonreentrant
def top_up(amount: uint256):
    """
    @notice Adds `amount` of settlement to the free fund (approve first).
            Anyone; the treasury does it through the timelock.
    @param amount Settlement units, > 0.
    """
    assert amount != 0, "fund: zero amount"
    before: uint256 = staticcall SETTLEMENT.balanceOf(self)
    assert extcall SETTLEMENT.transferFrom(msg.sender, self, amount, default_return_value=True), "fund: transfer failed"
    log ToppedUp(sender=msg.sender, amount=staticcall SETTLEMENT.balanceOf(self) - before)


# ---------------------------------------------------------------- views


@external
@view
def free_fund() -> uint256:
    """
    @notice The fund's balance less what open pots still owe.
    """
    return self._free()


@external
@view
def coverage_bps() -> uint256:
    """
    @notice Free fund over `cover_bps` of the live listings' listing-time
            market caps, bps (max uint256 with no live listing).
    """
    return self._coverage_bps()


@external
@view
def can_list() -> bool:
    """
    @notice Whether coverage is at least `min_coverage_bps` (the factory
            lists nothing otherwise).
    """
    return self._coverage_bps() >= self.params.min_coverage_bps


@external
@view
def in_stress() -> bool:
    """
    @notice Whether `cover_bps` of the late listings' loss bases exceeds
            `stress_bps` of the free fund: no reserve buys then.
    """
    total: uint256 = self.late_loss_total
    if total == 0:
        return False
    p: Parameters = self.params
    return total * p.cover_bps > p.stress_bps * self._free()


@external
@view
def covered_tokens(id: uint256) -> uint256:
    """
    @notice `H` of listing `id` now: its tokens outside its insiders and
            this fund (what a pot opened now would cover).
    @param id The listing id.
    """
    return self._holder_tokens(self.listings[id])


# ---------------------------------------------------------------- governance


@external
def set_factory(factory_: address):
    """
    @notice Names the listing factory, once. Admin only.
    @param factory_ The factory.
    """
    ownable._check_owner()
    assert factory_ != empty(address), "fund: factory is the zero address"
    assert self.factory == empty(address), "fund: factory already set"
    self.factory = factory_
    log FactorySet(factory=factory_)


@external
def set_parameters(p: Parameters):
    """
    @notice Sets the fund's parameters. Admin only (timelock). Bounds:
            cover 1000..10000, max payout 500..5000, per-listing cap
            100..max payout, claim window 30 days..3 years, minimum coverage
            0..5000, stress 1000..10000 (bps unless said). A pot already
            open keeps its rate; a new window applies to every open pot.
    @param p The new parameters.
    """
    ownable._check_owner()
    assert p.cover_bps >= c.MIN_COVER_BPS and p.cover_bps <= c.MAX_COVER_BPS, "fund: cover_bps out of bounds"
    assert (
        p.max_payout_bps >= c.MIN_MAX_PAYOUT_BPS and p.max_payout_bps <= c.MAX_MAX_PAYOUT_BPS
    ), "fund: max_payout_bps out of bounds"
    assert (
        p.per_listing_cap_bps >= c.MIN_PER_LISTING_CAP_BPS and p.per_listing_cap_bps <= p.max_payout_bps
    ), "fund: per_listing_cap_bps out of bounds"
    assert (
        p.claim_window >= c.MIN_CLAIM_WINDOW and p.claim_window <= c.MAX_CLAIM_WINDOW
    ), "fund: claim_window out of bounds"
    assert p.min_coverage_bps <= c.MAX_MIN_COVERAGE_BPS, "fund: min_coverage_bps out of bounds"
    assert p.stress_bps >= c.MIN_STRESS_BPS and p.stress_bps <= c.MAX_STRESS_BPS, "fund: stress_bps out of bounds"
    self.params = p
    log ParametersChanged(
        cover_bps=p.cover_bps,
        max_payout_bps=p.max_payout_bps,
        per_listing_cap_bps=p.per_listing_cap_bps,
        claim_window=p.claim_window,
        min_coverage_bps=p.min_coverage_bps,
        stress_bps=p.stress_bps,
    )


@external
def set_guardian(guardian_: address):
    """
    @notice Sets who may pause new pots. Admin only.
    @param guardian_ The guardian (zero address: none).
    """
    ownable._check_owner()
    self.guardian = guardian_
    log GuardianChanged(guardian=guardian_)


@external
def pause():
    """
    @notice Stops new pots from opening (claims go on). The guardian or the admin.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "fund: caller is not the guardian"
    pausable._pause()


@external
def unpause():
    """
    @notice Lets pots open again. Admin only (timelocked).
    """
    ownable._check_owner()
    pausable._unpause()


# ---------------------------------------------------------------- internals


@internal
@view
def _id_of(reserve: address) -> uint256:
    """
    @notice The listing id of `reserve`; reverts for anything else.
    """
    id: uint256 = self.listing_of_reserve[reserve]
    assert id != 0, "fund: caller is not a covered reserve"
    return id - 1


@internal
@view
def _free() -> uint256:
    """
    @notice Balance less what open pots owe (floor 0).
    """
    balance: uint256 = staticcall SETTLEMENT.balanceOf(self)
    locked: uint256 = self.locked
    if balance <= locked:
        return 0
    return balance - locked


@internal
@view
def _coverage_bps() -> uint256:
    covered: uint256 = self.covered_market_cap
    if covered == 0:
        return max_value(uint256)
    return self._free() * c.BPS * c.BPS // (covered * self.params.cover_bps)


@internal
@view
def _holder_tokens(listing: Covered) -> uint256:
    """
    @notice Tokens outside the listing's insiders and this fund.
    """
    token: IERC20 = IERC20(listing.token)
    held: uint256 = staticcall token.balanceOf(listing.reserve) + staticcall token.balanceOf(listing.vesting)
    held += staticcall token.balanceOf(listing.merchant) + staticcall token.balanceOf(self)
    payout: address = staticcall IRouter(listing.router).payout()
    if payout != listing.merchant:
        held += staticcall token.balanceOf(payout)
    return staticcall token.totalSupply() - held


@internal
@view
def _stake_cap(reserve: IReserve, vesting: IVesting, holders: uint256) -> uint256:
    """
    @notice The most a pot may hold so that the merchant, whatever part of
            its released allocation it moved to other addresses before the
            default, can claim back at most its listing-time stake:
            `stake * H / min(released, H)` (no cap before any release).
    """
    released: uint256 = min(staticcall vesting.released(), holders)
    if released == 0:
        return max_value(uint256)
    return math._mul_div(staticcall reserve.LISTING_STAKE(), holders, released, False)


@internal
def _open_pot(id: uint256):
    pausable._require_not_paused()
    listing: Covered = self.listings[id]
    assert listing.reserve != empty(address), "fund: unknown listing"
    assert self.pots[id].opened_at == 0, "fund: pot already open"
    reserve: IReserve = IReserve(listing.reserve)
    assert staticcall reserve.status() == c.DEFAULTED, "fund: listing has not defaulted"

    free: uint256 = self._free()
    before: uint256 = staticcall SETTLEMENT.balanceOf(self)
    extcall reserve.release_to_fund()
    extcall REGISTRY.release_held(listing.reserve)
    earmarked: uint256 = staticcall SETTLEMENT.balanceOf(self) - before

    p: Parameters = self.params
    holders: uint256 = self._holder_tokens(listing)
    reference: uint256 = staticcall reserve.reference_price()
    loss_base: uint256 = 0
    if reference != 0:
        loss_base = math._mul_div(reference, holders, c.WAD, False) // SETTLEMENT_SCALE
    else:
        # no TWAP was observed before the listing went late: the listing price
        loss_base = math._mul_div(listing.market_cap, holders, staticcall IERC20(listing.token).totalSupply(), False)
    stake_cap: uint256 = self._stake_cap(reserve, IVesting(listing.vesting), holders)
    # the earmarks stay in the pot up to the loss base and the stake cap; the rest joins the free fund
    kept: uint256 = min(earmarked, min(loss_base, stake_cap))
    committed: uint256 = self.committed
    target: uint256 = min(loss_base * p.cover_bps // c.BPS, stake_cap)
    from_fund: uint256 = 0
    if target > kept:
        from_fund = target - kept
    aggregate: uint256 = (free + committed) * p.max_payout_bps // c.BPS
    if aggregate > committed:
        from_fund = min(from_fund, aggregate - committed)
    else:
        from_fund = 0
    from_fund = min(from_fund, free * p.per_listing_cap_bps // c.BPS)
    amount: uint256 = kept + from_fund
    rate: uint256 = 0
    if holders != 0:
        rate = amount * c.RATE_SCALE // holders

    self.pots[id] = Pot(
        opened_at=block.timestamp,
        amount=amount,
        earmarked=kept,
        from_fund=from_fund,
        loss_base=loss_base,
        covered_tokens=holders,
        rate=rate,
        claimed_tokens=0,
        paid=0,
        closed=False,
    )
    self.locked += amount
    self.committed = committed + from_fund
    self.open_pot_count += 1
    self.covered_market_cap -= listing.market_cap
    self.late_loss_total -= listing.late_loss_base
    self.listings[id].late_loss_base = 0
    self.listings[id].live = False
    log PotOpened(
        id=id,
        amount=amount,
        earmarked=kept,
        from_fund=from_fund,
        loss_base=loss_base,
        covered_tokens=holders,
        rate=rate,
        free_before=free,
        stake_cap=stake_cap,
        earmarks_to_fund=earmarked - kept,
    )
