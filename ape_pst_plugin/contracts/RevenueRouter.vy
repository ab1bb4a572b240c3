# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST revenue router
@custom:contract-name RevenueRouter
@license GNU Affero General Public License v3.0 only
@notice Customers pay a listed merchant through this contract. Every payment
        is split on chain: `gross * share_bps // 10_000` goes to the holders'
        staking distributor, the rest to the merchant's payout address, so
        revenue cannot be under-reported. The router also keeps the
        listing's counted revenue per 30-day period, the only revenue the
        oracle (EPS) and the credit assessment (targets) look at:
        `counted[p] = min(gross paid in p by non-insiders, verified_cap[p])`,
        the cap being the one in force at the start of `p` (read from the
        revenue verifier at the period's first counted payment). Insiders
        (the merchant, its payout address, its vesting contract, the
        reserve) pay like anyone else and count nothing. The router records
        the time payments were paused, which pro-rates a period's target.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import pausable

from modules import constants as c
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


struct Parties:
    staking: address
    merchant: address
    payout: address
    vesting: address
    reserve: address
    verifier: IRevenueVerifier


event Payment:
    order_id: indexed(bytes32)
    payer: indexed(address)
    gross: uint256
    holder_share: uint256
    counted: bool


event ShareChanged:
    old_share_bps: uint256
    new_share_bps: uint256


event GuardianChanged:
    old_guardian: indexed(address)
    new_guardian: indexed(address)


# A period slot packs (verified cap + 1) << 128 | non-insider gross; 0: no
# counted payment yet (the cap is read at the first one).
HALF_MASK: constant(uint256) = (1 << 128) - 1
# The most pauses `unpaused_time` looks back over for one period.
MAX_PAUSES_PER_PERIOD: constant(uint256) = 64

SETTLEMENT: public(immutable(IERC20))
STAKING: public(immutable(address))
MERCHANT: public(immutable(address))
MERCHANT_PAYOUT: public(immutable(address))
VESTING: public(immutable(address))
RESERVE: public(immutable(address))
VERIFIER: public(immutable(IRevenueVerifier))
START: public(immutable(uint256))
PERIOD: public(immutable(uint256))

share_bps: public(uint256)
guardian: public(address)

# (gross << 128) | holder share, of every payment ever
_cumulative: uint256
_periods: HashMap[uint256, uint256]
# finished pauses, oldest first: (start << 128) | end; and the running one's start
_pauses: HashMap[uint256, uint256]
pause_count: public(uint256)
paused_since: public(uint256)


@deploy
def __init__(
    settlement: IERC20, parties: Parties, share_bps_: uint256, period: uint256, owner_: address, guardian_: address
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
    assert owner_ != empty(address), "router: owner is the zero address"
    assert period != 0, "router: zero period"
    self._check_share_bps(share_bps_)

    ownable.__init__()
    ownable._transfer_ownership(owner_)
    pausable.__init__()

    SETTLEMENT = settlement
    STAKING = parties.staking
    MERCHANT = parties.merchant
    MERCHANT_PAYOUT = parties.payout
    VESTING = parties.vesting
    RESERVE = parties.reserve
    VERIFIER = parties.verifier
    START = block.timestamp
    PERIOD = period
    self.share_bps = share_bps_
    self.guardian = guardian_


@external
@nonreentrant
def pay(order_id: bytes32, amount: uint256):
    """
    @notice Pays `amount` of the settlement token for order `order_id`. The
            holders' share goes to the staking distributor, the rest to the
            merchant. The payer must have approved this router. A payment by
            an insider is split the same way but is not counted revenue.
    @param order_id The merchant's order reference (emitted, not checked).
    @param amount The gross amount, in settlement token units.
    """
    pausable._require_not_paused()
    assert amount != 0, "router: zero amount"

    holder: uint256 = amount * self.share_bps // c.BPS
    merchant: uint256 = amount - holder

    cumulative: uint256 = self._cumulative
    new_gross: uint256 = (cumulative >> 128) + amount
    assert new_gross <= HALF_MASK, "router: cumulative revenue overflow"
    self._cumulative = (new_gross << 128) | ((cumulative & HALF_MASK) + holder)

    counted: bool = not self._is_insider(msg.sender)
    if counted:
        index: uint256 = (block.timestamp - START) // PERIOD
        slot: uint256 = self._periods[index]
        if slot == 0:
            cap: uint256 = staticcall VERIFIER.verified_cap(MERCHANT, START + index * PERIOD)
            slot = (min(cap, HALF_MASK - 1) + 1) << 128
        self._periods[index] = slot + amount

    if holder != 0:
        assert extcall SETTLEMENT.transferFrom(
            msg.sender, STAKING, holder, default_return_value=True
        ), "router: transfer failed"
        extcall IRevenueStaking(STAKING).notify_revenue(holder)
    assert extcall SETTLEMENT.transferFrom(
        msg.sender, MERCHANT_PAYOUT, merchant, default_return_value=True
    ), "router: transfer failed"

    log Payment(order_id=order_id, payer=msg.sender, gross=amount, holder_share=holder, counted=counted)


@external
@view
def is_insider(account: address) -> bool:
    """
    @notice Whether `account` is an insider of this listing (the merchant,
            its payout address, its vesting contract or the reserve).
    """
    return self._is_insider(account)


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
def cumulative_holder_revenue() -> uint256:
    """
    @notice All holder shares ever paid through this router.
    """
    return self._cumulative & HALF_MASK


@external
@view
def cumulative_gross_revenue() -> uint256:
    """
    @notice All gross revenue ever paid through this router (insiders included).
    """
    return self._cumulative >> 128


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
    log ShareChanged(old_share_bps=self.share_bps, new_share_bps=new_share_bps)
    self.share_bps = new_share_bps


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
def _is_insider(account: address) -> bool:
    return account == MERCHANT or account == MERCHANT_PAYOUT or account == VESTING or account == RESERVE


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
