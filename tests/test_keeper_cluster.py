"""The keeper in Silverback's distributed mode, as a cluster runs it: a real
Redis server (Debian's `redis-server`, started here on a port of its own) is
the taskiq broker, the result backend and the keeper's per-listing locks; one
runner (`silverback run ... --runner ape_pst_plugin.bot:KeeperRunner`) and
three worker processes (`silverback worker`, each with its own keeper
account) serve LISTINGS listings on this session's anvil. Each listing has
four finished periods and no revenue after the first: periods 0-3 must be
assessed, in order, exactly once each (the fourth assessment is the third
miss: the listing defaults). One worker is killed mid-run (SIGKILL): its
locks expire and the others finish its work; no keeper transaction reverts
(a duplicate would)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ape_pst_plugin.constants import DEFAULTED, PERIOD
from ape_pst_plugin.deployment import deploy_protocol, onboard_agent, top_up_fund
from ape_pst_plugin.market import MarketPlan, open_market
from ape_pst_plugin.testing import fresh_account

USDC = 10**6
LISTINGS = 12
WORKERS = ("TEST::5", "TEST::6", "TEST::7")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    assert server, "no redis-server: `make` installs Debian's package (apt-get install redis-server)"
    port = _free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command + ["--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with socket.socket() as probe:
        assert _wait(lambda: probe.connect_ex(("127.0.0.1", port)) == 0, 10), "redis-server did not start"
    yield f"redis://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


@pytest.fixture
def listings(chain, uniswap, usdc):
    """LISTINGS listings of one protocol, listed together; then four periods pass."""
    admin, payer, trader, keeper = (fresh_account() for _ in range(4))
    protocol = deploy_protocol(admin, uniswap, usdc, guardian=admin)
    onboard_agent(protocol, admin, fresh_account(), 2_000_000 * USDC)
    top_up_fund(protocol, admin, 50_000_000 * USDC)
    plan = MarketPlan(history_days=0)
    markets = [
        open_market(chain, protocol, admin, fresh_account(), payer, trader, keeper, usdc, plan, symbol=f"C{i}")
        for i in range(LISTINGS)
    ]
    chain.pending_timestamp += 4 * PERIOD
    chain.mine()
    return protocol, markets


def _project(tmp_path, chain) -> Path:
    (tmp_path / "ape-config.yaml").write_text(
        "name: keeper-cluster\n"
        "node:\n  ethereum:\n    local:\n"
        f"      uri: {chain.provider.uri}\n      chain_id: {chain.chain_id}\n      block_time: 1\n"
    )
    return tmp_path


def _env(protocol, url) -> dict:
    return dict(
        os.environ,
        PST_FACTORY=protocol.factory.address,
        PST_REDIS_URL=url,
        PST_LOCK_SECONDS="5",
        SILVERBACK_BROKER_CLASS="taskiq_redis:ListQueueBroker",
        # redis-py 8 times the workers' blocking queue read out after 5 s unless told not to
        SILVERBACK_BROKER_KWARGS=json.dumps({"url": url, "socket_timeout": None}),
        SILVERBACK_RESULT_BACKEND_CLASS="taskiq_redis:RedisAsyncResultBackend",
        SILVERBACK_RESULT_BACKEND_KWARGS=json.dumps({"redis_url": url, "result_ex_time": 600}),
    )


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:  # the runner may ignore SIGTERM once it watches events
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_three_workers_assess_every_period_once_and_survive_a_killed_one(tmp_path, chain, listings, redis_url):
    protocol, markets = listings
    start_block = chain.blocks.head.number
    project, env = _project(tmp_path, chain), _env(protocol, redis_url)
    silverback = str(Path(sys.executable).with_name("silverback"))
    network = ["--network", "ethereum:local:node"]
    processes, logs = [], []
    try:
        for i, account in enumerate(WORKERS):
            log = (tmp_path / f"worker{i}.log").open("w")
            command = [silverback, "worker", "ape_pst_plugin.bot:bot", *network, "--account", account, "-w", "1"]
            processes.append(
                subprocess.Popen(
                    command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            logs.append(tmp_path / f"worker{i}.log")
        time.sleep(8)  # the workers listen before the runner sends
        runner_log = (tmp_path / "runner.log").open("w")
        command = [silverback, "run", "ape_pst_plugin.bot:bot", *network, "--runner", "ape_pst_plugin.bot:KeeperRunner"]
        runner = subprocess.Popen(
            command, cwd=project, env=env, stdout=runner_log, stderr=subprocess.STDOUT, start_new_session=True
        )
        processes.append(runner)

        def assessed() -> int:
            return sum(m.reserve.next_period() for m in markets)

        def mined_until(condition, seconds):
            def step():
                assert runner.poll() is None, (tmp_path / "runner.log").read_text()[-3000:]
                chain.mine()
                return condition()

            return _wait(step, seconds)

        # some work done, then one worker dies without a word
        assert mined_until(lambda: assessed() >= LISTINGS, 240), _tails(tmp_path)
        os.killpg(processes[0].pid, signal.SIGKILL)
        processes[0].wait()
        done = mined_until(lambda: all(m.reserve.status() == DEFAULTED for m in markets), 300)
        assert done, _tails(tmp_path)
        for _ in range(3):  # more rounds: nothing more to do
            chain.mine()
            time.sleep(1)
    finally:
        for process in processes:
            _stop(process)
    # every listing: periods 0, 1, 2, 3 assessed once each, in order; then nothing more
    for m in markets:
        periods = [log.period for log in m.reserve.Assessed.range(start_block, chain.blocks.head.number + 1)]
        assert periods == [0, 1, 2, 3], (m.token.symbol(), periods)
    # nothing sent twice: no keeper transaction reverted
    keepers = {_address(account) for account in WORKERS}
    web3 = chain.provider.web3
    sent = failed = 0
    for number in range(start_block + 1, chain.blocks.head.number + 1):
        for tx in web3.eth.get_block(number, full_transactions=True).transactions:
            if tx["from"] in keepers:
                sent += 1
                failed += web3.eth.get_transaction_receipt(tx["hash"])["status"] != 1
    assert sent >= 4 * LISTINGS and failed == 0, (sent, failed)
    # the two surviving workers both served listings
    served = [sum("assess in block" in line for line in log.read_text().splitlines()) for log in logs]
    assert served[1] > 0 and served[2] > 0, served


def _address(alias: str) -> str:
    from ape import accounts

    return accounts.test_accounts[int(alias.split("::")[1])].address


def _tails(tmp_path) -> str:
    return "\n".join(f"== {p.name}\n{p.read_text()[-1500:]}" for p in sorted(tmp_path.glob("*.log")))
