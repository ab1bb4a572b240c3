"""The PE maths of the PST protocol in pure Python, integer for integer the
same as `PEOracle.vy` and `Reserve.vy` (tests compare them to the wei).

Units: prices and EPS are "wad": settlement units per whole token with 18
decimals, whatever the settlement token's decimals; amounts are raw token
units.
"""

from math import isqrt

WAD = 10**18
BPS = 10_000
Q112 = 2**112
YEAR = 365 * 86_400
MIN_HISTORY = 30 * 86_400


def scale(decimals: int) -> int:
    """Factor from settlement units to wad."""
    if not 0 <= decimals <= 18:
        raise ValueError("settlement token decimals must be within 0..18")
    return 10 ** (18 - decimals)


def normalise(amount: int, decimals: int) -> int:
    """A settlement amount as an 18-decimal amount."""
    return amount * scale(decimals)


def mul_div(x: int, y: int, d: int) -> int:
    return x * y // d


def spot_price(r_token: int, r_settlement: int, decimals: int) -> int:
    """Spot price of the token in the pool, wad."""
    return mul_div(r_settlement * scale(decimals), WAD, r_token)


def cumulative_price(cumulative_last: int, r_token: int, r_settlement: int, pool_time: int, now: int) -> int:
    """UniswapV2OracleLibrary.currentCumulativePrices for the token's price."""
    now32, last32 = now % 2**32, pool_time % 2**32
    if now32 != last32 and r_token and r_settlement:
        elapsed = (now32 - last32) % 2**32
        cumulative = (cumulative_last + ((r_settlement << 112) // r_token) * elapsed) % 2**256
    else:
        cumulative = cumulative_last
    return cumulative


def twap(cumulative_then: int, cumulative_now: int, elapsed: int, decimals: int) -> int:
    """Average price between two cumulative observations, wad."""
    average = ((cumulative_now - cumulative_then) % 2**256) // elapsed
    return mul_div(average, WAD * scale(decimals), Q112)


def annualised_earnings(trailing_revenue: int, elapsed: int) -> int:
    """E = R * 365 days / min(t, 365 days), settlement units."""
    window = min(elapsed, YEAR)
    return trailing_revenue * YEAR // window


def eps(annual_earnings: int, circulating: int, decimals: int) -> int:
    """Earnings per circulating token, wad (0 when undefined)."""
    if circulating == 0:
        return 0
    return mul_div(annual_earnings * scale(decimals), WAD, circulating)


def pe(price: int, eps_: int) -> int:
    """Price / EPS, wad."""
    if eps_ == 0:
        raise ZeroDivisionError("PE undefined: no earnings")
    return price * WAD // eps_


def target_prices(eps_: int, pe_low: int, pe_high: int) -> tuple[int, int]:
    """(P_low, P_high), wad."""
    return pe_low * eps_ // WAD, pe_high * eps_ // WAD


def amount_out(amount_in: int, r_in: int, r_out: int) -> int:
    """UniswapV2Library.getAmountOut (0.3% fee)."""
    with_fee = amount_in * 997
    return with_fee * r_out // (r_in * 1000 + with_fee)


def amount_to_target(r_in: int, r_out: int, num: int, den: int) -> int:
    """Input after which the pool's ratio r_in'/r_out' is num/den, the 0.3%
    fee included, rounded down (never beyond the target); 0 if the pool is
    already there or past it."""
    rhs = mul_div(r_in * r_out, 1000 * num, den)
    y = (isqrt(9 * r_in * r_in + 3988 * rhs) - 3 * r_in) // 1994
    return y - r_in if y > r_in else 0


def buy_to_price(r_token: int, r_settlement: int, target: int, decimals: int) -> int:
    """Settlement to put in to lift the spot price to `target` (wad)."""
    return amount_to_target(r_settlement, r_token, target, scale(decimals) * WAD)


def sell_to_price(r_token: int, r_settlement: int, target: int, decimals: int) -> int:
    """Tokens to put in to push the spot price down to `target` (wad)."""
    return amount_to_target(r_token, r_settlement, scale(decimals) * WAD, target)


def twap_reserves(r_token: int, r_settlement: int, twap_price: int, decimals: int) -> tuple[int, int]:
    """The pool's reserves if it sat at the TWAP with today's depth (k)."""
    k = r_settlement * r_token
    s = scale(decimals) * WAD
    return isqrt(mul_div(k, s, twap_price)), isqrt(mul_div(k, twap_price, s))


def min_out(amount_in: int, buying: bool, r_token: int, r_settlement: int, twap_price: int, decimals: int, slippage_bps: int) -> int:
    """The least output the stabiliser accepts: what the pool would give at
    the TWAP price and today's depth, less `slippage_bps`."""
    t_token, t_settlement = twap_reserves(r_token, r_settlement, twap_price, decimals)
    if buying:
        expected = amount_out(amount_in, t_settlement, t_token)
    else:
        expected = amount_out(amount_in, t_token, t_settlement)
    return expected * (BPS - slippage_bps) // BPS
