# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title ALAR: Automated Liquidity Assurance Reserve
@custom:contract-name Reserve
@license GNU Affero General Public License v3.0 only
@notice One listing's reserve. It holds
        - the merchant's performance stake (settlement token, locked): a
          missed revenue target slashes `SLASH_BPS` of it to the stakers;
          `MAX_MISSES` misses in a row default the listing and hand the rest
          to the stakers;
        - its free settlement balance (inflows, sale proceeds, treasury) and
          its token inventory, which the stabiliser trades on the listing's
          Uniswap V2 pair: below `pe_low` (TWAP PE) it buys tokens, moving the
          spot price up to `P_low = pe_low * EPS`; above `pe_high` it sells
          inventory down to `P_high`. The trade size solves the constant
          product with the 0.3% fee for the target price, capped by the
          epoch's capacity and by what the reserve holds; the stake is never
          spent.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import math
from snekmate.utils import pausable

from interfaces import IUniswapV2Pair
from interfaces import IRevenueRouter
from interfaces import IPEOracle

initializes: ownable
initializes: pausable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
    pausable.paused,
)


interface IRevenueStaking:
    def notify_revenue(amount: uint256): nonpayable
    def total_staked() -> uint256: view


event Bought:
    spent: uint256
    received: uint256
    pe: uint256
    target_price: uint256
    spot_after: uint256

event Sold:
    sold: uint256
    received: uint256
    pe: uint256
    target_price: uint256
    spot_after: uint256

event Assessed:
    period: indexed(uint256)
    gross: uint256
    target: uint256
    slashed: uint256
    misses: uint256

event Defaulted:
    period: indexed(uint256)
    compensation: uint256

event StakeWithdrawn:
    amount: uint256

event TreasuryWithdrawal:
    to: indexed(address)
    amount: uint256

event BandChanged:
    pe_low: uint256
    pe_high: uint256

event LimitsChanged:
    capacity_bps: uint256
    cooldown: uint256
    max_slippage_bps: uint256

event RevenueTargetChanged:
    revenue_target: uint256

event GuardianChanged:
    guardian: indexed(address)


WAD: constant(uint256) = 10**18
BPS: constant(uint256) = 10_000
EPOCH: constant(uint256) = 86_400
MIN_PE: constant(uint256) = 10**18
MAX_PE: constant(uint256) = 100 * 10**18
MAX_CAPACITY_BPS: constant(uint256) = 2_500
MIN_COOLDOWN: constant(uint256) = 600
MAX_COOLDOWN: constant(uint256) = 30 * 86_400
MAX_SLIPPAGE_BPS: constant(uint256) = 1_000
SLASH_BPS: public(constant(uint256)) = 2_000
MAX_MISSES: public(constant(uint256)) = 3
STAKE_BPS: public(constant(uint256)) = 500
# an epoch window packs (epoch << 224) | (budget << 112) | spent
AMOUNT_MASK: constant(uint256) = (1 << 112) - 1
HALF: constant(uint256) = (1 << 128) - 1
QUARTER: constant(uint256) = (1 << 64) - 1
WORD: constant(uint256) = (1 << 32) - 1

TOKEN: public(immutable(IERC20))
SETTLEMENT: public(immutable(IERC20))
PAIR: public(immutable(IUniswapV2Pair))
ORACLE: public(immutable(IPEOracle))
ROUTER: public(immutable(IRevenueRouter))
STAKING: public(immutable(address))
MERCHANT: public(immutable(address))
SETTLEMENT_SCALE: public(immutable(uint256))
TOKEN_IS_TOKEN0: public(immutable(bool))

# Hot parameters share slots so a keeper's call reads few of them:
# _band = (pe_low << 128) | pe_high;
# _limits = (capacity_bps << 224) | (max_slippage_bps << 192) | (cooldown << 64) | last_trade
_band: uint256
_limits: uint256
guardian: public(address)

stake: public(uint256)
revenue_target: public(uint256)
next_period: public(uint256)
consecutive_misses: public(uint256)
defaulted: public(bool)

_buy_window: uint256
_sell_window: uint256


@deploy
def __init__(
    token: IERC20,
    settlement: IERC20,
    pair: IUniswapV2Pair,
    oracle: IPEOracle,
    router: IRevenueRouter,
    staking: address,
    merchant: address,
    settlement_decimals: uint8,
    stake_: uint256,
    revenue_target_: uint256,
    owner_: address,
    guardian_: address,
):
    """
    @notice Creates the reserve of one listing. The factory transfers the
            merchant's stake (`stake_`) right after deployment.
    @param token The listing token (the inventory).
    @param settlement The settlement token.
    @param pair The token / settlement Uniswap V2 pair the stabiliser trades on.
    @param oracle The listing's `PEOracle`.
    @param router The listing's `RevenueRouter` (period revenue).
    @param staking The listing's `RevenueStaking` (gets slashed stake).
    @param merchant May withdraw stake above the requirement.
    @param settlement_decimals Decimals of the settlement token (<= 18).
    @param stake_ The merchant stake, settlement units.
    @param revenue_target_ Gross revenue per period the merchant commits to.
    @param owner_ The admin of the setters (the governance timelock).
    @param guardian_ May pause the stabiliser (zero address: none).
    """
    assert token.address != empty(address), "reserve: token is the zero address"
    assert settlement.address != empty(address), "reserve: settlement is the zero address"
    assert pair.address != empty(address), "reserve: pair is the zero address"
    assert oracle.address != empty(address), "reserve: oracle is the zero address"
    assert router.address != empty(address), "reserve: router is the zero address"
    assert staking != empty(address), "reserve: staking is the zero address"
    assert merchant != empty(address), "reserve: merchant is the zero address"
    assert owner_ != empty(address), "reserve: owner is the zero address"
    assert settlement_decimals <= 18, "reserve: settlement token has more than 18 decimals"
    ownable.__init__()
    ownable._transfer_ownership(owner_)
    pausable.__init__()
    TOKEN = token
    SETTLEMENT = settlement
    PAIR = pair
    ORACLE = oracle
    ROUTER = router
    STAKING = staking
    MERCHANT = merchant
    SETTLEMENT_SCALE = 10 ** (18 - convert(settlement_decimals, uint256))
    TOKEN_IS_TOKEN0 = staticcall pair.token0() == token.address
    self._set_band(8 * WAD, 15 * WAD)
    self._set_limits(1_000, 3_600, 100)
    self.stake = stake_
    self.revenue_target = revenue_target_
    self.guardian = guardian_


# ---------------------------------------------------------------- stabiliser


@external
@nonreentrant
def stabilise() -> uint256:
    """
    @notice Anyone may call. Buys tokens when the TWAP PE is below `pe_low`,
            sells inventory when it is above `pe_high`, does nothing (and
            changes nothing) inside the band. Reverts with the reason when
            the oracle is stale or PE undefined, when paused, during the
            cooldown, when a buy is due but the listing defaulted, or when
            no trade is possible (no capacity left, spot already at target,
            spot too far from the TWAP).
    @return The amount given to the pool (settlement for a buy, tokens for
            a sell); 0 inside the band.
    """
    pausable._require_not_paused()
    twap: uint256 = 0
    eps: uint256 = 0
    twap, eps = staticcall ORACLE.price_and_eps()
    pe: uint256 = twap * WAD // eps
    band: uint256 = self._band
    pe_low: uint256 = band >> 128
    pe_high: uint256 = band & HALF
    if pe < pe_low:
        return self._buy(pe, pe_low * eps // WAD, twap)
    if pe > pe_high:
        return self._sell(pe, pe_high * eps // WAD, twap)
    return 0


@internal
def _buy(pe: uint256, target: uint256, twap: uint256) -> uint256:
    assert not self.defaulted, "reserve: listing defaulted, no buys"
    limits: uint256 = self._check_cooldown()
    r_token: uint256 = 0
    r_settlement: uint256 = 0
    r_token, r_settlement = self._reserves()
    wanted: uint256 = self._amount_to_target(r_settlement, r_token, target, SETTLEMENT_SCALE * WAD)
    assert wanted != 0, "reserve: spot price already at target"
    free: uint256 = self._free_balance()
    window: uint256 = self._window(self._buy_window, free, limits)
    spend: uint256 = min(min(wanted, free), self._left(window))
    assert spend != 0, "reserve: no buy capacity left this epoch"
    out: uint256 = self._amount_out(spend, r_settlement, r_token)
    assert out != 0, "reserve: trade too small"
    # the pool at the TWAP with today's depth would give this much; a spot
    # worse than that by more than the slippage limit is refused
    twap_settlement: uint256 = isqrt(math._mul_div(r_settlement * r_token, twap, SETTLEMENT_SCALE * WAD, False))
    twap_token: uint256 = isqrt(math._mul_div(r_settlement * r_token, SETTLEMENT_SCALE * WAD, twap, False))
    min_out: uint256 = self._amount_out(spend, twap_settlement, twap_token) * (BPS - self._slippage(limits)) // BPS
    assert out >= min_out, "reserve: spot too far from TWAP (slippage)"

    self._buy_window = window + spend
    self._limits = (limits & ~QUARTER) | block.timestamp
    assert extcall SETTLEMENT.transfer(PAIR.address, spend, default_return_value=True), "reserve: transfer failed"
    self._swap_out(out, True)
    spot: uint256 = math._mul_div((r_settlement + spend) * SETTLEMENT_SCALE, WAD, r_token - out, False)
    log Bought(spent=spend, received=out, pe=pe, target_price=target, spot_after=spot)
    return spend


@internal
def _sell(pe: uint256, target: uint256, twap: uint256) -> uint256:
    limits: uint256 = self._check_cooldown()
    r_token: uint256 = 0
    r_settlement: uint256 = 0
    r_token, r_settlement = self._reserves()
    wanted: uint256 = self._amount_to_target(r_token, r_settlement, SETTLEMENT_SCALE * WAD, target)
    assert wanted != 0, "reserve: spot price already at target"
    inventory: uint256 = staticcall TOKEN.balanceOf(self)
    window: uint256 = self._window(self._sell_window, inventory, limits)
    amount: uint256 = min(min(wanted, inventory), self._left(window))
    assert amount != 0, "reserve: no sell capacity left this epoch"
    out: uint256 = self._amount_out(amount, r_token, r_settlement)
    assert out != 0, "reserve: trade too small"
    twap_settlement: uint256 = isqrt(math._mul_div(r_settlement * r_token, twap, SETTLEMENT_SCALE * WAD, False))
    twap_token: uint256 = isqrt(math._mul_div(r_settlement * r_token, SETTLEMENT_SCALE * WAD, twap, False))
    min_out: uint256 = self._amount_out(amount, twap_token, twap_settlement) * (BPS - self._slippage(limits)) // BPS
    assert out >= min_out, "reserve: spot too far from TWAP (slippage)"

    self._sell_window = window + amount
    self._limits = (limits & ~QUARTER) | block.timestamp
    assert extcall TOKEN.transfer(PAIR.address, amount, default_return_value=True), "reserve: transfer failed"
    self._swap_out(out, False)
    spot: uint256 = math._mul_div((r_settlement - out) * SETTLEMENT_SCALE, WAD, r_token + amount, False)
    log Sold(sold=amount, received=out, pe=pe, target_price=target, spot_after=spot)
    return amount


@internal
@view
def _check_cooldown() -> uint256:
    limits: uint256 = self._limits
    last: uint256 = limits & QUARTER
    assert last == 0 or block.timestamp >= last + ((limits >> 64) & QUARTER), "reserve: cooldown, too soon after the last trade"
    return limits


@internal
@pure
def _slippage(limits: uint256) -> uint256:
    return (limits >> 192) & WORD


@internal
@view
def _window(packed: uint256, base: uint256, limits: uint256) -> uint256:
    # The epoch's (budget, spent) pair; a new epoch starts with
    # capacity_bps of what the reserve holds now and nothing spent.
    epoch: uint256 = block.timestamp // EPOCH
    if packed >> 224 == epoch:
        return packed
    budget: uint256 = min(base * (limits >> 224) // BPS, AMOUNT_MASK)
    return (epoch << 224) | (budget << 112)


@internal
@pure
def _left(window: uint256) -> uint256:
    return ((window >> 112) & AMOUNT_MASK) - (window & AMOUNT_MASK)


@internal
@pure
def _amount_to_target(r_in: uint256, r_out: uint256, num: uint256, den: uint256) -> uint256:
    # The input x after which the pool's ratio r_in'/r_out' equals num/den,
    # fee included: (r_in + x)(1000 r_in + 997 x) = 1000 r_in r_out num/den,
    # solved for y = r_in + x: 997 y^2 + 3 r_in y - rhs = 0. Rounded down,
    # so the price stops at the target or just short of it, never beyond.
    rhs: uint256 = math._mul_div(r_in * r_out, 1000 * num, den, False)
    y: uint256 = (isqrt(9 * r_in * r_in + 3988 * rhs) - 3 * r_in) // 1994
    if y <= r_in:
        return 0
    return y - r_in


@internal
@pure
def _amount_out(amount_in: uint256, r_in: uint256, r_out: uint256) -> uint256:
    # UniswapV2Library.getAmountOut
    with_fee: uint256 = amount_in * 997
    return with_fee * r_out // (r_in * 1000 + with_fee)


@internal
def _swap_out(out: uint256, token_out: bool):
    if token_out == TOKEN_IS_TOKEN0:
        extcall PAIR.swap(out, 0, self, b"")
    else:
        extcall PAIR.swap(0, out, self, b"")


@internal
@view
def _reserves() -> (uint256, uint256):
    r0: uint112 = 0
    r1: uint112 = 0
    t: uint32 = 0
    r0, r1, t = staticcall PAIR.getReserves()
    assert r0 != 0 and r1 != 0, "reserve: pool has no liquidity"
    if TOKEN_IS_TOKEN0:
        return convert(r0, uint256), convert(r1, uint256)
    return convert(r1, uint256), convert(r0, uint256)


@internal
@view
def _free_balance() -> uint256:
    balance: uint256 = staticcall SETTLEMENT.balanceOf(self)
    locked: uint256 = self.stake
    if balance <= locked:
        return 0
    return balance - locked


# ---------------------------------------------------------------- credit risk


@external
@nonreentrant
def assess() -> uint256:
    """
    @notice Assesses the oldest finished, unassessed performance period
            (anyone; one period per call). A period whose gross revenue is
            below `revenue_target` is a miss: `SLASH_BPS` of the remaining
            stake goes to the stakers; the `MAX_MISSES`-th miss in a row
            defaults the listing and the whole rest goes to them.
    @return The amount slashed.
    """
    assert not self.defaulted, "reserve: listing defaulted"
    period: uint256 = self.next_period
    assert period < staticcall ROUTER.current_period(), "reserve: period not finished"
    self.next_period = period + 1
    gross: uint256 = staticcall ROUTER.period_gross(period)
    target: uint256 = self.revenue_target
    if gross >= target:
        self.consecutive_misses = 0
        log Assessed(period=period, gross=gross, target=target, slashed=0, misses=0)
        return 0
    misses: uint256 = self.consecutive_misses + 1
    self.consecutive_misses = misses
    remaining: uint256 = self.stake
    slashed: uint256 = remaining * SLASH_BPS // BPS
    if misses >= MAX_MISSES:
        slashed = remaining
        self.defaulted = True
    self.stake = remaining - slashed
    self._compensate_stakers(slashed)
    log Assessed(period=period, gross=gross, target=target, slashed=slashed, misses=misses)
    if misses >= MAX_MISSES:
        log Defaulted(period=period, compensation=slashed)
    return slashed


@internal
def _compensate_stakers(amount: uint256):
    # With nobody staked the compensation stays here as free balance.
    if amount == 0 or staticcall IRevenueStaking(STAKING).total_staked() == 0:
        return
    assert extcall SETTLEMENT.transfer(STAKING, amount, default_return_value=True), "reserve: transfer failed"
    extcall IRevenueStaking(STAKING).notify_revenue(amount)


@external
@view
def required_stake() -> uint256:
    """
    @notice The stake the listing needs now: `STAKE_BPS` of the market cap
            at the TWAP price, settlement units.
    """
    return self._required_stake()


@internal
@view
def _required_stake() -> uint256:
    market_cap: uint256 = math._mul_div(staticcall ORACLE.twap_price(), staticcall TOKEN.totalSupply(), WAD, False)
    return market_cap * STAKE_BPS // BPS // SETTLEMENT_SCALE


@external
@nonreentrant
def withdraw_excess_stake(amount: uint256):
    """
    @notice The merchant takes back stake above the requirement at the
            current TWAP market cap; never during a miss streak.
    @param amount Settlement units, > 0.
    """
    assert msg.sender == MERCHANT, "reserve: caller is not the merchant"
    assert amount != 0, "reserve: zero amount"
    assert not self.defaulted, "reserve: listing defaulted"
    assert self.consecutive_misses == 0, "reserve: merchant is in a miss streak"
    remaining: uint256 = self.stake
    assert amount <= remaining and remaining - amount >= self._required_stake(), "reserve: stake would fall below the requirement"
    self.stake = remaining - amount
    assert extcall SETTLEMENT.transfer(MERCHANT, amount, default_return_value=True), "reserve: transfer failed"
    log StakeWithdrawn(amount=amount)


# ---------------------------------------------------------------- views


@external
@view
def free_balance() -> uint256:
    """
    @notice Settlement the stabiliser may spend: the balance less the stake.
    """
    return self._free_balance()


@external
@view
def inventory() -> uint256:
    """
    @notice Listing tokens the reserve holds.
    """
    return staticcall TOKEN.balanceOf(self)


@external
@view
def pe_low() -> uint256:
    """
    @notice Below this TWAP PE (wad) the stabiliser buys.
    """
    return self._band >> 128


@external
@view
def pe_high() -> uint256:
    """
    @notice Above this TWAP PE (wad) the stabiliser sells.
    """
    return self._band & HALF


@external
@view
def capacity_bps() -> uint256:
    """
    @notice Share of holdings (free balance for buys, inventory for sells)
            the stabiliser may trade per epoch, basis points.
    """
    return self._limits >> 224


@external
@view
def max_slippage_bps() -> uint256:
    """
    @notice Tolerated shortfall of a trade's output against the TWAP, bps.
    """
    return self._slippage(self._limits)


@external
@view
def cooldown() -> uint256:
    """
    @notice Least seconds between two trades.
    """
    return (self._limits >> 64) & QUARTER


@external
@view
def last_trade() -> uint256:
    """
    @notice Time of the last stabiliser trade (0: none yet).
    """
    return self._limits & QUARTER


@external
@view
def buy_window() -> (uint256, uint256, uint256):
    """
    @notice (epoch, budget, spent) of the current buy window; a new epoch's
            budget is fixed by its first buy.
    """
    packed: uint256 = self._buy_window
    return packed >> 224, (packed >> 112) & AMOUNT_MASK, packed & AMOUNT_MASK


@external
@view
def sell_window() -> (uint256, uint256, uint256):
    """
    @notice (epoch, budget, spent) of the current sell window.
    """
    packed: uint256 = self._sell_window
    return packed >> 224, (packed >> 112) & AMOUNT_MASK, packed & AMOUNT_MASK


# ---------------------------------------------------------------- governance


@external
def set_band(pe_low_: uint256, pe_high_: uint256):
    """
    @notice Sets the PE band. Admin only (timelock).
    @param pe_low_ Wad, >= 1e18.
    @param pe_high_ Wad, > pe_low_, <= 100e18.
    """
    ownable._check_owner()
    self._set_band(pe_low_, pe_high_)


@external
def set_limits(capacity_bps_: uint256, cooldown_: uint256, max_slippage_bps_: uint256):
    """
    @notice Sets the trading limits. Admin only (timelock).
    @param capacity_bps_ Per-epoch share of holdings the stabiliser may trade, <= 2500.
    @param cooldown_ Seconds between trades, >= 600.
    @param max_slippage_bps_ Tolerated shortfall against the TWAP, <= 1000.
    """
    ownable._check_owner()
    self._set_limits(capacity_bps_, cooldown_, max_slippage_bps_)


@external
def set_revenue_target(revenue_target_: uint256):
    """
    @notice Sets the gross revenue per period the merchant is held to. Admin only.
    @param revenue_target_ Settlement units per period.
    """
    ownable._check_owner()
    self.revenue_target = revenue_target_
    log RevenueTargetChanged(revenue_target=revenue_target_)


@external
def set_guardian(guardian_: address):
    """
    @notice Sets who may pause the stabiliser. Admin only.
    @param guardian_ The guardian (zero address: none).
    """
    ownable._check_owner()
    self.guardian = guardian_
    log GuardianChanged(guardian=guardian_)


@external
def pause():
    """
    @notice Stops `stabilise`. The guardian or the admin.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "reserve: caller is not the guardian"
    pausable._pause()


@external
def unpause():
    """
    @notice Resumes `stabilise`. Admin only (timelocked).
    """
    ownable._check_owner()
    pausable._unpause()


@external
@nonreentrant
def withdraw(to: address, amount: uint256):
    """
    @notice Treasury withdrawal of free settlement balance. Admin only
            (timelock). The merchant stake cannot be withdrawn this way.
    @param to Recipient, not the zero address.
    @param amount Settlement units, > 0, at most the free balance.
    """
    ownable._check_owner()
    assert to != empty(address), "reserve: recipient is the zero address"
    assert amount != 0, "reserve: zero amount"
    assert amount <= self._free_balance(), "reserve: amount exceeds the free balance"
    assert extcall SETTLEMENT.transfer(to, amount, default_return_value=True), "reserve: transfer failed"
    log TreasuryWithdrawal(to=to, amount=amount)


@internal
def _set_band(pe_low_: uint256, pe_high_: uint256):
    assert pe_low_ >= MIN_PE and pe_low_ < pe_high_ and pe_high_ <= MAX_PE, "reserve: band out of bounds"
    self._band = (pe_low_ << 128) | pe_high_
    log BandChanged(pe_low=pe_low_, pe_high=pe_high_)


@internal
def _set_limits(capacity_bps_: uint256, cooldown_: uint256, max_slippage_bps_: uint256):
    assert capacity_bps_ <= MAX_CAPACITY_BPS, "reserve: capacity_bps out of bounds"
    assert cooldown_ >= MIN_COOLDOWN, "reserve: cooldown below 10 minutes"
    assert max_slippage_bps_ <= MAX_SLIPPAGE_BPS, "reserve: max_slippage_bps out of bounds"
    assert cooldown_ <= MAX_COOLDOWN, "reserve: cooldown above 30 days"
    last_trade: uint256 = self._limits & QUARTER
    self._limits = (capacity_bps_ << 224) | (max_slippage_bps_ << 192) | (cooldown_ << 64) | last_trade
    log LimitsChanged(capacity_bps=capacity_bps_, cooldown=cooldown_, max_slippage_bps=max_slippage_bps_)
