# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST price-to-earnings oracle
@custom:contract-name PEOracle
@license GNU Affero General Public License v3.0 only
@notice The price side is a time-weighted average price (TWAP) from the
        listing's Uniswap V2 pair, as Uniswap's ExampleOracleSimple keeps it:
        `update()` (anyone, one observation per call, at least `twap_window`
        after the previous one) records the pair's cumulative price and
        stores the average price between the two observations. The TWAP is
        stale once its newest observation is older than `max_age`. Because
        Uniswap accumulates the price at the start of each block, moving the
        spot price inside a block does not move the TWAP.
        The earnings side is snapshotted by `update()` too: the holder share
        of the counted revenue of the last `n` finished periods (n = 1..12),
        annualised, per circulating token (supply less the reserve's
        inventory; unvested merchant tokens count). A payment in the
        running period never moves EPS; before the first period has
        finished PE is undefined. All prices are settlement units per whole
        token with 18 decimals ("wad"), whatever the settlement decimals.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.utils import math

from modules import constants as c
from interfaces import IUniswapV2Pair
from interfaces import IRevenueRouter

initializes: ownable

exports: (
    ownable.owner,
    ownable.transfer_ownership,
)


event Observed:
    timestamp: uint256
    cumulative: uint256
    twap: uint256
    eps: uint256


event TwapWindowChanged:
    twap_window: uint256
    max_age: uint256


Q112: constant(uint256) = 1 << 112

PAIR: public(immutable(IUniswapV2Pair))
TOKEN: public(immutable(IERC20))
ROUTER: public(immutable(IRevenueRouter))
RESERVE: public(immutable(address))
VESTING: public(immutable(address))
START: public(immutable(uint256))
# 10 ** (18 - settlement decimals): turns settlement units into wad
SETTLEMENT_SCALE: public(immutable(uint256))
TOKEN_IS_TOKEN0: public(immutable(bool))

# The stabiliser reads two slots: (twap << 128) | eps and the clock,
# (last_observed << 192) | (previous_observed << 128) | (twap_window << 64) | max_age.
# twap: average price between the two newest observations, wad (0: none yet);
# eps: earnings per circulating token at the newest observation, wad (0: undefined)
_values: uint256
_clock: uint256
last_cumulative: public(uint256)
# (period + 1) << 192 | annual holder earnings of the finished periods before
# it, settlement units: computed once per period by the first update() in it
_earnings: uint256

HALF: constant(uint256) = (1 << 128) - 1
QUARTER: constant(uint256) = (1 << 64) - 1


@deploy
def __init__(
    pair: IUniswapV2Pair,
    token: IERC20,
    router: IRevenueRouter,
    reserve: address,
    vesting: address,
    settlement_decimals: uint8,
    twap_window_: uint256,
    max_age_: uint256,
    owner_: address,
):
    """
    @notice Creates the oracle of one listing.
    @param pair The listing token / settlement token Uniswap V2 pair.
    @param token The listing token.
    @param router The listing's `RevenueRouter` (earnings).
    @param reserve The ALAR reserve (its inventory is not circulating).
    @param vesting The merchant's vesting contract (circulating, but not held by holders).
    @param settlement_decimals Decimals of the settlement token (<= 18).
    @param twap_window_ Seconds the TWAP covers at least (>= 600).
    @param max_age_ The oldest usable observation, seconds (> twap window).
    @param owner_ The admin of the setters (the governance timelock).
    """
    assert pair.address != empty(address), "oracle: pair is the zero address"
    assert token.address != empty(address), "oracle: token is the zero address"
    assert router.address != empty(address), "oracle: router is the zero address"
    assert reserve != empty(address), "oracle: reserve is the zero address"
    assert vesting != empty(address), "oracle: vesting is the zero address"
    assert owner_ != empty(address), "oracle: owner is the zero address"
    assert settlement_decimals <= 18, "oracle: settlement token has more than 18 decimals"
    self._check_window(twap_window_, max_age_)
    ownable.__init__()
    ownable._transfer_ownership(owner_)
    PAIR = pair
    TOKEN = token
    ROUTER = router
    RESERVE = reserve
    VESTING = vesting
    START = block.timestamp
    SETTLEMENT_SCALE = 10**(18 - convert(settlement_decimals, uint256))
    TOKEN_IS_TOKEN0 = staticcall pair.token0() == token.address
    self._clock = (twap_window_ << 64) | max_age_


@external
def update() -> bool:
    """
    @notice Records one observation of the pair's cumulative price, stores
            the TWAP since the previous observation and snapshots the
            earnings per circulating token (the annual earnings are computed
            once per period). Anyone may call; a call less than
            `twap_window` after the newest observation records nothing and
            returns False (so a keeper's batch never reverts on it).
    @return True if an observation was recorded.
    """
    clock: uint256 = self._clock
    last: uint256 = clock >> 192
    if last != 0 and block.timestamp - last < (clock >> 64) & QUARTER:
        return False
    cumulative: uint256 = self._current_cumulative()
    twap: uint256 = 0
    if last != 0:
        average: uint256 = unsafe_sub(cumulative, self.last_cumulative) // (block.timestamp - last)  # UQ112.112
        twap = math._mul_div(average, c.WAD * SETTLEMENT_SCALE, Q112, False)
    eps: uint256 = self._eps_now(self._period_earnings())
    assert twap <= HALF and eps <= HALF, "oracle: value out of range"
    self._values = (twap << 128) | eps
    self._clock = (block.timestamp << 192) | (last << 128) | (clock & HALF)
    self.last_cumulative = cumulative
    log Observed(timestamp=block.timestamp, cumulative=cumulative, twap=twap, eps=eps)
    return True


@external
@view
def twap_price() -> uint256:
    """
    @notice The TWAP of the token between the two newest observations,
            settlement per token, wad. Reverts before the second observation
            and once the newest is older than `max_age`.
    """
    return self._twap(self._values >> 128, self._clock)


@external
@view
def spot_price() -> uint256:
    """
    @notice The pool's spot price of the token from its reserves, wad.
    """
    r_token: uint256 = 0
    r_settlement: uint256 = 0
    r_token, r_settlement = self._reserves()
    assert r_token != 0, "oracle: pool has no liquidity"
    return math._mul_div(r_settlement * SETTLEMENT_SCALE, c.WAD, r_token, False)


@external
@view
def eps() -> uint256:
    """
    @notice Annualised holder earnings per circulating token at the newest
            observation, wad. Reverts while PE is undefined.
    """
    return self._defined_eps(self._values & HALF, self._clock)


@external
@view
def price_and_eps() -> (uint256, uint256):
    """
    @notice The TWAP price and the EPS in one call (wad, wad), for the
            stabiliser. Reverts like `pe()`.
    """
    values: uint256 = self._values
    clock: uint256 = self._clock
    eps: uint256 = self._defined_eps(values & HALF, clock)
    return self._twap(values >> 128, clock), eps


@external
@view
def pe() -> uint256:
    """
    @notice Price-to-earnings ratio, wad: TWAP price / EPS. Reverts with the
            reason when it is undefined or the price is stale.
    """
    values: uint256 = self._values
    clock: uint256 = self._clock
    eps: uint256 = self._defined_eps(values & HALF, clock)
    return self._twap(values >> 128, clock) * c.WAD // eps


@external
@view
def annual_earnings() -> uint256:
    """
    @notice Annualised holder earnings, settlement units:
            `(counted revenue of the last n finished periods) * share_bps
            // 10_000 * 365 days // (n * period)`, n = min(finished, 12).
            Reverts before the first period has finished.
    """
    assert self._finished() != 0, "oracle: no finished period yet, PE undefined"
    return self._annual_earnings()


@external
@view
def circulating_supply() -> uint256:
    """
    @notice Token supply outside the reserve's inventory.
    """
    return staticcall TOKEN.totalSupply() - staticcall TOKEN.balanceOf(RESERVE)


@external
@view
def holder_supply() -> uint256:
    """
    @notice Circulating supply less the merchant's unvested tokens (the
            protection fund's `covered_tokens` also leaves out what the
            merchant and its payout address hold).
    """
    return staticcall TOKEN.totalSupply() - staticcall TOKEN.balanceOf(RESERVE) - staticcall TOKEN.balanceOf(VESTING)


@external
def set_twap_window(twap_window_: uint256, max_age_: uint256):
    """
    @notice Sets the TWAP window and the staleness limit. Admin only.
    @param twap_window_ Seconds, >= 600.
    @param max_age_ Seconds, > twap_window_.
    """
    ownable._check_owner()
    self._check_window(twap_window_, max_age_)
    self._clock = (self._clock & ~HALF) | (twap_window_ << 64) | max_age_
    log TwapWindowChanged(twap_window=twap_window_, max_age=max_age_)


@internal
@pure
def _check_window(twap_window_: uint256, max_age_: uint256):
    assert twap_window_ >= c.MIN_TWAP_WINDOW, "oracle: twap_window below 10 minutes"
    assert max_age_ > twap_window_, "oracle: max_age must exceed twap_window"
    assert max_age_ <= c.MAX_MAX_AGE, "oracle: max_age above 7 days"


@internal
@view
def _reserves() -> (uint256, uint256):
    r0: uint112 = 0
    r1: uint112 = 0
    t: uint32 = 0
    r0, r1, t = staticcall PAIR.getReserves()
    if TOKEN_IS_TOKEN0:
        return convert(r0, uint256), convert(r1, uint256)
    return convert(r1, uint256), convert(r0, uint256)


@internal
@view
def _current_cumulative() -> uint256:
    # UniswapV2OracleLibrary.currentCumulativePrices for the token's price:
    # the stored cumulative plus the current price for the time since the
    # pair's last update (Uniswap lets the cumulative wrap: unsafe maths).
    cumulative: uint256 = 0
    if TOKEN_IS_TOKEN0:
        cumulative = staticcall PAIR.price0CumulativeLast()
    else:
        cumulative = staticcall PAIR.price1CumulativeLast()
    r0: uint112 = 0
    r1: uint112 = 0
    t: uint32 = 0
    r0, r1, t = staticcall PAIR.getReserves()
    now32: uint256 = block.timestamp % (1 << 32)
    last32: uint256 = convert(t, uint256)
    if now32 != last32 and r0 != 0 and r1 != 0:
        elapsed: uint256 = unsafe_sub(now32, last32) % (1 << 32)
        price: uint256 = 0
        if TOKEN_IS_TOKEN0:
            price = (convert(r1, uint256) << 112) // convert(r0, uint256)
        else:
            price = (convert(r0, uint256) << 112) // convert(r1, uint256)
        cumulative = unsafe_add(cumulative, unsafe_mul(price, elapsed))
    return cumulative


@internal
@view
def _twap(twap: uint256, clock: uint256) -> uint256:
    observed: uint256 = clock >> 192
    assert observed != 0, "oracle: no observation yet, call update()"
    assert twap != 0, "oracle: TWAP window not covered yet"
    assert block.timestamp - observed <= clock & QUARTER, "oracle: stale price, call update()"
    return twap


@internal
@view
def _finished() -> uint256:
    return (block.timestamp - START) // c.PERIOD


@internal
@view
def _annual_earnings() -> uint256:
    n: uint256 = min(self._finished(), c.MAX_TRAILING_PERIODS)
    counted: uint256 = staticcall ROUTER.trailing_counted(n)
    return counted * staticcall ROUTER.share_bps() // c.BPS * c.YEAR // (n * c.PERIOD)


@internal
def _period_earnings() -> uint256:
    # The annual earnings change only when a period finishes: computed by
    # the first observation of each period, then read from storage.
    finished: uint256 = self._finished()
    if finished == 0:
        return 0
    cached: uint256 = self._earnings
    if cached >> 192 == finished + 1:
        return cached & ((1 << 192) - 1)
    earnings: uint256 = self._annual_earnings()
    self._earnings = ((finished + 1) << 192) | earnings
    return earnings


@internal
@view
def _eps_now(earnings: uint256) -> uint256:
    circulating: uint256 = staticcall TOKEN.totalSupply() - staticcall TOKEN.balanceOf(RESERVE)
    if circulating == 0 or earnings == 0:
        return 0
    return math._mul_div(earnings * SETTLEMENT_SCALE, c.WAD, circulating, False)


@internal
@view
def _defined_eps(eps: uint256, clock: uint256) -> uint256:
    assert self._finished() != 0, "oracle: no finished period yet, PE undefined"
    assert clock >> 192 != 0, "oracle: no observation yet, call update()"
    assert eps != 0, "oracle: no earnings, PE undefined"
    return eps


@external
@view
def twap_window() -> uint256:
    """
    @notice Least seconds between two observations (the TWAP's window).
    """
    return (self._clock >> 64) & QUARTER


@external
@view
def max_age() -> uint256:
    """
    @notice Seconds after which the newest observation is stale.
    """
    return self._clock & QUARTER


@external
@view
def last_observed() -> uint256:
    """
    @notice Time of the newest observation (0: none).
    """
    return self._clock >> 192


@external
@view
def previous_observed() -> uint256:
    """
    @notice Time of the observation before the newest (0: none).
    """
    return (self._clock >> 128) & QUARTER


@external
@view
def twap_snapshot() -> uint256:
    """
    @notice TWAP stored by the newest observation, wad (0: none yet), even if stale.
    """
    return self._values >> 128


@external
@view
def eps_snapshot() -> uint256:
    """
    @notice EPS stored by the newest observation, wad (0: undefined).
    """
    return self._values & HALF
