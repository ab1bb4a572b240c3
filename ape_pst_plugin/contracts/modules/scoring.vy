# pragma version ~=0.4.3
"""
@title Underwriting model: attested inputs into points, grade and terms
@custom:contract-name scoring
@license GNU Affero General Public License v3.0 only
@notice The published scoring model of docs/PROTOCOL.md ("Underwriting"),
        in integer maths. A risk agent attests a merchant's inputs; the
        registry, not the agent, turns them into a grade and the listing's
        terms, so an agent cannot set terms other than the model's. The
        Python twin is `ape_pst_plugin.underwriting` (equal for every input).
        Hard rejections revert: fewer than 6 months of history, average
        monthly revenue under 10,000 whole settlement units, refunds over
        15% of gross.
"""

from . import constants as c


struct Score:
    history: uint256
    scale: uint256
    stability: uint256
    growth: uint256
    refunds: uint256
    concentration: uint256
    total: uint256
    grade: uint256


struct Terms:
    grade: uint256
    stake_bps: uint256
    target_ratio_bps: uint256
    max_listing_pe: uint256
    premium_bps: uint256


@internal
@pure
def _score(
    history_months: uint256,
    avg_monthly_revenue: uint256,
    volatility_bps: uint256,
    growth_bps: int256,
    refund_bps: uint256,
    top_channel_bps: uint256,
    unit: uint256,
) -> Score:
    """
    @notice Points per criterion (at most 100 in all) and the grade.
    @param history_months Months of data the agent saw (H).
    @param avg_monthly_revenue R: trailing 3-month average, net of refunds,
           settlement units.
    @param volatility_bps Coefficient of variation of the last 6 months.
    @param growth_bps Last 3 months against the prior 3, signed.
    @param refund_bps Refunds over gross.
    @param top_channel_bps The largest sales channel's share of gross.
    @param unit One whole settlement unit (10**decimals).
    @return The points, their total and the grade (0: not listable).
    """
    assert history_months >= c.MIN_HISTORY_MONTHS, "scoring: history under 6 months"
    assert avg_monthly_revenue >= c.MIN_REVENUE_UNITS * unit, "scoring: revenue under 10,000 units a month"
    assert refund_bps <= c.MAX_REFUND_BPS, "scoring: refunds over 15% of gross"
    assert top_channel_bps <= c.BPS, "scoring: channel share over 100%"

    s: Score = empty(Score)
    s.history = 20 * min(history_months, 24) // 24

    if avg_monthly_revenue >= 250_000 * unit:
        s.scale = 20
    elif avg_monthly_revenue >= 100_000 * unit:
        s.scale = 16
    elif avg_monthly_revenue >= 50_000 * unit:
        s.scale = 12
    elif avg_monthly_revenue >= 25_000 * unit:
        s.scale = 8
    else:
        s.scale = 4

    if volatility_bps <= 1_000:
        s.stability = 20
    elif volatility_bps <= 2_000:
        s.stability = 15
    elif volatility_bps <= 3_500:
        s.stability = 10
    elif volatility_bps <= 5_000:
        s.stability = 5

    if growth_bps >= 2_000:
        s.growth = 15
    elif growth_bps >= 0:
        s.growth = 12
    elif growth_bps >= -1_000:
        s.growth = 6

    if refund_bps <= 200:
        s.refunds = 15
    elif refund_bps <= 500:
        s.refunds = 10
    elif refund_bps <= 1_000:
        s.refunds = 5

    if top_channel_bps <= 1_000:
        s.concentration = 10
    elif top_channel_bps <= 2_500:
        s.concentration = 6
    elif top_channel_bps <= 5_000:
        s.concentration = 3

    s.total = s.history + s.scale + s.stability + s.growth + s.refunds + s.concentration
    if s.total >= 80 and history_months >= 12:
        s.grade = c.GRADE_A
    elif s.total >= 65:
        s.grade = c.GRADE_B
    elif s.total >= 50:
        s.grade = c.GRADE_C
    elif s.total >= 40:
        s.grade = c.GRADE_D
    return s


@internal
@pure
def _terms(grade: uint256, volatility_bps: uint256) -> Terms:
    """
    @notice A grade's terms: stake (bps of the listing market cap), revenue
            target ratio (bps of R, lowered for volatile merchants to
            `max(5000, 10_000 - 2 * CV)`), highest listing PE (wad) and
            protection premium (bps of gross).
    @param grade 1 (A) .. 4 (D); 0 gives empty terms.
    @param volatility_bps The attested coefficient of variation.
    """
    t: Terms = empty(Terms)
    t.grade = grade
    if grade == c.GRADE_A:
        t.stake_bps = 500
        t.target_ratio_bps = 8_000
        t.max_listing_pe = 15 * c.WAD
        t.premium_bps = 25
    elif grade == c.GRADE_B:
        t.stake_bps = 750
        t.target_ratio_bps = 7_500
        t.max_listing_pe = 13 * c.WAD
        t.premium_bps = 50
    elif grade == c.GRADE_C:
        t.stake_bps = 1_000
        t.target_ratio_bps = 7_000
        t.max_listing_pe = 11 * c.WAD
        t.premium_bps = 75
    elif grade == c.GRADE_D:
        t.stake_bps = 1_500
        t.target_ratio_bps = 6_000
        t.max_listing_pe = 9 * c.WAD
        t.premium_bps = 100
    else:
        return t
    lowest: uint256 = 5_000
    if volatility_bps < 2_500:
        lowest = c.BPS - 2 * volatility_bps
    t.target_ratio_bps = min(t.target_ratio_bps, lowest)
    return t
