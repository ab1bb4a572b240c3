# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST revenue router
@custom:contract-name RevenueRouter
@license GNU Affero General Public License v3.0 only
@notice Customers pay a listed merchant through this contract. Every payment
        is split on chain: `gross * share_bps // 10_000` goes to the holders'
        staking distributor, `gross * PREMIUM_BPS // 10_000` (the grade's
        protection premium) to the protection fund, the rest to the
        merchant's payout address, so revenue cannot be under-reported.
        A transfer to one party that fails (a blacklist, a paused or
        false-returning token) never blocks the payment and loses nothing:
        the router takes that part itself and owes it, the merchant part to
        the merchant (`withdraw_owed`, to any address it names), the holder
        share and the premium to the next payment (or `deliver`). Only a
        payer that cannot pay at all is refused. The payout address changes
        through the timelock; every payout address it ever had stays an
        insider. The router also keeps the listing's counted revenue per
        30-day period, the only revenue the oracle (EPS) and the credit
        assessment (targets) look at:
        `counted[p] = min(gross paid in p by non-insiders, verified_cap[p])`,
        the cap being the one in force at the start of `p` (read from the
        revenue verifier at the period's first counted payment). Insiders
        (the merchant, its payout addresses, its vesting contract, the
        reserve) pay like anyone else and count nothing. The router records
        the time payments were paused, which pro-rates a period's target.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import pausable

from modules import constants as c
from modules import transfers
from interfaces import IRevenueVerifier

initializes: ownable
initializes: pausable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
)


interface IRevenueStaking:
    def notify_revenue(amount: uint256): nonpayable
    def add_insider(account: address): nonpayable


struct Parties:
    staking: address
    merchant: address
    payout: address
    vesting: address
    reserve: address
    verifier: IRevenueVerifier
    fund: address


event Payment:
    order_id: indexed(bytes32)
    payer: indexed(address)
    gross: uint256
    holder_share: uint256
    premium: uint256
    counted: bool


event Owed:
    party: indexed(address)
    amount: uint256


event Delivered:
    party: indexed(address)
    amount: uint256


event OwedWithdrawn:
    to: indexed(address)
    amount: uint256


event PayoutChanged:
    old_payout: indexed(address)
    new_payout: indexed(address)


event ShareChanged:
    old_share_bps: uint256
    new_share_bps: uint256


event GuardianChanged:
    old_guardian: indexed(address)
    new_guardian: indexed(address)


# _config packs the hot settings into one slot: (former payouts flag << 177)
# | (debt flag << 176) | (share_bps << 160) | payout. The debt flag is set
# while a holder share or a premium waits here to be delivered; the other
# once the payout address has changed (so `pay` reads `former_payout` only
# then).
ADDRESS_MASK: constant(uint256) = (1 << 160) - 1
DEBT_FLAG: constant(uint256) = 1 << 176
FORMER_FLAG: constant(uint256) = 1 << 177
# A period slot packs (verified cap + 1) << 128 | non-insider gross; 0: no
# counted payment yet (the cap is read at the first one).
HALF_MASK: constant(uint256) = (1 << 128) - 1
# The most pauses `unpaused_time` looks back over for one period.
MAX_PAUSES_PER_PERIOD: constant(uint256) = 64

SETTLEMENT: public(immutable(IERC20))
STAKING: public(immutable(address))
MERCHANT: public(immutable(address))
VESTING: public(immutable(address))
RESERVE: public(immutable(address))
VERIFIER: public(immutable(IRevenueVerifier))
FUND: public(immutable(address))
PREMIUM_BPS: public(immutable(uint256))
START: public(immutable(uint256))
PERIOD: public(immutable(uint256))

guardian: public(address)
_config: uint256
# every payout address the listing had before the current one
former_payout: public(HashMap[address, bool])
# what failed transfers left here, owed to their party
owed_to_merchant: public(uint256)
undelivered_holder_share: public(uint256)
owed_to_fund: public(uint256)

_periods: HashMap[uint256, uint256]
# finished pauses, oldest first: (start << 128) | end; and the running one's start
_pauses: HashMap[uint256, uint256]
pause_count: public(uint256)
paused_since: public(uint256)


@deploy
def __init__(
    settlement: IERC20,
    parties: Parties,
    share_bps_: uint256,
    premium_bps: uint256,
    period: uint256,
    owner_: address,
    guardian_: address,
):
    """
    @notice Creates the router of one listing.
    @param settlement The token customers pay in (at most 18 decimals).
    @param parties The holders' distributor (`RevenueStaking`), the merchant,
           its payout address (gets the merchant part of every payment), its
           `MerchantVesting`, the reserve and the revenue verifier.
    @param share_bps_ The holders' share in basis points (100..3000).
    @param period The performance period length in seconds (> 0).
    @param owner_ The admin of the setters (the governance timelock).
    @param guardian_ May pause `pay`; may be the zero address (none).
    """
    assert settlement.address != empty(address), "router: settlement is the zero address"
    assert parties.staking != empty(address), "router: staking is the zero address"
    assert parties.merchant != empty(address), "router: merchant is the zero address"
    assert parties.payout != empty(address), "router: payout is the zero address"
    assert parties.vesting != empty(address), "router: vesting is the zero address"
    assert parties.reserve != empty(address), "router: reserve is the zero address"
    assert parties.verifier.address != empty(address), "router: verifier is the zero address"
    assert parties.fund != empty(address), "router: fund is the zero address"
    assert premium_bps <= c.MAX_PREMIUM_BPS, "router: premium_bps out of bounds"
    assert owner_ != empty(address), "router: owner is the zero address"
    assert period != 0, "router: zero period"
    self._check_share_bps(share_bps_)

    ownable.__init__()
    ownable._transfer_ownership(owner_)
    pausable.__init__()

    SETTLEMENT = settlement
    STAKING = parties.staking
    MERCHANT = parties.merchant
    VESTING = parties.vesting
    RESERVE = parties.reserve
    VERIFIER = parties.verifier
    FUND = parties.fund
    PREMIUM_BPS = premium_bps
    START = block.timestamp
    PERIOD = period
    self._config = (share_bps_ << 160) | convert(parties.payout, uint256)
    self.guardian = guardian_


@external
@nonreentrant
def pay(order_id: bytes32, amount: uint256):
    """
    @notice Pays `amount` of the settlement token for order `order_id`. The
            holders' share goes to the staking distributor, the premium to
            the protection fund, the rest to the merchant's payout address;
            a part whose transfer fails is taken by the router and owed. The
            payer must have approved this router for `amount`. A payment by
            an insider is split the same way but is not counted revenue.
    @param order_id The merchant's order reference (emitted, not checked).
    @param amount The gross amount, in settlement token units.
    """
    pausable._require_not_paused()
    assert amount != 0, "router: zero amount"

    config: uint256 = self._config
    payout: address = convert(convert(config & ADDRESS_MASK, uint160), address)
    holder: uint256 = amount * ((config >> 160) & 65535) // c.BPS
    premium: uint256 = amount * PREMIUM_BPS // c.BPS
    merchant: uint256 = amount - holder - premium

    counted: bool = not self._is_insider(msg.sender, payout, config)
    if counted:
        index: uint256 = (block.timestamp - START) // PERIOD
        slot: uint256 = self._periods[index]
        if slot == 0:
            cap: uint256 = staticcall VERIFIER.verified_cap(MERCHANT, START + index * PERIOD)
            slot = (min(cap, HALF_MASK - 1) + 1) << 128
        assert (slot & HALF_MASK) + amount <= HALF_MASK, "router: period revenue overflow"
        self._periods[index] = slot + amount

    if config & DEBT_FLAG != 0:
        self._deliver_debts()
    if holder != 0:
        if self._pull(msg.sender, STAKING, holder):
            extcall IRevenueStaking(STAKING).notify_revenue(holder)
        else:
            self.undelivered_holder_share += self._take(msg.sender, STAKING, holder)
    if premium != 0 and not self._pull(msg.sender, FUND, premium):
        self.owed_to_fund += self._take(msg.sender, FUND, premium)
    if not self._pull(msg.sender, payout, merchant):
        self.owed_to_merchant += self._take(msg.sender, MERCHANT, merchant)

    log Payment(
        order_id=order_id, payer=msg.sender, gross=amount, holder_share=holder, premium=premium, counted=counted
    )


@external
@nonreentrant
def withdraw_owed(to: address) -> uint256:
    """
    @notice The merchant takes the merchant part that could not be sent to
            its payout address, to any address it names. Merchant only.
    @param to The recipient, not the zero address.
    @return The amount sent.
    """
    assert msg.sender == MERCHANT, "router: caller is not the merchant"
    assert to != empty(address), "router: recipient is the zero address"
    amount: uint256 = self.owed_to_merchant
    assert amount != 0, "router: nothing owed"
    self.owed_to_merchant = 0
    assert self._push(to, amount), "router: transfer failed"
    log OwedWithdrawn(to=to, amount=amount)
    return amount


@external
@nonreentrant
def deliver():
    """
    @notice Sends the holder share and the premium waiting here to the
            staking distributor and the protection fund (anyone; `pay` does
            it too). Reverts if nothing is waiting or nothing could be sent.
    """
    assert self._config & DEBT_FLAG != 0, "router: nothing to deliver"
    assert self._deliver_debts(), "router: nothing could be delivered"


@external
@view
def is_insider(account: address) -> bool:
    """
    @notice Whether `account` is an insider of this listing (the merchant,
            its payout address now or before, its vesting contract or the
            reserve).
    """
    return self._is_insider(account, self._payout(), self._config)


@external
@view
def counted(period: uint256) -> uint256:
    """
    @notice Counted revenue of `period`: non-insider gross, capped by the
            verified cap in force at the period's start. Final once the
            period has finished.
    @param period A period index (0 starts at listing).
    """
    return self._counted(period)


@external
@view
def period_gross(period: uint256) -> uint256:
    """
    @notice Gross paid in `period` by non-insiders (before the cap).
    @param period A period index.
    """
    return self._periods[period] & HALF_MASK


@external
@view
def period_cap(period: uint256) -> uint256:
    """
    @notice The verified cap of `period` as read at its first counted
            payment (0 before any).
    @param period A period index.
    """
    slot: uint256 = self._periods[period]
    if slot == 0:
        return 0
    return (slot >> 128) - 1


@external
@view
def trailing_counted(periods: uint256) -> uint256:
    """
    @notice Counted revenue of the last `periods` finished periods.
    @param periods How many, 1..12 and at most the periods finished.
    """
    current: uint256 = (block.timestamp - START) // PERIOD
    assert periods != 0 and periods <= c.MAX_TRAILING_PERIODS, "router: periods out of bounds"
    assert periods <= current, "router: fewer periods finished"
    total: uint256 = 0
    for i: uint256 in range(c.MAX_TRAILING_PERIODS):
        if i == periods:
            break
        total += self._counted(current - 1 - i)
    return total


@external
@view
def unpaused_time(period: uint256) -> uint256:
    """
    @notice Seconds of `period` during which payments were not paused.
    @param period A period index.
    """
    start: uint256 = START + period * PERIOD
    end: uint256 = start + PERIOD
    paused: uint256 = 0
    since: uint256 = self.paused_since
    if since != 0 and since < end:
        paused = end - max(since, start)
    count: uint256 = self.pause_count
    for i: uint256 in range(MAX_PAUSES_PER_PERIOD):
        if i == count:
            break
        interval: uint256 = self._pauses[count - 1 - i]
        finished: uint256 = interval & HALF_MASK
        if finished <= start:
            break
        began: uint256 = interval >> 128
        if began < end:
            paused += min(finished, end) - max(began, start)
    return PERIOD - min(paused, PERIOD)


@external
@view
def current_period() -> uint256:
    """
    @notice Index of the performance period that contains this block
            (period 0 starts at deployment).
    """
    return (block.timestamp - START) // PERIOD


@external
def set_share_bps(new_share_bps: uint256):
    """
    @notice Sets the holders' share of every payment. Admin only (timelock).
    @param new_share_bps Basis points, 100..3000.
    """
    ownable._check_owner()
    self._check_share_bps(new_share_bps)
    config: uint256 = self._config
    log ShareChanged(old_share_bps=(config >> 160) & 65535, new_share_bps=new_share_bps)
    self._config = (config & ~(65535 << 160)) | (new_share_bps << 160)


@external
def set_payout(new_payout: address):
    """
    @notice Changes where the merchant part of every payment goes (e.g.
            away from a blacklisted address). Admin only (timelock). The old
            payout address stays an insider, and the new one becomes one
            here and in the staking distributor.
    @param new_payout The new payout address: not zero, not the current one.
    """
    ownable._check_owner()
    assert new_payout != empty(address), "router: payout is the zero address"
    old: address = self._payout()
    assert new_payout != old, "router: payout unchanged"
    self.former_payout[old] = True
    self._config = (self._config & ~ADDRESS_MASK) | convert(new_payout, uint256) | FORMER_FLAG
    extcall IRevenueStaking(STAKING).add_insider(new_payout)
    log PayoutChanged(old_payout=old, new_payout=new_payout)


@external
@view
def share_bps() -> uint256:
    """
    @notice The holders' share of every payment, bps.
    """
    return (self._config >> 160) & 65535


@external
@view
def payout() -> address:
    """
    @notice Where the merchant part of every payment goes now.
    """
    return self._payout()


@external
def set_guardian(new_guardian: address):
    """
    @notice Sets the address that may pause payments. Admin only. The zero
            address removes the guardian.
    @param new_guardian The new guardian.
    """
    ownable._check_owner()
    log GuardianChanged(old_guardian=self.guardian, new_guardian=new_guardian)
    self.guardian = new_guardian


@external
def pause():
    """
    @notice Stops `pay`. The guardian or the admin. The paused time does not
            count against the merchant's target.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "router: caller is not the guardian"
    pausable._pause()
    self.paused_since = block.timestamp


@external
def unpause():
    """
    @notice Resumes `pay`. Admin only (timelocked), never the guardian.
    """
    ownable._check_owner()
    pausable._unpause()
    count: uint256 = self.pause_count
    self._pauses[count] = (self.paused_since << 128) | block.timestamp
    self.pause_count = count + 1
    self.paused_since = 0


@internal
@view
def _payout() -> address:
    return convert(convert(self._config & ADDRESS_MASK, uint160), address)


@internal
@view
def _is_insider(account: address, payout: address, config: uint256) -> bool:
    if account == MERCHANT or account == payout or account == VESTING or account == RESERVE:
        return True
    return config & FORMER_FLAG != 0 and self.former_payout[account]


@internal
def _pull(payer: address, to: address, amount: uint256) -> bool:
    return transfers._try_transfer_from(SETTLEMENT, payer, to, amount)


@internal
def _push(to: address, amount: uint256) -> bool:
    return transfers._try_transfer(SETTLEMENT, to, amount)


@internal
def _take(payer: address, party: address, amount: uint256) -> uint256:
    """
    @notice Takes `amount` from the payer into the router for `party`, whose
            own transfer failed; returns what arrived. Only a payer that
            cannot pay at all makes the payment revert.
    """
    before: uint256 = staticcall SETTLEMENT.balanceOf(self)
    assert self._pull(payer, self, amount), "router: payment transfer failed"
    received: uint256 = staticcall SETTLEMENT.balanceOf(self) - before
    if party != MERCHANT:
        self._config |= DEBT_FLAG
    log Owed(party=party, amount=received)
    return received


@internal
def _deliver_debts() -> bool:
    """
    @notice Tries to send the waiting holder share and premium; clears the
            debt flag once nothing waits. Whether anything was sent.
    """
    sent: bool = False
    share: uint256 = self.undelivered_holder_share
    if share != 0 and self._push(STAKING, share):
        self.undelivered_holder_share = 0
        extcall IRevenueStaking(STAKING).notify_revenue(share)
        log Delivered(party=STAKING, amount=share)
        share = 0
        sent = True
    premium: uint256 = self.owed_to_fund
    if premium != 0 and self._push(FUND, premium):
        self.owed_to_fund = 0
        log Delivered(party=FUND, amount=premium)
        premium = 0
        sent = True
    if share == 0 and premium == 0:
        self._config &= ~DEBT_FLAG
    return sent


@internal
@view
def _counted(period: uint256) -> uint256:
    slot: uint256 = self._periods[period]
    if slot == 0:
        return 0
    return min(slot & HALF_MASK, (slot >> 128) - 1)


@internal
@pure
def _check_share_bps(bps: uint256):
    assert bps >= c.MIN_SHARE_BPS and bps <= c.MAX_SHARE_BPS, "router: share_bps out of bounds"
