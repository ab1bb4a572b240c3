import os

import pytest
from hypothesis import HealthCheck, settings

from ape_pst_plugin.deployment import create_listing, deploy_protocol
from ape_pst_plugin.uniswap import deploy_uniswap

USDC = 10**6


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def merchant(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def payer(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def guardian(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def stakers(accounts):
    return accounts[5:8]


@pytest.fixture(scope="session")
def attacker(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def usdc(project, admin):
    return admin.deploy(project.TestStablecoin, "Test USD Coin", "USDC", 6)


@pytest.fixture(scope="session")
def uniswap(admin):
    return deploy_uniswap(admin)


@pytest.fixture(scope="session")
def protocol(admin, guardian, uniswap):
    return deploy_protocol(admin, uniswap, guardian=guardian)


@pytest.fixture(scope="session")
def factory(protocol):
    return protocol.factory


@pytest.fixture(scope="session")
def listing(protocol, admin, merchant, usdc, payer, stakers):
    usdc.faucet(merchant, 10_000_000 * USDC, sender=merchant)
    new = create_listing(protocol, admin, merchant=merchant, settlement=usdc)
    usdc.faucet(payer, 10**12 * USDC, sender=payer)
    usdc.approve(new.router, 2**256 - 1, sender=payer)
    for staker in stakers:
        new.token.transfer(staker, 10_000 * 10**18, sender=merchant)
        new.token.approve(new.staking, 2**256 - 1, sender=staker)
    return new


@pytest.fixture
def token(listing):
    return listing.token


@pytest.fixture
def router(listing):
    return listing.router


@pytest.fixture
def staking(listing):
    return listing.staking


@pytest.fixture
def reserve(listing):
    return listing.reserve


@pytest.fixture
def oracle(listing):
    return listing.oracle


@pytest.fixture(scope="session")
def fuzz_settings():
    """Hypothesis settings for the stateful machines. PST_FUZZ_SCALE multiplies
    the number of examples (e.g. 10 for a long local run)."""
    scale = float(os.environ.get("PST_FUZZ_SCALE", "1"))

    def make(max_examples, stateful_step_count):
        return settings(
            max_examples=max(1, int(max_examples * scale)),
            stateful_step_count=stateful_step_count,
            deadline=None,
            # every example restores a chain snapshot; examples are slow by nature
            suppress_health_check=list(HealthCheck),
        )

    return make


WAD = 10**18
DAY = 86_400
POOL_TOKENS = 100_000 * WAD
POOL_USDC = 200_000 * USDC  # spot price 2 USDC
# 30 days of revenue that annualise to EPS 0.2 USDC on 900,000 circulating
# tokens: PE 10 at the pool price of 2, inside the 8..15 band.
HISTORY_GROSS = 147_945_205_479


class Market:
    """A listing with a seeded Uniswap V2 pool, 30 days of revenue, a fresh
    TWAP and a funded reserve; helpers move time and price."""

    def __init__(self, chain, listing, uniswap, usdc, trader, keeper):
        self.chain, self.listing, self.uniswap, self.usdc = chain, listing, uniswap, usdc
        self.token, self.oracle, self.reserve, self.pair = listing.token, listing.oracle, listing.reserve, listing.pair
        self.trader, self.keeper = trader, keeper

    def sleep(self, seconds):
        self.chain.pending_timestamp += seconds
        self.chain.mine()

    def observe(self):
        """Two oracle observations a TWAP window apart, ending now."""
        window = self.oracle.twap_window()
        self.oracle.update(sender=self.keeper)
        self.sleep(window)
        self.oracle.update(sender=self.keeper)

    def settle(self):
        """Lets the spot price become the TWAP: a window at the new price."""
        window = self.oracle.twap_window()
        self.sleep(1)
        self.oracle.update(sender=self.keeper)
        self.sleep(window)

    def sell_tokens(self, amount):
        from ape_pst_plugin.uniswap import swap_exact_in

        return swap_exact_in(self.uniswap, self.trader, self.token, amount, self.usdc)

    def buy_tokens(self, usdc_amount):
        from ape_pst_plugin.uniswap import swap_exact_in

        return swap_exact_in(self.uniswap, self.trader, self.usdc, usdc_amount, self.token)

    def reserves(self):
        r0, r1, _ = self.pair.getReserves()
        return (r0, r1) if self.pair.token0() == self.token.address else (r1, r0)

    def spot(self):
        from ape_pst_plugin.pe import spot_price

        r_token, r_usdc = self.reserves()
        return spot_price(r_token, r_usdc, 6)


@pytest.fixture(scope="session")
def trader(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[9]


@pytest.fixture(scope="session")
def market(chain, listing, uniswap, usdc, merchant, payer, trader, keeper, admin):
    from ape_pst_plugin.uniswap import add_liquidity

    usdc.faucet(merchant, POOL_USDC, sender=merchant)
    add_liquidity(uniswap, merchant, listing.token, POOL_TOKENS, usdc, POOL_USDC)
    history = listing.router.pay(b"history".ljust(32, b"\0"), HISTORY_GROSS, sender=payer)
    chain.pending_timestamp += 30 * DAY
    chain.mine()
    usdc.faucet(listing.reserve, 50_000 * USDC, sender=admin)  # treasury float for buy-backs
    listing.token.transfer(trader, 200_000 * WAD, sender=merchant)
    usdc.faucet(trader, 10_000_000 * USDC, sender=trader)
    m = Market(chain, listing, uniswap, usdc, trader, keeper)
    m.history = [(history.timestamp, HISTORY_GROSS)]
    m.observe()
    return m
