import ape
import pytest

from ape_pst_plugin import pe as pem

USDC = 10**6
WAD = 10**18
DAY = 86_400


def test_twap_equals_spot_when_the_price_did_not_move(market):
    assert market.oracle.twap_price() == pytest.approx(2 * WAD, rel=1e-9)
    assert market.oracle.spot_price() == market.spot()


def _expected_eps(market):
    """EPS from the counted revenue of the periods finished at the newest observation."""
    oracle, router, token = market.oracle, market.listing.router, market.token
    finished = (oracle.last_observed() - oracle.START()) // pem.PERIOD
    n = pem.trailing_periods(finished)
    counted = sum(router.counted(p) for p in range(finished - n, finished))
    circulating = token.totalSupply() - token.balanceOf(market.reserve)
    return pem.eps(pem.annual_earnings(counted, n, router.share_bps()), circulating, 6)


def test_eps_matches_the_python_model(market):
    assert market.oracle.eps() == market.oracle.eps_snapshot() == _expected_eps(market)


def test_annual_earnings_are_the_finished_periods_counted_revenue_annualised(market):
    router = market.listing.router
    assert router.current_period() == 1  # the history filled period 0
    # one finished period: E = counted[0] * 10% * 365 / 30
    assert market.oracle.annual_earnings() == router.counted(0) * 1_000 // 10_000 * pem.YEAR // pem.PERIOD
    assert router.counted(0) == market.history[0][1]  # verified month revenue = the history: counted in full


def test_circulating_supply_counts_unvested_tokens(market):
    # supply less the reserve's 100,000: the vesting contract's tokens count (vesting never moves PE)
    assert market.oracle.circulating_supply() == 900_000 * WAD


def test_holder_supply_excludes_the_vesting_contract(market):
    vesting = market.token.balanceOf(market.listing.vesting)
    assert vesting == 675_000 * WAD  # the market released the 225,000 unlocked at listing
    assert market.oracle.holder_supply() == 900_000 * WAD - vesting == 225_000 * WAD


def test_payment_in_the_running_period_never_moves_eps(market, payer):
    eps, pe = market.oracle.eps_snapshot(), market.oracle.pe()
    market.usdc.faucet(payer, 1_000_000 * USDC, sender=payer)
    market.listing.router.pay(b"\x01" * 32, 1_000_000 * USDC, sender=payer)
    market.sleep(market.oracle.twap_window())
    assert market.oracle.update(sender=market.keeper).return_value is True
    assert market.oracle.eps_snapshot() == eps
    assert market.oracle.pe() == pe  # the price did not move either


def test_insider_payment_never_moves_eps(market, merchant):
    eps = market.oracle.eps_snapshot()
    market.usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    market.usdc.approve(market.listing.router, 1_000_000 * USDC, sender=merchant)
    market.listing.router.pay(b"\x01" * 32, 1_000_000 * USDC, sender=merchant)
    market.sleep(market.oracle.twap_window())
    market.oracle.update(sender=market.keeper)
    assert market.oracle.eps_snapshot() == eps
    assert market.listing.router.period_gross(1) == 0


def test_pe_is_price_over_eps(market):
    price, eps = market.oracle.price_and_eps()
    assert market.oracle.pe() == price * WAD // eps
    assert 9 * WAD < market.oracle.pe() < 11 * WAD


def test_twap_follows_a_sustained_price_move(market):
    market.sell_tokens(20_000 * WAD)
    market.settle()
    assert market.oracle.twap_price() == pytest.approx(market.spot(), rel=1e-6)
    assert market.oracle.twap_price() < 2 * WAD


def test_spot_move_inside_the_block_does_not_move_the_twap(market):
    before = market.oracle.twap_price()
    market.sell_tokens(50_000 * WAD)
    # the cumulative price only accrues the new price from the next second on
    assert market.oracle.twap_price() == before
    assert market.oracle.spot_price() < before // 2


def test_update_records_one_observation_per_window(market):
    market.sleep(market.oracle.twap_window())
    assert market.oracle.update(sender=market.keeper).return_value is True
    last = market.oracle.last_observed()
    receipt = market.oracle.update(sender=market.keeper)
    assert receipt.return_value is False
    assert market.oracle.last_observed() == last
    assert not receipt.events.filter(market.oracle.Observed)


def test_stale_observation_reverts(market):
    market.sleep(market.oracle.max_age() + 1)
    with ape.reverts("oracle: stale price, call update()"):
        market.oracle.pe()
    with ape.reverts("oracle: stale price, call update()"):
        market.oracle.twap_price()


def test_late_keeper_recovers_with_two_updates(market):
    market.sleep(market.oracle.max_age() + 3_600)
    with ape.reverts("oracle: stale price, call update()"):
        market.oracle.pe()
    market.observe()
    assert market.oracle.pe() > 0


def test_fresh_listing_has_no_observation(fresh_listing):
    with ape.reverts("oracle: no observation yet, call update()"):
        fresh_listing.oracle.twap_price()
    assert fresh_listing.oracle.twap_snapshot() == 0
    assert fresh_listing.oracle.eps_snapshot() == 0


@pytest.mark.parametrize("view", ["pe", "eps", "price_and_eps", "annual_earnings"])
def test_pe_undefined_before_the_first_period_finished(fresh_listing, payer, uniswap, merchant, view):
    from ape_pst_plugin.uniswap import add_liquidity

    fresh_listing.router.pay(b"\x01" * 32, 100_000 * USDC, sender=payer)  # revenue of the running period
    fresh_listing.release(merchant, merchant, 1_000 * WAD)
    fresh_listing.settlement.faucet(merchant, 2_000 * USDC, sender=merchant)
    add_liquidity(uniswap, merchant, fresh_listing.token, 1_000 * WAD, fresh_listing.settlement, 2_000 * USDC)
    fresh_listing.oracle.update(sender=merchant)
    with ape.reverts("oracle: no finished period yet, PE undefined"):
        getattr(fresh_listing.oracle, view)()
    assert fresh_listing.oracle.eps_snapshot() == 0


def test_twap_window_not_covered_right_after_first_update(protocol, admin, merchant, usdc, uniswap):
    from ape_pst_plugin.deployment import create_listing
    from ape_pst_plugin.uniswap import add_liquidity

    usdc.faucet(merchant, 2_000_000 * USDC, sender=merchant)
    fresh = create_listing(protocol, admin, merchant=merchant, symbol="TWO")
    fresh.release(merchant, merchant, 1_000 * WAD)
    add_liquidity(uniswap, merchant, fresh.token, 1_000 * WAD, usdc, 2_000 * USDC)
    fresh.oracle.update(sender=merchant)
    with ape.reverts("oracle: TWAP window not covered yet"):
        fresh.oracle.twap_price()


def test_admin_sets_twap_window(oracle, admin):
    oracle.set_twap_window(900, 3_600, sender=admin)
    assert oracle.twap_window() == 900
    assert oracle.max_age() == 3_600


@pytest.mark.parametrize(
    "window, age, reason",
    [
        (599, 3_600, "oracle: twap_window below 10 minutes"),
        (1_800, 1_800, "oracle: max_age must exceed twap_window"),
    ],
)
def test_twap_window_bounds(oracle, admin, window, age, reason):
    with ape.reverts(reason):
        oracle.set_twap_window(window, age, sender=admin)
    assert oracle.twap_window() == 1_800


def test_only_admin_sets_twap_window(oracle, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        oracle.set_twap_window(900, 3_600, sender=attacker)


def test_prices_are_normalised_for_an_18_decimal_settlement_token(
    deployer, protocol_for, admin, new_merchant, project, uniswap
):
    from ape_pst_plugin.deployment import create_listing
    from ape_pst_plugin.uniswap import add_liquidity

    merchant = new_merchant
    dai = deployer.deploy(project.TestStablecoin, "Test DAI", "DAI", 18)
    dai.faucet(merchant, 10**6 * WAD, sender=merchant)
    fresh = create_listing(protocol_for(dai, 10**6 * WAD), admin, merchant=merchant, symbol="DAI")
    fresh.release(merchant, merchant, 1_000 * WAD)
    add_liquidity(uniswap, merchant, fresh.token, 1_000 * WAD, dai, 2_000 * WAD)
    assert fresh.oracle.spot_price() == 2 * WAD
