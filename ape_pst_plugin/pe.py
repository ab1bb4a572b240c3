"""The PE maths of the PST protocol in pure Python, integer for integer the
same as `PEOracle.vy`, `RevenueRouter.vy` and the reserve's modules (tests
compare them to the wei). Sections follow docs/PROTOCOL.md: units and
formulas (counted revenue, earnings, supply), then the stabiliser's trade
sizing, then the protection fund's pots (`ProtectionFund.vy`).

Units: prices and EPS are "wad": settlement units per whole token with 18
decimals, whatever the settlement token's decimals; amounts are raw token
units.
"""

from math import isqrt

from ape_pst_plugin.constants import (  # noqa: F401 - re-exported: pe.WAD etc. are public
    BPS,
    DAY,
    DEFAULT_COVER_BPS,
    DEFAULT_MAX_PAYOUT_BPS,
    DEFAULT_PER_LISTING_CAP_BPS,
    DEFAULT_STRESS_BPS,
    DEFAULT_TOLERANCE_BPS,
    MAX_TRAILING_PERIODS,
    MAX_UINT256,
    MAX_VALIDITY,
    PERIOD,
    RATE_SCALE,
    WAD,
    YEAR,
)

Q112 = 2**112


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


def verified_cap(month_revenue: int, tolerance_bps: int = DEFAULT_TOLERANCE_BPS) -> int:
    """The cap on a period's counted revenue from a verified month revenue."""
    return month_revenue * (BPS + tolerance_bps) // BPS


def cap_at(records: list[tuple[int, int, int]], at: int) -> int:
    """The cap in force at `at` (``UnderwritingRegistry.verified_cap``): of the
    (recorded_at, expires_at, cap) attestation records, the newest recorded
    at or before `at`, if it has not expired by then; 0 if none."""
    recorded = [r for r in records if r[0] <= at]
    if not recorded:
        return 0
    _, expires_at, cap = recorded[-1]
    return cap if at < expires_at else 0


def counted(non_insider_gross: int, cap: int) -> int:
    """Counted revenue of a period: min(non-insider gross, verified cap)."""
    return min(non_insider_gross, cap)


def trailing_periods(finished: int) -> int:
    """n: how many finished periods the earnings look back over (0: PE undefined)."""
    return min(finished, MAX_TRAILING_PERIODS)


def annual_earnings(counted_sum: int, n: int, share_bps: int) -> int:
    """E = (sum of counted over the last n finished periods) * share_bps // 10_000
    * 365 days // (n * period), settlement units."""
    return counted_sum * share_bps // BPS * YEAR // (n * PERIOD)


def eps(annual_earnings: int, circulating: int, decimals: int) -> int:
    """Earnings per circulating token, wad (0 when undefined)."""
    if circulating == 0 or annual_earnings == 0:
        return 0
    return mul_div(annual_earnings * scale(decimals), WAD, circulating)


def listing_pe(
    initial_price: int, month_revenue: int, supply: int, reserve_allocation_bps: int, share_bps: int, decimals: int
) -> int:
    """The PE a listing starts at: initial price / EPS with EPS from one period
    whose counted revenue is `month_revenue` (wad)."""
    circulating = supply - supply * reserve_allocation_bps // BPS
    return pe(initial_price, eps(annual_earnings(month_revenue, 1, share_bps), circulating, decimals))


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


def within_deviation(spot: int, twap_price: int, deviation_bps: int) -> bool:
    """Whether the spot is at most `deviation_bps` away from the TWAP, either way."""
    return twap_price * (BPS - deviation_bps) <= spot * BPS <= twap_price * (BPS + deviation_bps)


def trade_to_target(buying: bool, r_token: int, r_settlement: int, twap_price: int, target: int, decimals: int) -> int:
    """min(x_spot, x_twap): what moves the pool to `target`, and what would move
    the pool at the TWAP price (today's depth) there."""
    t_token, t_settlement = twap_reserves(r_token, r_settlement, twap_price, decimals)
    move = buy_to_price if buying else sell_to_price
    return min(move(r_token, r_settlement, target, decimals), move(t_token, t_settlement, target, decimals))


def exposure_room(free: int, net_spent: int, max_exposure_bps: int) -> int:
    """How much more a buy may spend: net_spent may not exceed
    max_exposure_bps of (free balance + net_spent)."""
    room = max_exposure_bps * (free + net_spent) // BPS
    return max(room - net_spent, 0)


def min_out(
    amount_in: int, buying: bool, r_token: int, r_settlement: int, twap_price: int, decimals: int, slippage_bps: int
) -> int:
    """The least output the stabiliser accepts: what the pool would give at
    the TWAP price and today's depth, less `slippage_bps`."""
    t_token, t_settlement = twap_reserves(r_token, r_settlement, twap_price, decimals)
    if buying:
        expected = amount_out(amount_in, t_settlement, t_token)
    else:
        expected = amount_out(amount_in, t_token, t_settlement)
    return expected * (BPS - slippage_bps) // BPS


# ---------------------------------------------------------------- holder protection fund
# ProtectionFund.vy, integer for integer (docs/PROTOCOL.md "Holder protection fund").


def premium(gross: int, premium_bps: int) -> int:
    """The protection premium of a payment (``RevenueRouter.pay``), settlement units."""
    return gross * premium_bps // BPS


def loss_base(
    reference_price: int, holder_tokens: int, settlement_decimals: int, market_cap: int = 0, supply: int = 1
) -> int:
    """A listing's loss base: the reference price (wad) times its holders'
    tokens ``H`` (token wei), in settlement units; without a reference price
    (no TWAP observed before the listing went late) the listing price, its
    listing-time ``market_cap`` (settlement units) over its ``supply``."""
    if reference_price == 0:
        return market_cap * holder_tokens // supply
    return reference_price * holder_tokens // WAD // scale(settlement_decimals)


def stake_cap(listing_stake: int, released: int, holder_tokens: int) -> int:
    """The most a pot may hold so that the merchant's released allocation,
    wherever it was moved before the default, claims back at most the
    listing-time stake: ``stake * H / min(released, H)``, settlement units
    (``MAX_UINT256`` before any release)."""
    released = min(released, holder_tokens)
    return listing_stake * holder_tokens // released if released else MAX_UINT256


def pot_size(
    earmarked: int,
    loss_base: int,
    free: int,
    committed: int,
    stake_cap: int = MAX_UINT256,
    cover_bps: int = DEFAULT_COVER_BPS,
    max_payout_bps: int = DEFAULT_MAX_PAYOUT_BPS,
    per_listing_cap_bps: int = DEFAULT_PER_LISTING_CAP_BPS,
) -> tuple[int, int, int]:
    """(amount, kept, from_fund) of a pot opened with ``earmarked`` pulled in
    and ``free`` the free fund before they arrived, ``committed`` the
    free-fund parts of the pots still open: the earmarks stay in the pot up
    to the loss base and the stake cap (``kept``; the rest joins the free
    fund), and the fund adds the smallest of :func:`pot_caps`."""
    kept = earmarks_kept(earmarked, loss_base, stake_cap)
    from_fund = min(
        pot_caps(earmarked, loss_base, free, committed, stake_cap, cover_bps, max_payout_bps, per_listing_cap_bps)
    )
    return kept + from_fund, kept, from_fund


def earmarks_kept(earmarked: int, loss_base: int, stake_cap: int = MAX_UINT256) -> int:
    """The part of a defaulted listing's earmarks its pot keeps: at most its loss base and its stake cap."""
    return min(earmarked, loss_base, stake_cap)


def pot_caps(
    earmarked: int,
    loss_base: int,
    free: int,
    committed: int,
    stake_cap: int = MAX_UINT256,
    cover_bps: int = DEFAULT_COVER_BPS,
    max_payout_bps: int = DEFAULT_MAX_PAYOUT_BPS,
    per_listing_cap_bps: int = DEFAULT_PER_LISTING_CAP_BPS,
) -> tuple[int, int, int, int]:
    """The four caps on a pot's free-fund part, each floored at 0: the cover
    (``cover_bps`` of the loss base) and the stake cap, each less the
    earmarks kept; the fund-wide cap (``max_payout_bps`` of free plus
    committed, less committed) and the per-listing cap (``per_listing_cap_bps``
    of free). The smallest binds. Without a stake cap (nothing released) its
    entry is ``MAX_UINT256``."""
    kept = earmarks_kept(earmarked, loss_base, stake_cap)
    cover = max(loss_base * cover_bps // BPS - kept, 0)
    stake = stake_cap if stake_cap == MAX_UINT256 else max(stake_cap - kept, 0)
    aggregate = max((free + committed) * max_payout_bps // BPS - committed, 0)
    return cover, stake, aggregate, free * per_listing_cap_bps // BPS


def pot_rate(amount: int, holder_tokens: int) -> int:
    """A pot's fixed per-token rate, settlement units per token wei times ``RATE_SCALE`` (0 without holders)."""
    return amount * RATE_SCALE // holder_tokens if holder_tokens else 0


def claim_payment(amount: int, rate: int) -> int:
    """What handing in ``amount`` token wei pays at ``rate``, settlement units."""
    return amount * rate // RATE_SCALE


def coverage_bps(free: int, covered_market_cap: int, cover_bps: int = DEFAULT_COVER_BPS) -> int:
    """Free fund over ``cover_bps`` of the live listings' listing-time market
    caps, bps (``MAX_UINT256`` with no live listing)."""
    if covered_market_cap == 0:
        return MAX_UINT256
    return free * BPS * BPS // (covered_market_cap * cover_bps)


def in_stress(
    late_loss_total: int, free: int, cover_bps: int = DEFAULT_COVER_BPS, stress_bps: int = DEFAULT_STRESS_BPS
) -> bool:
    """Whether ``cover_bps`` of the late listings' loss bases exceeds ``stress_bps`` of the free fund."""
    return late_loss_total != 0 and late_loss_total * cover_bps > stress_bps * free
