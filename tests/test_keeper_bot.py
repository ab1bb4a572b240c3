"""The keeper bot (`ape_pst_plugin.bot`) run by Silverback itself, as a user
runs it (`silverback run ape_pst_plugin.bot:bot --network ethereum:local:node
--runner ape_pst_plugin.bot:KeeperRunner`), against this session's anvil
through a loopback proxy the test can cut: three listings of one factory,
one with finished periods to assess, one whose PE is under its band (a buy),
one whose oracle reverts. The bot assesses each finished period once, buys
once, logs one line per action and one per failure, the broken listing never
stops the others, a node that goes away and comes back is waited for, and a
listing that defaults is left alone. `keeper.keep` itself (the decision) is
unit-tested in `test_keeper.py`; the simulator runs the same function."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from ape_pst_plugin.constants import DEFAULTED
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


class Proxy:
    """A loopback TCP proxy to the test's anvil that the test can take down
    (every connection cut, the port refusing) and bring back on the same port."""

    def __init__(self, upstream: int):
        self.upstream, self.conns, self.server = upstream, [], None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.up()

    def up(self):
        self.server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()

    def down(self):
        self.server.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self.conns.clear()

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                return
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (a, b):
                try:
                    conn.close()
                except OSError:
                    pass


@pytest.fixture
def proxy(chain):
    proxy = Proxy(urlparse(chain.provider.uri).port)
    yield proxy
    proxy.down()


@pytest.fixture
def bot(tmp_path, chain, listings, proxy):
    """`silverback run` of the keeper in a project of its own whose ethereum:local:node is the
    proxy to this session's anvil; (process, log path). Stopped after the test."""
    protocol, _ = listings
    (tmp_path / "ape-config.yaml").write_text(
        "name: keeper-run\n"
        "node:\n  ethereum:\n    local:\n"
        f"      uri: http://127.0.0.1:{proxy.port}\n      chain_id: {chain.chain_id}\n      block_time: 1\n"
    )
    log = tmp_path / "bot.log"
    env = dict(os.environ, PST_FACTORY=protocol.factory.address, PST_RETRY_SECONDS="1")
    silverback = Path(sys.executable).with_name("silverback")
    command = [str(silverback), "run", "ape_pst_plugin.bot:bot", "--network", "ethereum:local:node"]
    command += ["--account", SIGNER, "--runner", "ape_pst_plugin.bot:KeeperRunner"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    yield process, log
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait(condition, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return False


def _served(chain, bot, condition, seconds=90) -> bool:
    """Mines a block a second (a round each) until ``condition``; the bot must keep running."""
    process, log = bot

    def round_done():
        assert process.poll() is None, log.read_text()[-3000:]
        chain.mine()
        return condition()

    return _wait(round_done, seconds)


def _rounds(log) -> int:
    """Rounds the bot finished (Silverback logs a handler's success after everything the round logged)."""
    return sum("SUCCESS:  serve[" in line for line in log.read_text().splitlines())


def _more_rounds(chain, bot, n: int) -> None:
    target = _rounds(bot[1]) + n
    assert _served(chain, bot, lambda: _rounds(bot[1]) >= target), bot[1].read_text()[-3000:]


def _finished(market, chain) -> int:
    router = market.listing.router
    return (chain.blocks.head.timestamp - router.START()) // router.PERIOD()


def test_the_bot_keeps_every_listing_and_a_broken_one_stops_nothing(chain, listings, bot):
    protocol, (due, buyer, broken) = listings
    finished = _finished(due, chain)
    assert finished >= 2 and due.reserve.next_period() == 0
    bought_before = buyer.reserve.inventory()
    served = _served(
        chain, bot, lambda: due.reserve.next_period() == finished and buyer.reserve.inventory() > bought_before
    )
    assert served, bot[1].read_text()[-3000:]
    _more_rounds(chain, bot, 3)  # nothing more is due
    text = bot[1].read_text()
    lines = text.splitlines()
    # every finished period of KA assessed exactly once, in order; KB bought once
    assert due.reserve.next_period() == finished
    assert sum("listing 0: assess" in line for line in lines) == finished, text[-3000:]
    assert sum("listing 1: stabilise in block" in line for line in lines) == 1, text[-3000:]
    # the broken listing: one line per round, never a traceback, and the others went on
    errors = [line for line in lines if "listing 2: " in line and "Error" in line]
    assert errors and "Traceback" not in text


def test_the_bot_waits_out_a_dead_node_and_leaves_a_defaulted_listing_alone(chain, listings, bot, proxy):
    protocol, (due, *_) = listings
    finished = _finished(due, chain)
    assert _served(chain, bot, lambda: due.reserve.next_period() == finished), bot[1].read_text()[-3000:]
    # the node goes away for a few seconds; meanwhile another period finishes
    proxy.down()
    chain.pending_timestamp += due.listing.router.PERIOD()
    chain.mine()
    # down until the bot's block polling has met the dead node (a fixed pause was too short under load)
    assert _wait(lambda: "polling blocks:" in bot[1].read_text(), 60), bot[1].read_text()[-3000:]
    assert bot[0].poll() is None, bot[1].read_text()[-3000:]
    proxy.up()
    # back: the new period is assessed once; KA had missed two, so this third miss defaults it
    assert _served(chain, bot, lambda: due.reserve.status() == DEFAULTED), bot[1].read_text()[-3000:]
    _more_rounds(chain, bot, 2)  # the round that saw the default has finished
    defaulted_at = len(bot[1].read_text().splitlines())
    _more_rounds(chain, bot, 3)
    text = bot[1].read_text()
    after = text.splitlines()[defaulted_at:]
    assert due.reserve.next_period() == finished + 1
    assert not [line for line in after if "listing 0: " in line]  # nothing more for a defaulted listing
    assert any("polling blocks:" in line for line in text.splitlines()), text[-3000:]
    assert "Traceback" not in text and bot[0].poll() is None
