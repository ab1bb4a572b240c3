"""The listing's credit status on a live market (PROTOCOL.md, performance
stake and status; stabiliser gates): ACTIVE -> LATE on a miss (the oracle's
TWAP snapshot becomes the reference price), LATE -> ACTIVE on a met period,
DEFAULTED after three misses in a row; buys only while ACTIVE with fresh
verified revenue, sells while not DEFAULTED. Each test opens its own market
and jumps whole periods, so this module runs last (conftest RUN_LAST)."""

import ape
import pytest

from ape_pst_plugin.market import MarketPlan, open_market

USDC = 10**6
WAD = 10**18
DAY = 86_400
PERIOD = 30 * DAY
TARGET = 100_000 * USDC  # from period 1 on (governance sets it at listing)
ACTIVE, LATE, DEFAULTED = 0, 1, 2


@pytest.fixture
def m(chain, protocol, admin, merchant, payer, trader, keeper, usdc):
    """A market opened by this test: period 0 holds the history (its gross is
    the attested average R; target: half of it, grade A with volatility 25%),
    the clock is at the start of period 1, PE about 10, target 100,000 USDC
    per period from period 1."""
    return open_market(
        chain, protocol, admin, merchant, payer, trader, keeper, usdc, MarketPlan(revenue_target=TARGET), symbol="CRD"
    )


def _enter(m, period):
    """Moves to a minute into `period` and records a fresh TWAP."""
    router = m.listing.router
    m.chain.pending_timestamp = max(router.START() + period * PERIOD + 60, m.chain.blocks.head.timestamp + 1)
    assert router.current_period() <= period
    m.chain.mine()
    m.observe()


def _assess(m):
    receipt = m.reserve.assess(sender=m.keeper)
    [event] = receipt.events.filter(m.reserve.Assessed)
    return receipt, event


def _verify(m, admin, merchant):
    """A fresh attestation of a 100,000 USDC month (cap 105,000)."""
    from ape_pst_plugin.deployment import attest, default_inputs

    attest(m.protocol, merchant, default_inputs(100_000 * USDC, m.history[0][1]))


def _pay(m, payer, gross):
    m.usdc.faucet(payer, gross, sender=payer)
    m.listing.router.pay(b"\x07" * 32, gross, sender=payer)


def test_met_period_keeps_the_listing_active(m):
    assert m.listing.router.current_period() == 1
    receipt, event = _assess(m)
    assert (event.period, event.counted, event.due, event.slashed, event.status) == (
        0,
        m.history[0][1],
        m.history[0][1] * 5_000 // 10_000,
        0,
        ACTIVE,
    )
    assert m.reserve.reference_price() == 0


def test_miss_makes_the_listing_late_at_the_twap(m):
    _enter(m, 2)
    _assess(m)
    receipt, event = _assess(m)
    assert (event.period, event.counted, event.misses, event.status) == (1, 0, 1, LATE)
    assert m.reserve.status() == LATE
    assert m.reserve.reference_price() == m.oracle.twap_snapshot() > 0


def test_reference_price_is_recorded_when_entering_late_only(m):
    _enter(m, 2)
    _assess(m)
    _assess(m)
    reference = m.reserve.reference_price()
    m.sell_tokens(20_000 * WAD)
    _enter(m, 3)
    assert m.oracle.twap_snapshot() < reference
    _, event = _assess(m)
    assert (event.misses, event.status) == (2, LATE)
    assert m.reserve.reference_price() == reference


def test_met_period_makes_a_late_listing_active_again(m, payer, admin, merchant):
    _enter(m, 2)
    _assess(m)
    _assess(m)  # period 1 missed
    _verify(m, admin, merchant)  # issued in period 2: caps period 3
    _enter(m, 3)
    _pay(m, payer, TARGET)
    _enter(m, 4)
    _, event = _assess(m)  # period 2: the listing-time record is 60 days old at its start: cap 0
    assert (event.period, event.counted, event.status) == (2, 0, LATE)
    _, event = _assess(m)
    assert (event.period, event.counted, event.misses, event.status) == (3, TARGET, 0, ACTIVE)
    assert m.reserve.consecutive_misses() == 0


def test_three_misses_default_the_listing(m):
    _enter(m, 4)
    _assess(m)
    assessed = [_assess(m) for _ in range(3)]
    assert [event.status for _, event in assessed] == [LATE, LATE, DEFAULTED]
    assert m.reserve.status() == DEFAULTED
    # 100,000 stake: 20,000 + 16,000 + 12,800 slashed; the other 51,200 and the agent's slash go to the
    # fund at once (the pot keeps them up to its caps, the rest joins the free fund)
    receipt = assessed[-1][0]
    [slash] = receipt.events.filter(m.protocol.registry.AgentSlashed)
    [opened] = receipt.events.filter(m.protocol.fund.PotOpened)
    assert opened.earmarked + opened.earmarks_to_fund == 51_200 * USDC + slash.amount
    assert m.reserve.held_for_fund() == 0
    assert m.reserve.stake() == 0


# ---------------------------------------------------------------- stabiliser gates


def _late(m):
    _enter(m, 2)
    _assess(m)
    _assess(m)
    assert m.reserve.status() == LATE


def _defaulted(m):
    _enter(m, 4)
    for _ in range(4):
        _assess(m)
    assert m.reserve.status() == DEFAULTED


def _pe_below_band(m, admin):
    """Puts the band above the TWAP PE: the stabiliser wants to buy."""
    pe = m.oracle.pe()
    m.reserve.set_band(pe + WAD, pe + 10 * WAD, sender=admin)


def _pe_above_band(m, admin):
    pe = m.oracle.pe()
    m.reserve.set_band(max(WAD, pe // 4), pe // 2, sender=admin)


def _unchanged(m):
    r = m.reserve
    return r.free_balance(), r.inventory(), r.net_spent(), r.last_trade(), m.reserves()


def test_no_buys_while_late(m, admin):
    _late(m)
    _pe_below_band(m, admin)
    before = _unchanged(m)
    with ape.reverts("reserve: listing is late, no buys"):
        m.reserve.stabilise(sender=m.keeper)
    assert _unchanged(m) == before


def test_sells_go_on_while_late(m, admin):
    _late(m)
    _pe_above_band(m, admin)
    inventory = m.reserve.inventory()
    receipt = m.reserve.stabilise(sender=m.keeper)
    [event] = receipt.events.filter(m.reserve.Sold)
    assert m.reserve.inventory() == inventory - event.sold


def test_no_buys_when_defaulted(m, admin):
    _defaulted(m)
    _pe_below_band(m, admin)
    before = _unchanged(m)
    with ape.reverts("reserve: listing defaulted, no buys"):
        m.reserve.stabilise(sender=m.keeper)
    assert _unchanged(m) == before


def test_no_sells_when_defaulted(m, admin):
    _defaulted(m)
    _pe_above_band(m, admin)
    before = _unchanged(m)
    with ape.reverts("reserve: listing defaulted, no sells"):
        m.reserve.stabilise(sender=m.keeper)
    assert _unchanged(m) == before


def test_no_buys_on_stale_verified_revenue(m, admin, merchant):
    registry = m.protocol.registry
    m.sleep(registry.latest(merchant).expires_at - m.chain.blocks.head.timestamp)
    m.observe()
    assert not registry.is_fresh(merchant)
    assert m.listing.router.current_period() == 1  # EPS unchanged, status ACTIVE
    _pe_below_band(m, admin)
    before = _unchanged(m)
    with ape.reverts("reserve: verified revenue is stale, no buys"):
        m.reserve.stabilise(sender=m.keeper)
    assert _unchanged(m) == before


def test_a_new_record_lets_buys_resume(m, admin, merchant):
    registry = m.protocol.registry
    m.sleep(registry.latest(merchant).expires_at - m.chain.blocks.head.timestamp)
    m.observe()
    _verify(m, admin, merchant)
    _pe_below_band(m, admin)
    receipt = m.reserve.stabilise(sender=m.keeper)
    assert receipt.events.filter(m.reserve.Bought)


def test_sells_go_on_with_stale_verified_revenue(m, admin, merchant):
    registry = m.protocol.registry
    m.sleep(registry.latest(merchant).expires_at - m.chain.blocks.head.timestamp)
    m.observe()
    assert not registry.is_fresh(merchant)
    _pe_above_band(m, admin)
    assert m.reserve.stabilise(sender=m.keeper).events.filter(m.reserve.Sold)
