"""Every test starts on the clock the session left, whatever ran before it.

Run in file order: a fixture, then a test body, jump the clock 400 days;
each following test checks the clock is back. Anvil rewinds its clock when
ape reverts a test's snapshot (``evm_revert`` resets it to the reverted-to
block's timestamp); what used to leak is a function-scoped fixture that
overrides a session-scoped one of the same name: ape set it up before the
test's snapshot, so its time travel was never reverted (the CLI tests' own
``market`` over conftest's moved the clock 30 days per test).
``ape_pst_plugin.pytest_plugin`` sets such a fixture up inside the test's
snapshot."""

import pytest

DAY = 86_400
JUMP = 400 * DAY
#: how far the clock may move on its own while the tests run (seconds)
SLACK = 10 * 60


@pytest.fixture(scope="module")
def start(chain):
    """The clock when this module's first test began (a read, no transaction)."""
    return chain.pending_timestamp


@pytest.fixture
def pst_blueprints(start, chain):
    """Overrides the plugin's session-scoped ``pst_blueprints`` with a
    function-scoped fixture that travels 400 days."""
    chain.pending_timestamp += JUMP
    chain.mine()
    return {}


def _next_block_timestamp(chain):
    chain.mine()
    return chain.blocks.head.timestamp


def test_a_fixture_overriding_a_session_fixture_jumps_a_year(request, pst_blueprints, start, chain):
    scopes = [d.scope for d in request.node._fixtureinfo.name2fixturedefs["pst_blueprints"]]
    assert scopes == ["session", "function"]  # the plugin's fixture, overridden by this module's
    assert chain.blocks.head.timestamp >= start + JUMP


def test_after_that_fixture_the_clock_is_back_and_this_test_jumps_a_year(start, chain):
    assert abs(_next_block_timestamp(chain) - start) < SLACK
    chain.pending_timestamp += JUMP
    chain.mine()
    assert chain.blocks.head.timestamp >= start + JUMP


def test_after_that_test_the_clock_is_back(start, chain):
    assert abs(_next_block_timestamp(chain) - start) < SLACK
