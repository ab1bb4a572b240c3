import pytest

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
