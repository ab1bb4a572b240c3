"""ape_pst_plugin.pe against the deployed contracts: hypothesis draws the pool
state (a trade of any size either way), fresh revenue and a wait; the
oracle's views and the reserve's actual trade must equal the pure Python
helpers to the wei, for a 6- and an 18-decimal settlement token."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ape_pst_plugin import pe as pem
from ape_pst_plugin.deployment import deploy_protocol, onboard_agent
from ape_pst_plugin.market import MarketPlan, open_market

WAD = 10**18
DAY = 86_400


def _fresh_account(accounts, networks):
    account = accounts.generate_test_account()  # fresh: snapshots rewind nonces
    networks.provider.set_balance(account.address, 10**21)
    return account


@pytest.fixture(scope="module")
def market6(chain, protocol, admin, usdc, payer, trader, keeper, accounts, networks):
    """A market settled in the 6-decimal stablecoin, opened without waiting for
    its history period to finish: market18's opening (30 days) finishes it, so
    both markets sit at the start of their period 1 with PE about 10, whatever
    the session's clock. Its own merchant: verified revenue is per merchant."""
    merchant = _fresh_account(accounts, networks)
    return open_market(
        chain, protocol, admin, merchant, payer, trader, keeper, usdc, MarketPlan(history_days=0), symbol="P6"
    )


@pytest.fixture(scope="module")
def market18(market6, chain, protocol, admin, payer, trader, keeper, accounts, networks, project):
    """A second market settled in an 18-decimal stablecoin (decimal normalisation),
    on a protocol deployed for that token."""
    minter = _fresh_account(accounts, networks)
    dai = minter.deploy(project.TestStablecoin, "Test DAI", "DAI", 18)
    merchant = _fresh_account(accounts, networks)
    dai_protocol = deploy_protocol(admin, protocol.uniswap, dai)
    onboard_agent(dai_protocol, admin, _fresh_account(accounts, networks), 1_000_000 * WAD)
    return open_market(chain, dai_protocol, admin, merchant, payer, trader, keeper, dai, MarketPlan(), symbol="D18")


@pytest.fixture(scope="module")
def markets(market6, market18, admin):
    market6.observe()  # its first observations in period 1: EPS from the history period, a fresh TWAP
    for m in (market6, market18):
        assert m.listing.router.current_period() == 1
        # the widest capacity and a deep float, so that most trades run to the target, not to the epoch's budget
        r = m.reserve
        r.set_limits(
            2_500, r.cooldown(), r.max_slippage_bps(), r.max_deviation_bps(), r.max_exposure_bps(), sender=admin
        )
        m.usdc.faucet(r, 5_000_000 * 10**m.decimals, sender=admin)
    return {6: market6, 18: market18}


def _expected_eps(m):
    """EPS from the counted revenue of the periods finished at the newest observation."""
    oracle, router = m.oracle, m.listing.router
    finished = (oracle.last_observed() - oracle.START()) // pem.PERIOD
    n = pem.trailing_periods(finished)
    counted = sum(router.counted(p) for p in range(finished - n, finished))
    circulating = m.token.totalSupply() - m.token.balanceOf(m.reserve)
    return pem.eps(pem.annual_earnings(counted, n, router.share_bps()), circulating, m.decimals)


@settings(max_examples=24, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(
    decimals=st.sampled_from([6, 18]),
    sell=st.booleans(),
    frac=st.one_of(st.floats(0.0, 0.02), st.floats(0.02, 0.8)),
    revenue=st.one_of(st.just(0), st.integers(1, 400_000)),
    wait=st.integers(0, 3 * DAY),
)
def _compare(markets, chain, payer, compared, decimals, sell, frac, revenue, wait):
    m = markets[decimals]
    unit = 10**decimals
    snapshot = chain.snapshot()
    # anvil keeps its clock across a revert: pin each example to the snapshot's time, so waits never add up
    chain.pending_timestamp = chain.blocks.head.timestamp + 1
    try:
        eps_before = m.oracle.eps_snapshot()
        # the pool state: one trade of the drawn size
        r_token, r_settlement = m.reserves()
        amount = int((r_token if sell else r_settlement) * frac)
        if amount:
            (m.sell_tokens if sell else m.buy_tokens)(amount)
        if revenue:
            m.usdc.faucet(payer, revenue * unit, sender=payer)
            m.listing.router.pay(b"\x01" * 32, revenue * unit, sender=payer)
        m.sleep(wait)
        m.settle()  # the TWAP catches up with the spot

        oracle, reserve = m.oracle, m.reserve
        r_token, r_settlement = m.reserves()
        assert oracle.spot_price() == pem.spot_price(r_token, r_settlement, decimals)
        # the newest observation's EPS, recomputed from the router's counted revenue and the supply;
        # the running period's revenue never moves it
        eps = _expected_eps(m)
        assert oracle.eps() == eps == eps_before
        twap = oracle.twap_price()
        assert oracle.pe() == pem.pe(twap, eps)
        p_low, p_high = pem.target_prices(eps, reserve.pe_low(), reserve.pe_high())

        # what the reserve actually trades, against the exact swap-to-target amount
        pe = pem.pe(twap, eps)
        free, inventory, net = reserve.free_balance(), reserve.inventory(), reserve.net_spent()
        receipt = reserve.stabilise(sender=m.keeper)
        if reserve.pe_low() <= pe <= reserve.pe_high():
            assert receipt.return_value == 0
            compared.append((decimals, "none", False))
            return
        buying = pe < reserve.pe_low()
        target = p_low if buying else p_high
        # min(x_spot, x_twap): the TWAP-implied pool bounds the trade too
        wanted = pem.trade_to_target(buying, r_token, r_settlement, twap, target, decimals)
        held = free if buying else inventory
        budget = held * reserve.capacity_bps() // pem.BPS
        expected = min(wanted, held, budget)
        if buying:
            expected = min(expected, pem.exposure_room(free, net, reserve.max_exposure_bps()))
        assert receipt.return_value == expected
        [event] = receipt.events.filter(reserve.Bought if buying else reserve.Sold)
        r_in, r_out = (r_settlement, r_token) if buying else (r_token, r_settlement)
        assert event.received == pem.amount_out(expected, r_in, r_out)
        assert event.target_price == target
        spot = m.spot()
        if expected == wanted:
            # landed on the target, never beyond it (rounded down)
            assert (spot <= target) if buying else (spot >= target)
            assert abs(spot - target) * 10**6 <= target  # within one part per million
        compared.append((decimals, "buy" if buying else "sell", expected != wanted))
    finally:
        chain.restore(snapshot)


def test_pe_helpers_equal_the_contracts(markets, chain, payer):
    compared = []  # (decimals, kind, capped by the epoch budget) of every stabilise() compared
    _compare(markets, chain, payer, compared)
    # the draws must have compared the exact swap-to-target amount (uncapped trades)
    # for buys at both decimals and for sells, and an in-band call
    reached = {(d, kind) for d, kind, capped in compared if not capped}
    assert {(6, "buy"), (18, "buy")} <= reached, compared
    assert "sell" in {k for _, k in reached} and "none" in {k for _, k in reached}, compared
