import ape
import pytest

from ape_pst_plugin import pe as pem

USDC = 10**6
WAD = 10**18
DAY = 86_400


def test_twap_equals_spot_when_the_price_did_not_move(market):
    assert market.oracle.twap_price() == pytest.approx(2 * WAD, rel=1e-9)
    assert market.oracle.spot_price() == market.spot()


def test_eps_matches_the_python_model(market):
    listing = market.listing
    elapsed = market.chain.blocks.head.timestamp - market.oracle.START()
    circulating = listing.token.totalSupply() - listing.token.balanceOf(listing.reserve)
    # eps is snapshotted by the newest update(); revenue and supply have not changed since
    trailing = listing.router.trailing_holder_revenue(min(elapsed, pem.YEAR))
    observed_elapsed = market.oracle.last_observed() - market.oracle.START()
    expected = pem.eps(pem.annualised_earnings(trailing, observed_elapsed), circulating, 6)
    assert market.oracle.eps() == expected
    assert market.oracle.circulating_supply() == circulating == 900_000 * WAD


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
    market.sleep(10 * DAY)
    market.observe()
    assert market.oracle.pe() > 0


def test_fresh_listing_has_no_observation(protocol, admin, merchant, usdc, accounts):
    from ape_pst_plugin.deployment import create_listing

    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    fresh = create_listing(protocol, admin, merchant=merchant, settlement=usdc, symbol="NEW")
    with ape.reverts("oracle: no observation yet, call update()"):
        fresh.oracle.twap_price()
    with ape.reverts("oracle: less than 30 days of earnings history"):
        fresh.oracle.pe()


def test_pe_undefined_without_earnings(protocol, admin, merchant, usdc, uniswap, chain):
    from ape_pst_plugin.deployment import create_listing
    from ape_pst_plugin.uniswap import add_liquidity

    usdc.faucet(merchant, 2_000_000 * USDC, sender=merchant)
    fresh = create_listing(protocol, admin, merchant=merchant, settlement=usdc, symbol="DRY")
    add_liquidity(uniswap, merchant, fresh.token, 1_000 * WAD, usdc, 2_000 * USDC)
    chain.pending_timestamp += 31 * DAY
    fresh.oracle.update(sender=merchant)
    with ape.reverts("oracle: no earnings, PE undefined"):
        fresh.oracle.pe()


def test_twap_window_not_covered_right_after_first_update(protocol, admin, merchant, usdc, uniswap):
    from ape_pst_plugin.deployment import create_listing
    from ape_pst_plugin.uniswap import add_liquidity

    usdc.faucet(merchant, 2_000_000 * USDC, sender=merchant)
    fresh = create_listing(protocol, admin, merchant=merchant, settlement=usdc, symbol="TWO")
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


def test_prices_are_normalised_for_an_18_decimal_settlement_token(deployer, protocol, admin, merchant, project, uniswap):
    from ape_pst_plugin.deployment import create_listing
    from ape_pst_plugin.uniswap import add_liquidity

    dai = deployer.deploy(project.TestStablecoin, "Test DAI", "DAI", 18)
    dai.faucet(merchant, 10**6 * WAD, sender=merchant)
    fresh = create_listing(protocol, admin, merchant=merchant, settlement=dai, symbol="DAI")
    add_liquidity(uniswap, merchant, fresh.token, 1_000 * WAD, dai, 2_000 * WAD)
    assert fresh.oracle.spot_price() == 2 * WAD
