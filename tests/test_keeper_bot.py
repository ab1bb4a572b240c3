"""The keeper bot (`ape_pst_plugin.bot`) run by Silverback itself, as a user
runs it (`silverback run ape_pst_plugin.bot:bot --network ethereum:local:node`),
against this session's anvil: three listings of one factory, one with a
finished period to assess, one whose PE is under its band (a buy), one whose
oracle reverts. The bot assesses each finished period once, buys once,
logs one line per action and one per failure, and the broken listing never
stops the others. `keeper.keep` itself (the decision) is unit-tested in
`test_keeper.py`; the simulator runs the same function."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ape_pst_plugin.deployment import attest, default_inputs, deploy_protocol, onboard_agent, top_up_fund
from ape_pst_plugin.market import MarketPlan, open_market
from ape_pst_plugin.testing import fresh_account

USDC = 10**6
WAD = 10**18
SIGNER = "TEST::5"  # a test account no fixture of this module sends from while the bot runs
REVERT = "0x60006000fd"  # PUSH1 0 PUSH1 0 REVERT: every call reverts


@pytest.fixture
def listings(chain, accounts, uniswap, usdc):
    admin, payer, trader, keeper = (fresh_account() for _ in range(4))
    protocol = deploy_protocol(admin, uniswap, usdc, guardian=admin)
    onboard_agent(protocol, admin, fresh_account(), 1_000_000 * USDC)
    top_up_fund(protocol, admin, 10_000_000 * USDC)
    markets = [
        open_market(chain, protocol, admin, fresh_account(), payer, trader, keeper, usdc, MarketPlan(), symbol=s)
        for s in ("KA", "KB", "KC")
    ]
    due, buyer, broken = markets
    # KB: fresh verified revenue and a band above its PE: stabilise() buys
    attest(protocol, buyer.listing.merchant, default_inputs(100_000 * USDC))
    buyer.observe()
    pe = buyer.oracle.pe()
    buyer.reserve.set_band(pe + WAD, pe + 10 * WAD, sender=admin)
    buyer.reserve.stabilise.call(sender=accounts[5])  # it would trade now (a refusal raises)
    # KC: its oracle reverts on every call
    chain.provider.set_code(broken.oracle.address, REVERT)
    return protocol, markets


def _bot(tmp_path, chain):
    """`silverback run` in a project of its own whose ethereum:local:node is this session's anvil."""
    (tmp_path / "ape-config.yaml").write_text(
        "name: keeper-run\n"
        "node:\n  ethereum:\n    local:\n"
        f"      uri: {chain.provider.uri}\n      chain_id: {chain.chain_id}\n      block_time: 1\n"
    )
    return tmp_path


def _wait(condition, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return False


def test_the_bot_keeps_every_listing_and_a_broken_one_stops_nothing(tmp_path, chain, listings):
    protocol, (due, buyer, broken) = listings
    finished = (chain.blocks.head.timestamp - due.listing.router.START()) // due.listing.router.PERIOD()
    assert finished >= 2 and due.reserve.next_period() == 0
    bought_before = buyer.reserve.inventory()
    log = tmp_path / "bot.log"
    env = dict(os.environ, PST_FACTORY=protocol.factory.address)
    silverback = Path(sys.executable).with_name("silverback")
    command = [str(silverback), "run", "ape_pst_plugin.bot:bot", "--network", "ethereum:local:node"]
    with log.open("w") as out:
        bot = subprocess.Popen(
            command + ["--account", SIGNER], cwd=_bot(tmp_path, chain), env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:

            def served():
                assert bot.poll() is None, log.read_text()[-3000:]  # the bot must not stop
                chain.mine()  # a new block: one round
                return due.reserve.next_period() == finished and buyer.reserve.inventory() > bought_before

            assert _wait(served), log.read_text()[-3000:]
            for _ in range(3):  # more rounds: nothing more is due
                chain.mine()
                time.sleep(1.5)
            assert bot.poll() is None, log.read_text()[-3000:]  # still running
        finally:
            bot.terminate()
            try:
                bot.wait(15)
            except subprocess.TimeoutExpired:
                bot.kill()
    text = log.read_text()
    lines = text.splitlines()
    # every finished period of KA assessed exactly once, in order; KB bought once
    assert due.reserve.next_period() == finished
    assert sum("listing 0: assess" in line for line in lines) == finished, text[-3000:]
    assert sum("listing 1: stabilise in block" in line for line in lines) == 1, text[-3000:]
    # the broken listing: one line per round, never a traceback, and the others went on
    errors = [line for line in lines if "listing 2: " in line and "Error" in line]
    assert errors and "Traceback" not in text
