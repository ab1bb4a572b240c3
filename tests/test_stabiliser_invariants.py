"""S1-S7 and C1 of PROTOCOL.md, fuzzed with the plugin's reusable
``StabiliserMachine`` (ape_pst_plugin.testing) on anvil against the real
Uniswap V2 pair: traders of random size, revenue, keeper update()/
stabilise()/assess() calls, same-block manipulation and time jumps of minutes
to weeks. After every step the contracts must agree, to the wei, with the
independent Python model in ape_pst_plugin.stabiliser_model.

The machine takes Uniswap, the settlement token and the listing from the
``market`` fixture, so this file runs unchanged on any network the conftest
fixtures support."""

import pytest

from ape_pst_plugin.testing import StabiliserMachine


@pytest.fixture
def machine_env(deployer, market, admin, payer, merchant):
    return StabiliserMachine.prepare(market, admin=admin, merchant=merchant, payer=payer, deployer=deployer)


def test_stabiliser_invariants(machine_env, fuzz_settings):
    seen = StabiliserMachine.run(machine_env, fuzz_settings(max_examples=8, stateful_step_count=30))
    print(dict(seen))
    if fuzz_settings.reproducible:
        # the default examples must reach every branch the invariants talk about
        assert seen["buy"] and seen["sell"] and seen["none"] and seen["slash"], dict(seen)
