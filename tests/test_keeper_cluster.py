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

import time

import pytest

from ape_pst_plugin.constants import DEFAULTED, PERIOD
from ape_pst_plugin.deployment import deploy_protocol, onboard_agent, top_up_fund
from ape_pst_plugin.keeper_cluster import cluster, redis_server, wait_for
from ape_pst_plugin.market import MarketPlan, open_market
from ape_pst_plugin.testing import fresh_account

USDC = 10**6
LISTINGS = 12
WORKERS = ("TEST::5", "TEST::6", "TEST::7")


@pytest.fixture
def redis_url(tmp_path):
    with redis_server(tmp_path) as url:
        yield url


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


def test_three_workers_assess_every_period_once_and_survive_a_killed_one(tmp_path, chain, listings, redis_url):
    protocol, markets = listings
    start_block = chain.blocks.head.number
    factory, uri = protocol.factory.address, chain.provider.uri
    with cluster(tmp_path, uri, chain.chain_id, factory, list(WORKERS), redis_url, PST_LOCK_SECONDS=5) as keepers:

        def assessed() -> int:
            return sum(m.reserve.next_period() for m in markets)

        def mined_until(condition, seconds):
            def step():
                assert keepers.alive(), keepers.tails()
                chain.mine()
                return condition()

            return wait_for(step, seconds)

        # some work done, then one worker dies without a word
        assert mined_until(lambda: assessed() >= LISTINGS, 240), keepers.tails()
        keepers.kill(0)
        done = mined_until(lambda: all(m.reserve.status() == DEFAULTED for m in markets), 300)
        assert done, keepers.tails()
        for _ in range(3):  # more rounds: nothing more to do
            chain.mine()
            time.sleep(1)
        served = [
            sum("assess in block" in line for line in keepers.logs()[f"worker{i}.log"].splitlines()) for i in (1, 2)
        ]
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
    assert all(served), served


def _address(alias: str) -> str:
    from ape import accounts

    return accounts.test_accounts[int(alias.split("::")[1])].address
