import os

import pytest
from hypothesis import HealthCheck, settings

from ape_pst_plugin.deployment import create_listing, deploy_protocol

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
def reserve(accounts):
    # Until the reserve contract lands, ALAR is an address the factory is given.
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
def protocol(admin, guardian):
    return deploy_protocol(admin, guardian=guardian)


@pytest.fixture(scope="session")
def factory(protocol):
    return protocol.factory


@pytest.fixture(scope="session")
def listing(protocol, admin, merchant, usdc, reserve, payer, stakers):
    usdc.faucet(merchant, 10_000_000 * USDC, sender=merchant)
    new = create_listing(protocol, admin, merchant=merchant, settlement=usdc, reserve=reserve)
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
