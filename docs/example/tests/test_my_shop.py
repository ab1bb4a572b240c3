"""A project that builds on the PST protocol: the fixtures come from the
ape-pst pytest plugin, the machine from ape_pst_plugin.testing."""

from ape_pst_plugin.market import MarketPlan
from ape_pst_plugin.testing import StabiliserMachine, StabiliserParams

WAD = 10**18
USDC = 10**6


def test_a_listing_trades_on_a_real_pool_at_pe_10(pst, pst_listing):
    market = pst_listing()  # 100,000 tokens against 200,000 USDC, 30 days of revenue
    assert pst.factory.listing_count() == 1  # every test starts from a fresh protocol
    assert market.spot() == 2 * WAD
    assert 9 * WAD < market.oracle.pe() < 11 * WAD


def test_payments_feed_the_reserve_when_nobody_stakes(pst, pst_listing, pst_accounts):
    market = pst_listing(MarketPlan(pool_settlement=100_000))  # a thinner pool: spot price 1
    assert pst.factory.listing_count() == 1
    assert market.spot() == WAD
    payer = pst_accounts.payer
    market.usdc.faucet(payer, 1_000 * USDC, sender=payer)  # the plugin's test stablecoin has a faucet
    before = market.reserve.free_balance()
    market.listing.router.pay(b"\x01" * 32, 1_000 * USDC, sender=payer)
    assert market.reserve.free_balance() == before + 100 * USDC  # the 10% holder share


class WideBand(StabiliserMachine):
    """Our listings keep PE between 5 and 20, with the widest capacity and a
    deeper reserve float."""

    params = StabiliserParams(
        pe_low=5 * WAD,
        pe_high=20 * WAD,
        capacity_bps=2_500,
        plan=MarketPlan(reserve_float=200_000),
    )


def test_the_stabiliser_keeps_our_band(pst_stabiliser):
    seen = pst_stabiliser(WideBand, max_examples=4, stateful_step_count=12)
    assert seen["none"] + seen["buy"] + seen["sell"] > 0  # stabilise() ran and matched the model
