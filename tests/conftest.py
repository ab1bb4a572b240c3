import pytest

from ape_pst_plugin.deployment import create_listing, deploy_protocol, onboard_agent, top_up_fund
from ape_pst_plugin.testing import fuzz_reproducible
from ape_pst_plugin.testing import fuzz_settings as plugin_fuzz_settings
from ape_pst_plugin.uniswap import deploy_uniswap

USDC = 10**6


def _patient_anvil_start():
    """ape waits 20 s for a freshly started anvil to answer; with the two halves of `make test`
    side by side on two cores that was once not enough (both later sessions of the stand-in
    half timed out in a clean-clone run). Wait up to 120 s instead."""
    from ape_foundry.provider import FoundryProvider

    start = FoundryProvider.start

    def patient(self, timeout: int = 120):
        return start(self, timeout=max(timeout, 120))

    FoundryProvider.start = patient


_patient_anvil_start()


@pytest.fixture
def deployer(accounts, networks):
    """A fresh, funded account for contracts a test deploys itself. Snapshots
    rewind nonces: deploying from a shared account could put a different
    contract at an address ape already cached a contract type for."""
    account = accounts.generate_test_account()
    networks.provider.set_balance(account.address, 10**21)
    return account


@pytest.fixture
def new_merchant(accounts, networks):
    """A fresh, funded merchant with no attestation and no listing yet."""
    account = accounts.generate_test_account()
    networks.provider.set_balance(account.address, 10**21)
    return account


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
def on_standin(chain):
    """True on the mainnet stand-in (``ethereum:mainnet-fork:foundry`` forking
    ``ape pst fork start``): Uniswap V2 at its mainnet addresses, chain id 1."""
    from ape_pst_plugin import fork

    return fork.has_standin()


@pytest.fixture(autouse=True)
def _fork_only(request, on_standin):
    """Tests marked ``fork`` need the stand-in; elsewhere they are skipped."""
    if request.node.get_closest_marker("fork") and not on_standin:
        pytest.skip("needs the mainnet stand-in: `ape pst fork start`, then --network ethereum:mainnet-fork:foundry")


@pytest.fixture(scope="session")
def usdc(project, admin, on_standin):
    """The 6-decimal settlement token: on the stand-in the token at USDC's
    mainnet address (a faucet-able stand-in), elsewhere a fresh one."""
    if on_standin:
        from ape_pst_plugin import fork

        token = fork.mainnet_usdc()
        if not fork.is_standin_usdc(token):
            pytest.skip("a real USDC has no faucet: the suite runs on the offline stand-in")
        return token
    return admin.deploy(project.TestStablecoin, "Test USD Coin", "USDC", 6)


@pytest.fixture(scope="session")
def uniswap(admin, on_standin):
    """Uniswap V2: mainnet's addresses on the stand-in, deployed from npm elsewhere."""
    if on_standin:
        from ape_pst_plugin import fork

        return fork.mainnet_uniswap()
    return deploy_uniswap(admin)


@pytest.fixture(scope="session")
def agent(accounts, networks):
    """The risk agent of `protocol` (allow-listed, bonded): it attests every
    merchant the fixtures list."""
    account = accounts.generate_test_account()
    networks.provider.set_balance(account.address, 10**21)
    return account


@pytest.fixture(scope="session")
def protocol(admin, guardian, uniswap, usdc, agent):
    """The protocol owned by `admin`, with `agent` bonded for 500 listings of
    the fixtures' size (2,000,000 USDC market cap each) and a protection fund
    of 100,000,000 USDC (coverage for 1,000 of them)."""
    deployed = deploy_protocol(admin, uniswap, usdc, guardian=guardian)
    onboard_agent(deployed, admin, agent, 20_000_000 * USDC)
    top_up_fund(deployed, admin, 100_000_000 * USDC)
    return deployed


@pytest.fixture
def protocol_for(admin, uniswap, accounts, networks):
    """``protocol_for(token, bond)``: a protocol deployed by this test for
    another settlement ``token`` (it needs ``faucet``), with a fresh risk
    agent bonded ``bond`` token units (default 10**12)."""

    def make(token, bond: int = 10**12):
        deployed = deploy_protocol(admin, uniswap, token)
        agent = accounts.generate_test_account()
        networks.provider.set_balance(agent.address, 10**21)
        onboard_agent(deployed, admin, agent, bond)
        return deployed

    return make


@pytest.fixture(scope="session")
def registry(protocol):
    return protocol.registry


@pytest.fixture(scope="session")
def safe_owners(accounts):
    """The DAO Safe's three owners (2 of 3 sign); fresh keys, they only sign."""
    owners = [accounts.generate_test_account() for _ in range(3)]
    for owner in owners:
        accounts.provider.set_balance(owner.address, 10**21)
    return owners


@pytest.fixture(scope="session")
def governed(admin, uniswap, usdc, guardian, safe_owners, agent):
    """The protocol as `scripts/deploy.py` leaves it: a 2-of-3 Safe proposes to
    the timelock (2-day delay), the timelock owns the factory and the
    registry, the deployer keeps no role. `agent` is bonded on it."""
    from ape_pst_plugin.governance import deploy_governed_protocol

    protocol, governance = deploy_governed_protocol(
        admin,
        uniswap,
        usdc,
        owners=[o.address for o in safe_owners],
        threshold=2,
        min_delay=2 * 86_400,
        guardian=guardian,
        agents=[agent],
        agent_bond=20_000_000 * USDC,
    )
    top_up_fund(protocol, admin, 100_000_000 * USDC)
    return protocol, governance


@pytest.fixture(scope="module")
def governed_listing(governed, safe_owners, merchant, usdc, admin, chain):
    """A listing created the governed way: the merchant approves the stake,
    the Safe schedules `create_listing`, anyone executes after the delay.
    Per module: its two days of waiting are undone with the module, so they
    never age the session's listings."""
    from ape_pst_plugin import governance as gov
    from ape_pst_plugin.deployment import attest, default_inputs, listing_at, required_stake

    protocol, governance = governed
    attest(protocol, merchant, default_inputs(100_000 * USDC))
    usdc.faucet(merchant, 10_000_000 * USDC, sender=merchant)
    stake_bps = protocol.registry.listing_terms(merchant).stake_bps
    usdc.approve(protocol.factory, required_stake(10**6 * 10**18, 2 * 10**18, 6, stake_bps), sender=merchant)
    data = protocol.factory.create_listing.encode_input(
        "Governed Shop", "GOV", 10**6 * 10**18, 2 * 10**18, merchant, merchant
    )
    gov.propose(governance, protocol.factory.address, data, safe_owners[:2], sender=safe_owners[0])
    chain.pending_timestamp += 2 * 86_400
    gov.execute(governance, protocol.factory.address, data, sender=admin)
    return listing_at(protocol, protocol.factory.listing_count() - 1)


@pytest.fixture(scope="session")
def factory(protocol):
    return protocol.factory


@pytest.fixture(scope="session")
def listing(protocol, admin, merchant, usdc, payer, stakers):
    usdc.faucet(merchant, 10_000_000 * USDC, sender=merchant)
    new = create_listing(protocol, admin, merchant=merchant)
    usdc.faucet(payer, 10**12 * USDC, sender=payer)
    usdc.approve(new.router, 2**256 - 1, sender=payer)
    for staker in stakers:
        # the merchant's allocation vests: it releases 10,000 of its 225,000 unlocked tokens to each staker
        new.release(merchant, staker, 10_000 * 10**18)
        new.token.approve(new.staking, 2**256 - 1, sender=staker)
    return new


@pytest.fixture
def fresh_listing(protocol, admin, merchant, usdc, payer, stakers):
    """A listing created by this test, at this test's clock (for tests that jump
    periods or need a period 0 that starts now). Merchant, payer and stakers as
    for `listing`; the verified month revenue is 100,000 USDC (cap 105,000)."""
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    new = create_listing(protocol, admin, merchant=merchant, symbol="NEW")
    usdc.faucet(payer, 10**9 * USDC, sender=payer)
    usdc.approve(new.router, 2**256 - 1, sender=payer)
    for staker in stakers:
        new.release(merchant, staker, 10_000 * 10**18)
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
    """Hypothesis settings for the stateful machines: each machine's example
    count, scaled by the hypothesis profile (`--hypothesis-profile pst-long`
    runs ten times as many, new ones; none loaded is `pst-ci`, the same
    examples every run: see `ape_pst_plugin.testing.PROFILES`)."""

    def make(max_examples, stateful_step_count):
        return plugin_fuzz_settings(max_examples, stateful_step_count)

    # the reproducible profiles draw the same examples every time: coverage of rare branches can be asserted
    make.reproducible = fuzz_reproducible()
    return make


@pytest.fixture(scope="session")
def trader(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[9]


@pytest.fixture(scope="module")
def market(chain, protocol, admin, merchant, payer, trader, keeper, usdc):
    """A listing with a live pool and 30 days of revenue (`open_market`), per
    module: the 30 days it travels are undone with the module, so `listing`
    and every other session fixture keep the session's clock whatever ran
    first."""
    from ape_pst_plugin.market import MarketPlan, open_market

    # no revenue target after the history period: however far later tests move the clock,
    # every finished period is met (tests of misses open their own market)
    return open_market(
        chain, protocol, admin, merchant, payer, trader, keeper, usdc, plan=MarketPlan(revenue_target=0), symbol="MKT"
    )


@pytest.fixture
def defaulted_listing(protocol, admin, new_merchant, usdc, accounts, chain):
    """A listing that missed three periods: defaulted, its pot open. Test account 0 holds 1,000 of
    its tokens, the only tokens outside its insiders."""
    usdc.faucet(new_merchant, 1_000_000 * USDC, sender=new_merchant)
    listed = create_listing(protocol, admin, merchant=new_merchant, symbol="DFT")
    listed.release(new_merchant, accounts[0], 1_000 * 10**18)
    chain.pending_timestamp = listed.router.START() + 3 * 30 * 86_400 + 60
    chain.mine()
    for _ in range(3):  # nothing was paid: periods 0, 1 and 2 are missed
        listed.reserve.assess(sender=admin)
    assert protocol.fund.pots(listed.id).opened_at
    return listed


# ---------------------------------------------------------------- the CLI's view of the chain


@pytest.fixture
def record(tmp_path, monkeypatch):
    """The CLI's record of deployments, in a file of this test's own."""
    from ape_pst_plugin import registry

    path = tmp_path / "deployments.json"
    monkeypatch.setattr(registry, "record_path", lambda: path)
    return path


@pytest.fixture
def known(record, protocol, listing):
    """This network's record points at the test protocol (which has `listing`)."""
    from ape_pst_plugin import registry

    registry.save_record({"factory": protocol.factory.address, "uniswap_router": protocol.uniswap.router.address})
    return listing
