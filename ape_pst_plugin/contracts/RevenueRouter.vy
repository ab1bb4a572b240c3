# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST revenue router
@custom:contract-name RevenueRouter
@license GNU Affero General Public License v3.0 only
@notice Customers pay a listed merchant through this contract. Every payment
        is split on chain: `gross * share_bps // 10_000` goes to the holders'
        staking distributor, the rest to the merchant's payout address, so
        revenue cannot be under-reported. The router also keeps the listing's
        earnings record for the PE oracle (cumulative counters plus one
        checkpoint per day in a ring buffer) and the gross revenue per
        performance period for the credit-risk assessment.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import pausable

initializes: ownable
initializes: pausable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
)


interface IRevenueStaking:
    def notify_revenue(amount: uint256): nonpayable


event Payment:
    order_id: indexed(bytes32)
    payer: indexed(address)
    gross: uint256
    holder_share: uint256

event ShareChanged:
    old_share_bps: uint256
    new_share_bps: uint256

event GuardianChanged:
    old_guardian: indexed(address)
    new_guardian: indexed(address)


BPS: constant(uint256) = 10_000
MIN_SHARE_BPS: constant(uint256) = 100
MAX_SHARE_BPS: constant(uint256) = 3_000
DAY: constant(uint256) = 86_400
# The longest trailing window the router answers for; the ring holds one
# checkpoint per distinct payment day, and a window that starts part-way
# through a day touches 366 days, hence 366 slots.
MAX_WINDOW: constant(uint256) = 365 * DAY
RING_SIZE: constant(uint256) = 366
# A checkpoint packs the day (high 64 bits) and the cumulative holder revenue
# before that day's first payment (low 192 bits) into one storage slot.
CUM_BITS: constant(uint256) = 192
CUM_MASK: constant(uint256) = (1 << CUM_BITS) - 1
# The cumulative counters pack gross (high 128) and holder (low 128) revenue.
HALF_MASK: constant(uint256) = (1 << 128) - 1
DAY_MASK: constant(uint256) = (1 << 64) - 1


SETTLEMENT: public(immutable(IERC20))
STAKING: public(immutable(address))
MERCHANT_PAYOUT: public(immutable(address))
START: public(immutable(uint256))
PERIOD: public(immutable(uint256))

share_bps: public(uint256)
guardian: public(address)
period_gross: public(HashMap[uint256, uint256])

_cumulative: uint256
# (checkpoint count << 64) | day of the newest checkpoint
_head: uint256
_checkpoints: HashMap[uint256, uint256]


@deploy
def __init__(
    settlement: IERC20,
    staking: address,
    merchant_payout: address,
    share_bps_: uint256,
    period: uint256,
    owner_: address,
    guardian_: address,
):
    """
    @notice Creates the router of one listing.
    @param settlement The token customers pay in (at most 18 decimals).
    @param staking The holders' distributor (`RevenueStaking`).
    @param merchant_payout Receives the merchant's part of every payment.
    @param share_bps_ The holders' share in basis points (100..3000).
    @param period The performance period length in seconds (> 0).
    @param owner_ The admin of the setters (the governance timelock).
    @param guardian_ May pause `pay`; may be the zero address (none).
    """
    assert settlement.address != empty(address), "router: settlement is the zero address"
    assert staking != empty(address), "router: staking is the zero address"
    assert merchant_payout != empty(address), "router: payout is the zero address"
    assert owner_ != empty(address), "router: owner is the zero address"
    assert period != 0, "router: zero period"
    self._check_share_bps(share_bps_)

    ownable.__init__()
    ownable._transfer_ownership(owner_)
    pausable.__init__()

    SETTLEMENT = settlement
    STAKING = staking
    MERCHANT_PAYOUT = merchant_payout
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
            merchant. The payer must have approved this router.
    @param order_id The merchant's order reference (emitted, not checked).
    @param amount The gross amount, in settlement token units.
    """
    pausable._require_not_paused()
    assert amount != 0, "router: zero amount"

    holder: uint256 = amount * self.share_bps // BPS
    merchant: uint256 = amount - holder

    cumulative: uint256 = self._cumulative
    cum_holder: uint256 = cumulative & HALF_MASK
    new_holder: uint256 = cum_holder + holder
    new_gross: uint256 = (cumulative >> 128) + amount
    assert new_gross <= HALF_MASK, "router: cumulative revenue overflow"
    self._cumulative = (new_gross << 128) | new_holder
    self._checkpoint(cum_holder)
    index: uint256 = (block.timestamp - START) // PERIOD
    self.period_gross[index] += amount

    if holder != 0:
        assert extcall SETTLEMENT.transferFrom(msg.sender, STAKING, holder, default_return_value=True), "router: transfer failed"
        extcall IRevenueStaking(STAKING).notify_revenue(holder)
    assert extcall SETTLEMENT.transferFrom(msg.sender, MERCHANT_PAYOUT, merchant, default_return_value=True), "router: transfer failed"

    log Payment(order_id=order_id, payer=msg.sender, gross=amount, holder_share=holder)


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
    @notice All gross revenue ever paid through this router.
    """
    return self._cumulative >> 128


@external
@view
def trailing_holder_revenue(window: uint256) -> uint256:
    """
    @notice Holder shares of the payments made on the days that overlap the
            last `window` seconds: every payment whose day
            (`timestamp // 86400`) is at or after the day of
            `block.timestamp - window`.
    @param window Seconds to look back, 1..365 days.
    @return The trailing holder revenue in settlement token units.
    """
    assert window != 0, "router: zero window"
    assert window <= MAX_WINDOW, "router: window longer than 365 days"
    start: uint256 = 0
    if window < block.timestamp:
        start = block.timestamp - window
    total: uint256 = self._cumulative & HALF_MASK
    return total - self._cumulative_before(start // DAY, total)


@external
@view
def current_period() -> uint256:
    """
    @notice Index of the performance period that contains this block
            (period 0 starts at deployment).
    """
    return (block.timestamp - START) // PERIOD


@external
@view
def checkpoint_count() -> uint256:
    """
    @notice How many daily checkpoints were ever written.
    """
    return self._head >> 64


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
    @notice Stops `pay`. The guardian or the admin.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "router: caller is not the guardian"
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes `pay`. Admin only (timelocked), never the guardian.
    """
    ownable._check_owner()
    pausable._unpause()


@internal
@pure
def _check_share_bps(bps: uint256):
    assert bps >= MIN_SHARE_BPS and bps <= MAX_SHARE_BPS, "router: share_bps out of bounds"


@internal
def _checkpoint(cum_before: uint256):
    # One checkpoint per distinct payment day, written by the day's first payment.
    head: uint256 = self._head
    day: uint256 = block.timestamp // DAY
    count: uint256 = head >> 64
    if count != 0 and (head & DAY_MASK) == day:
        return
    self._checkpoints[count % RING_SIZE] = (day << CUM_BITS) | cum_before
    self._head = ((count + 1) << 64) | day


@internal
@view
def _cumulative_before(start_day: uint256, total: uint256) -> uint256:
    # Holder revenue paid before `start_day`: the value stored by the first
    # checkpoint on or after that day (checkpoint days strictly increase), or
    # everything when no payment came since. Binary search over the ring.
    count: uint256 = self._head >> 64
    if count == 0:
        return 0
    lo: uint256 = 0
    if count > RING_SIZE:
        lo = count - RING_SIZE
    hi: uint256 = count
    for _: uint256 in range(10):  # 2**10 > RING_SIZE
        if lo >= hi:
            break
        mid: uint256 = (lo + hi) // 2
        if (self._checkpoints[mid % RING_SIZE] >> CUM_BITS) >= start_day:
            hi = mid
        else:
            lo = mid + 1
    if lo == count:
        return total
    return self._checkpoints[lo % RING_SIZE] & CUM_MASK
