# pragma version ~=0.4.3
"""
@title Credit risk: the merchant's performance stake and the listing's status
@custom:contract-name credit
@license GNU Affero General Public License v3.0 only
@notice `assess()` judges each finished period once, in order: met iff the
        router's counted revenue (non-insider gross capped by verified
        revenue) reaches the period's target, pro rata to the time payments
        were not paused. A miss slashes `SLASH_BPS` of the remaining stake to
        the stakers and makes the listing `LATE` (recording the TWAP as its
        reference price, reported to the protection fund for its stress
        breaker); `MAX_MISSES` in a row default it for good: the rest of the
        stake is held for the fund, which pulls it when it opens the
        listing's pot, and the merchant's and payout's tokens are frozen.
        Compensation the staking distributor cannot receive (the token
        refuses) is owed to it and sent at the next miss or by
        `deliver_compensation`; a refusing token never makes `assess()`
        revert. The target of a
        period is the one in force when it began. The listing-time stake is
        never withdrawable; stake above the floor is, only while `ACTIVE`
        with every finished period assessed.
"""

from ethereum.ercs import IERC20
from snekmate.utils import math

from . import constants as c
from . import reserve_base as base
from . import transfers

uses: base


interface IRevenueStaking:
    def notify_revenue(amount: uint256): nonpayable
    def total_staked() -> uint256: view


interface IListingToken:
    def freeze(account: address): nonpayable


interface IRouterPayout:
    def payout() -> address: view


event Assessed:
    period: indexed(uint256)
    counted: uint256
    due: uint256
    slashed: uint256
    misses: uint256
    status: uint256


event Defaulted:
    period: indexed(uint256)
    held_for_fund: uint256


event Waived:
    period: indexed(uint256)


event ReleasedToFund:
    amount: uint256


event CompensationOwed:
    amount: uint256
    owed: uint256


event StakeWithdrawn:
    amount: uint256


event StakeToppedUp:
    amount: uint256


event RevenueTargetChanged:
    revenue_target: uint256
    from_period: uint256


LISTING_STAKE: public(immutable(uint256))
STAKE_BPS: public(immutable(uint256))

stake: public(uint256)
status: public(uint256)
consecutive_misses: public(uint256)
next_period: public(uint256)
reference_price: public(uint256)
defaulted_at: public(uint256)
held_for_fund: public(uint256)
# slashed stake the staking distributor could not receive yet
owed_to_stakers: public(uint256)
waived: public(HashMap[uint256, bool])

# revenue target history, oldest first: (from_period << 128) | target
_targets: HashMap[uint256, uint256]
_target_count: uint256

HALF: constant(uint256) = (1 << 128) - 1


@deploy
def __init__(stake_: uint256, stake_bps: uint256, revenue_target_: uint256):
    """
    @notice Starts `ACTIVE` with the listing-time stake and the first target.
    @param stake_ The listing-time stake, settlement units (the factory
           transfers it right after deployment).
    @param stake_bps The stake's share of the market cap, bps (the floor).
    @param revenue_target_ Gross revenue per period the merchant commits to.
    """
    assert revenue_target_ <= HALF, "reserve: revenue target out of range"
    LISTING_STAKE = stake_
    STAKE_BPS = stake_bps
    self.stake = stake_
    self._targets[0] = revenue_target_
    self._target_count = 1


@internal
@view
def _free_balance() -> uint256:
    """
    @notice Settlement the stabiliser may spend: the balance less the
            stake, what is held for the protection fund and what is owed to
            the stakers.
    """
    balance: uint256 = staticcall base.SETTLEMENT.balanceOf(self)
    locked: uint256 = self.stake + self.held_for_fund + self.owed_to_stakers
    if balance <= locked:
        return 0
    return balance - locked


@internal
@view
def _target_of(period: uint256) -> uint256:
    """
    @notice The target in force when `period` began: the newest record whose
            `from_period` is at or before it (binary search).
    """
    lo: uint256 = 0
    hi: uint256 = self._target_count - 1
    for _: uint256 in range(64):
        if lo >= hi:
            break
        mid: uint256 = (lo + hi + 1) // 2
        if self._targets[mid] >> 128 <= period:
            lo = mid
        else:
            hi = mid - 1
    return self._targets[lo] & HALF


@internal
def _set_revenue_target(revenue_target_: uint256):
    """
    @notice A new target from the next period on; periods that began keep theirs.
    """
    assert revenue_target_ <= HALF, "reserve: revenue target out of range"
    start: uint256 = staticcall base.ROUTER.current_period() + 1
    count: uint256 = self._target_count
    if self._targets[count - 1] >> 128 == start:
        count -= 1
    self._targets[count] = (start << 128) | revenue_target_
    self._target_count = count + 1
    log RevenueTargetChanged(revenue_target=revenue_target_, from_period=start)


@internal
def _assess() -> uint256:
    """
    @notice Judges the oldest finished, unassessed period. Returns the
            amount slashed to the stakers.
    """
    status: uint256 = self.status
    assert status != c.DEFAULTED, "reserve: listing defaulted"
    period: uint256 = self.next_period
    if period >= staticcall base.ROUTER.current_period():
        assert period != 0, "reserve: period not finished"
        raise "reserve: period already assessed"
    self.next_period = period + 1
    if self.waived[period]:
        log Assessed(period=period, counted=0, due=0, slashed=0, misses=self.consecutive_misses, status=status)
        return 0
    counted: uint256 = staticcall base.ROUTER.counted(period)
    due: uint256 = self._target_of(period) * staticcall base.ROUTER.unpaused_time(period) // c.PERIOD
    if counted >= due:
        self.consecutive_misses = 0
        self.status = c.ACTIVE
        if status == c.LATE:
            extcall base.FUND.report_late(0)
        log Assessed(period=period, counted=counted, due=due, slashed=0, misses=0, status=c.ACTIVE)
        return 0
    misses: uint256 = self.consecutive_misses + 1
    self.consecutive_misses = misses
    if status == c.ACTIVE:
        reference: uint256 = staticcall base.ORACLE.twap_snapshot()
        self.reference_price = reference
        if misses < c.MAX_MISSES:
            extcall base.FUND.report_late(reference)
    remaining: uint256 = self.stake
    slashed: uint256 = remaining * c.SLASH_BPS // c.BPS
    remaining -= slashed
    status = c.LATE
    if misses >= c.MAX_MISSES:
        status = c.DEFAULTED
        self.defaulted_at = block.timestamp
        self.held_for_fund += remaining
        remaining = 0
    self.stake = remaining
    self.status = status
    self._compensate_stakers(slashed)
    log Assessed(period=period, counted=counted, due=due, slashed=slashed, misses=misses, status=status)
    if status == c.DEFAULTED:
        # the underwriting agent's bond is slashed for the listing's pot
        extcall base.VERIFIER.report_default(base.MERCHANT)
        # insiders' tokens stay where they are: the pot covers the rest
        extcall IListingToken(base.TOKEN.address).freeze(base.MERCHANT)
        payout: address = staticcall IRouterPayout(base.ROUTER.address).payout()
        if payout != base.MERCHANT:
            extcall IListingToken(base.TOKEN.address).freeze(payout)
        log Defaulted(period=period, held_for_fund=self.held_for_fund)
        # the fund pulls the held stake and opens the pot; if it cannot now
        # (paused, the token refuses), anyone opens it later with `open_pot`
        success: bool = raw_call(base.FUND.address, method_id("report_default()"), revert_on_failure=False)
    return slashed


@internal
def _compensate_stakers(amount: uint256):
    # With nobody staked the compensation stays here as free balance. What
    # the distributor cannot receive now is owed and sent with the next one.
    if staticcall IRevenueStaking(base.STAKING).total_staked() == 0:
        return
    total: uint256 = self.owed_to_stakers + amount
    if total == 0:
        return
    if transfers._try_transfer(base.SETTLEMENT, base.STAKING, total):
        self.owed_to_stakers = 0
        extcall IRevenueStaking(base.STAKING).notify_revenue(total)
    else:
        self.owed_to_stakers = total
        log CompensationOwed(amount=amount, owed=total)


@internal
def _deliver_compensation():
    assert self.owed_to_stakers != 0, "reserve: nothing owed to stakers"
    assert staticcall IRevenueStaking(base.STAKING).total_staked() != 0, "reserve: nobody staked"
    total: uint256 = self.owed_to_stakers
    self.owed_to_stakers = 0
    base._send(base.SETTLEMENT, base.STAKING, total)
    extcall IRevenueStaking(base.STAKING).notify_revenue(total)


@internal
def _release_to_fund() -> uint256:
    """
    @notice Sends what is held for the fund to the fund (the fund calls
            this when it opens the pot).
    """
    assert msg.sender == base.FUND.address, "reserve: caller is not the fund"
    amount: uint256 = self.held_for_fund
    self.held_for_fund = 0
    if amount != 0:
        base._send(base.SETTLEMENT, base.FUND.address, amount)
    log ReleasedToFund(amount=amount)
    return amount


@internal
def _waive(period: uint256):
    """
    @notice Force majeure: `period` counts neither as met nor as missed.
    """
    assert period >= self.next_period, "reserve: period already assessed"
    self.waived[period] = True
    log Waived(period=period)


@internal
@view
def _required_stake() -> uint256:
    """
    @notice `STAKE_BPS` of the market cap at the TWAP, settlement units.
    """
    market_cap: uint256 = math._mul_div(
        staticcall base.ORACLE.twap_price(), staticcall base.TOKEN.totalSupply(), c.WAD, False
    )
    return market_cap * STAKE_BPS // c.BPS // base.SETTLEMENT_SCALE


@internal
@view
def _stake_floor() -> uint256:
    """
    @notice The least stake the merchant must keep: the listing-time stake,
            or more if the TWAP market cap asks for more.
    """
    return max(LISTING_STAKE, self._required_stake())


@internal
def _withdraw_excess_stake(amount: uint256):
    assert msg.sender == base.MERCHANT, "reserve: caller is not the merchant"
    assert amount != 0, "reserve: zero amount"
    assert self.status == c.ACTIVE, "reserve: listing is not active"
    assert self.next_period == staticcall base.ROUTER.current_period(), "reserve: a finished period is not assessed yet"
    remaining: uint256 = self.stake
    assert (
        amount <= remaining and remaining - amount >= self._stake_floor()
    ), "reserve: stake would fall below the floor"
    self.stake = remaining - amount
    base._send(base.SETTLEMENT, base.MERCHANT, amount)
    log StakeWithdrawn(amount=amount)


@internal
def _top_up_stake(amount: uint256):
    assert msg.sender == base.MERCHANT, "reserve: caller is not the merchant"
    assert amount != 0, "reserve: zero amount"
    assert self.status != c.DEFAULTED, "reserve: listing defaulted"
    before: uint256 = staticcall base.SETTLEMENT.balanceOf(self)
    assert extcall base.SETTLEMENT.transferFrom(
        msg.sender, self, amount, default_return_value=True
    ), "reserve: transfer failed"
    received: uint256 = staticcall base.SETTLEMENT.balanceOf(self) - before
    self.stake += received
    log StakeToppedUp(amount=received)
