"""pytest plugin (entry point ``pytest11``): fixtures for any Ape project that
tests against the PST protocol with ``ape test``.

Every fixture is named ``pst`` or ``pst_*`` so it cannot shadow a project's
own fixtures. The protocol is deployed once per session; ape's isolation
(a chain snapshot around every test) gives each test a fresh copy.

==================  =========  =====================================================
fixture             scope      what
==================  =========  =====================================================
``pst_accounts``    session    fresh funded accounts: admin, guardian, merchant,
                               payer, trader, keeper (not your ``accounts[i]``)
``pst_uniswap``     session    Uniswap V2 (WETH9, factory, Router02) deployed from the
                               npm build artifacts; override to use a deployed one
``pst_settlement``  session    a 6-decimal ``TestStablecoin`` with ``faucet(to, amount)``
``pst_blueprints``  session    ``{}``; override with e.g. ``{"Reserve": project.MyReserve}``
                               to deploy listings with your own contract variant
``pst``             session    the protocol (:class:`ape_pst_plugin.deployment.Protocol`)
``pst_listing``     function   factory: ``pst_listing(plan=None, symbol=None)`` opens a
                               listing with a seeded Uniswap V2 pool, 30 days of revenue,
                               a funded reserve and a fresh TWAP
                               (:class:`ape_pst_plugin.market.Market`)
``pst_stabiliser``  function   runner: ``pst_stabiliser(MachineClass, max_examples=5,
                               stateful_step_count=20)`` runs a
                               :class:`ape_pst_plugin.testing.StabiliserMachine` subclass
                               on a new listing opened with its ``params``
==================  =========  =====================================================

The npm artifacts are read from the ``pst.node_modules`` folder of your
``ape-config.yaml`` (relative to the project, or absolute).
"""

import itertools
from dataclasses import dataclass

import pytest

# a failing machine step should say which values differed, as in a test module
pytest.register_assert_rewrite("ape_pst_plugin.testing", "ape_pst_plugin.stabiliser_model")

from ape_pst_plugin.deployment import (  # noqa: E402
    Protocol,
    _containers,
    deploy_protocol_with,
    onboard_agent,
    top_up_fund,
)
from ape_pst_plugin.market import Market, MarketPlan, open_market  # noqa: E402
from ape_pst_plugin.testing import StabiliserMachine, fuzz_settings  # noqa: E402
from ape_pst_plugin.uniswap import deploy_uniswap  # noqa: E402

ETHER = 10**18


def _set_up_overrides_inside_their_scope():
    """ape (0.8) sets every fixture up between the isolation snapshots of its
    scope: session fixtures before the session snapshot's peers, function
    fixtures after the test's snapshot, which is reverted afterwards. It
    reads a fixture's scope from *every* definition of that name in the
    session, though, so a function-scoped fixture that overrides a
    session-scoped one of the same name (a test module's own ``market``
    over conftest's) is also listed with the session fixtures and set up
    there, before the test's snapshot: its transactions and its time travel
    were never reverted and moved every later test (``anvil`` itself rewinds
    its clock on ``evm_revert``). Here a fixture is listed once, under the
    scope of the definition this test uses (the last of its override chain)."""
    try:
        from ape.pytest.fixtures import FixtureMap
    except ImportError:  # not ape's pytest integration as we know it: leave it alone
        return
    if getattr(FixtureMap.from_test_item, "_pst_effective_scope", False):
        return
    original = FixtureMap.from_test_item.__func__

    def from_test_item(cls, item):
        visible = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", None)
        if visible is None:
            return original(cls, item)
        obj = cls(item)
        # ape's order (it decides which session fixture deploys first, hence the addresses)
        for name, definitions in obj._arg2fixturedefs.items():
            if not definitions or name not in item.fixturenames:
                continue
            if used := visible.get(name):
                obj[used[-1].scope].append(name)
            else:
                for definition in definitions:
                    obj[definition.scope].append(name)
        return obj

    from_test_item._pst_effective_scope = True
    FixtureMap.from_test_item = classmethod(from_test_item)


_set_up_overrides_inside_their_scope()


@dataclass
class PstAccounts:
    """The protocol's actors in the plugin's fixtures."""

    admin: object
    guardian: object
    merchant: object
    payer: object
    trader: object
    keeper: object
    agent: object
    """The risk agent, allow-listed and bonded on ``pst``."""


@pytest.fixture(scope="session")
def pst_accounts(accounts, networks):
    """Fresh test accounts, funded with 1,000 ether each. Fresh, so the
    fixtures never move your own ``accounts[i]``'s nonces or balances."""

    def fresh():
        account = accounts.generate_test_account()
        networks.provider.set_balance(account.address, 1_000 * ETHER)
        return account

    return PstAccounts(*(fresh() for _ in range(7)))


@pytest.fixture(scope="session")
def pst_uniswap(pst_accounts):
    """Uniswap V2 from its npm build artifacts (override this fixture to
    connect to an existing deployment, e.g. with
    :func:`ape_pst_plugin.uniswap.connect_uniswap` on a fork)."""
    return deploy_uniswap(pst_accounts.admin)


@pytest.fixture(scope="session")
def pst_settlement(pst_accounts):
    """The settlement token: a 6-decimal stablecoin with ``faucet(to, amount)``."""
    return pst_accounts.admin.deploy(_containers().TestStablecoin, "Test USD Coin", "USDC", 6)


@pytest.fixture(scope="session")
def pst_blueprints():
    """Listing blueprints to replace (name -> contract container); none by default."""
    return {}


@pytest.fixture(scope="session")
def pst(pst_accounts, pst_uniswap, pst_settlement, pst_blueprints) -> Protocol:
    """The PST protocol: the underwriting registry, listing blueprints and
    the factory, owned by ``pst_accounts.admin``, guardian
    ``pst_accounts.guardian``; ``pst_accounts.agent`` is bonded for 500
    listings of 2,000,000 settlement units of market cap, and the protection
    fund holds 100,000,000 (the minimum coverage of 1,000 such listings)."""
    a = pst_accounts
    unit = 10 ** pst_settlement.decimals()
    protocol = deploy_protocol_with(a.admin, pst_uniswap, pst_settlement, guardian=a.guardian, overrides=pst_blueprints)
    onboard_agent(protocol, a.admin, a.agent, 20_000_000 * unit)
    top_up_fund(protocol, a.admin, 100_000_000 * unit)
    return protocol


@pytest.fixture
def pst_listing(chain, pst, pst_accounts, pst_settlement):
    """Factory: ``pst_listing(plan=None, symbol=None) -> Market``. Each call
    creates a listing (1,000,000 tokens, 10% to its reserve) and opens its
    market as ``plan`` (:class:`MarketPlan`) says: pool depth, 30 days of
    revenue that put the PE at ``plan.target_pe``, the reserve's float."""
    symbols = (f"PST{i}" for i in itertools.count())
    a = pst_accounts

    def make(plan: MarketPlan | None = None, symbol: str | None = None) -> Market:
        return open_market(
            chain,
            pst,
            a.admin,
            a.merchant,
            a.payer,
            a.trader,
            a.keeper,
            pst_settlement,
            plan=plan,
            symbol=symbol or next(symbols),
        )

    return make


@pytest.fixture
def pst_stabiliser(pst_listing, pst_accounts):
    """Runner: ``pst_stabiliser(machine, max_examples=5, stateful_step_count=20,
    **hypothesis_settings) -> Counter`` opens a listing with
    ``machine.params.plan``, prepares it (band, limits, manipulator) and runs
    the machine; returns what it exercised (``seen["buy"]``, ...).
    The hypothesis profile scales ``max_examples``: ``--hypothesis-profile
    pst-long`` runs ten times as many, new ones; none loaded is the
    reproducible ``pst-ci`` (:data:`ape_pst_plugin.testing.PROFILES`)."""

    def run(machine: type[StabiliserMachine], max_examples: int = 5, stateful_step_count: int = 20, **overrides):
        market = pst_listing(plan=machine.params.plan)
        a = pst_accounts
        env = machine.prepare(market, admin=a.admin, merchant=a.merchant, payer=a.payer)
        # the same profiles as this repository's own machines: more examples, or fresh ones
        return machine.run(env, fuzz_settings(max_examples, stateful_step_count, **overrides))

    return run
