"""The PST keeper as a Silverback bot: every listing of one factory kept alive.

Run it with ``ape pst keeper`` (which runs this bot on the connected network),
or with Silverback itself::

    PST_FACTORY=0x... silverback run ape_pst_plugin.bot:bot --network ethereum:local:node --account TEST::0

The factory is ``PST_FACTORY`` or, without it, the ``ape pst`` deployment
of the connected network. At start-up the bot reads the factory's listings
from its state (``listing_count``; no event replay) and then follows its
``ListingCreated`` events. On every new block it runs :func:`keeper.keep`
for each listing: ``assess()`` when a period has finished unassessed,
``update()`` when the observation is a TWAP window old, ``stabilise()`` when
the TWAP PE is outside the band and an ``eth_call`` shows it would trade.

- A failure on one listing (a revert, a dropped transaction, a nonce gap, the
  RPC endpoint gone) is one log line and that listing's ``errors`` metric;
  the other listings are served and the next block tries again. The handler
  never raises (Silverback stops a bot after ``--max-exceptions``).
- ``PST_MAX_GAS_PRICE`` (wei; default none) caps the gas price: above it the
  bot sends nothing and logs one line; the work comes again next block.
- Metrics per listing: ``listing_<id>_pe`` (wad), ``..._sent`` (transactions
  this block), ``..._errors`` (0/1); plus ``listings``, ``sent`` and
  ``skipped`` (listings another round was serving: one round per listing at
  a time, across worker processes too, so nothing is sent twice).
"""

import asyncio
import os
import threading

from ape import chain
from ape.exceptions import ContractLogicError
from ape.logging import logger
from silverback import SilverbackBot
from silverback.runner import PollingRunner
from silverback.utils import async_wrap_iter

from ape_pst_plugin.keeper import ASSESS, STABILISE, UPDATE, ListingView, keep

bot = SilverbackBot()


def _factory():
    from ape_pst_plugin.deployment import _containers

    address = os.environ.get("PST_FACTORY")
    if address:
        return _containers().ListingFactory.at(address)
    from ape_pst_plugin.registry import load_deployment

    return load_deployment().protocol.factory


FACTORY = _factory()
MAX_GAS_PRICE = int(os.environ["PST_MAX_GAS_PRICE"]) if os.environ.get("PST_MAX_GAS_PRICE") else None


class ApeListingIO:
    """``keeper.ListingIO`` over Ape: the bot's signer sends, reads go to the connected node."""

    def __init__(self, listing_id: int, signer):
        from ape_pst_plugin.deployment import _containers

        entry = FACTORY.listings(listing_id)
        project = _containers()
        self.id, self.signer = listing_id, signer
        self.oracle = project.PEOracle.at(entry.oracle)
        self.reserve = project.Reserve.at(entry.reserve)
        router = project.RevenueRouter.at(entry.router)
        self.start, self.period_length = router.START(), router.PERIOD()
        self.methods = {ASSESS: self.reserve.assess, UPDATE: self.oracle.update, STABILISE: self.reserve.stabilise}
        self.stabilise_data = self.reserve.stabilise.encode_input()

    def view(self) -> ListingView:
        try:
            twap, eps = self.oracle.price_and_eps()
        except ContractLogicError:
            twap = eps = None
        return ListingView(
            now=chain.blocks.head.timestamp,
            last_observed=self.oracle.last_observed(),
            twap_window=self.oracle.twap_window(),
            twap=twap,
            eps=eps,
            pe_low=self.reserve.pe_low(),
            pe_high=self.reserve.pe_high(),
            status=self.reserve.status(),
            next_period=self.reserve.next_period(),
            router_start=self.start,
            period_length=self.period_length,
        )

    def send(self, action: str):
        return self.methods[action](sender=self.signer)

    def refusal(self) -> str | None:
        # web3's eth_call, not ape's: ape prints a call trace for every refusal it enriches
        from web3.exceptions import ContractLogicError as Web3Revert

        call = {"from": self.signer.address, "to": self.reserve.address, "data": self.stabilise_data}
        try:
            chain.provider.web3.eth.call(call)
        except Web3Revert as err:
            return str(err.message or "reverted").removeprefix("execution reverted: ")
        return None


def _gas_ok(action: str) -> bool:
    if MAX_GAS_PRICE is None:
        return True
    price = chain.provider.gas_price
    if price > MAX_GAS_PRICE:
        logger.warning(f"gas price {price} over the cap {MAX_GAS_PRICE}: {action} not sent")
        return False
    return True


#: the listings this worker process keeps, by id (each process finds them itself)
_KNOWN: dict[int, ApeListingIO] = {}


def _listings() -> dict[int, ApeListingIO]:
    return _KNOWN


@bot.on_worker_startup()
def _state_in_every_worker(state):
    """Silverback 0.7.38 sets up ``bot.state`` in one worker process only (the one that loads
    the snapshot); its signer hook writes the nonce there in every process, so every send of
    another worker would fail. Each worker gets a state of its own until the snapshot loads."""
    from silverback.main import SharedState

    if getattr(bot, "state", None) is None:
        bot.state = SharedState()


def _add(listing_id: int) -> None:
    listings = _listings()
    if listing_id not in listings:
        listings[listing_id] = ApeListingIO(listing_id, bot.signer)
        logger.info(f"listing {listing_id}: kept")


@bot.on_startup()
def discover(startup_state):
    """Every listing the factory has now (its state, not its event history)."""
    for listing_id in range(FACTORY.listing_count()):
        _add(listing_id)
    return {"listings": len(_listings())}


@bot.on_(FACTORY.ListingCreated)
def listed(log):
    """A new listing joins the round."""
    _add(log.id)
    return {"listings": len(_listings())}


class _Locks:
    """One worker at a time per listing. Silverback starts a task per block, and in its
    distributed mode several worker processes run them: two rounds on one listing at once
    could both send what one state made due (the second would revert). In one process a lock
    per listing; with ``PST_REDIS_URL`` (the cluster's Redis) a Redis key per listing, set only
    if absent and expiring after ``PST_LOCK_SECONDS`` (so a worker killed while holding it
    blocks that listing no longer than that)."""

    def __init__(self):
        self.url = os.environ.get("PST_REDIS_URL")
        self.seconds = float(os.environ.get("PST_LOCK_SECONDS", "30"))
        self.local: dict[int, threading.Lock] = {}
        self.guard = threading.Lock()
        self.redis = None
        self.token = f"{os.getpid()}-{os.urandom(4).hex()}"

    def _key(self, listing_id: int) -> str:
        return f"pst:keeper:{FACTORY.address}:{listing_id}"

    def claim(self, listing_id: int) -> bool:
        if self.url:
            if self.redis is None:
                import redis

                self.redis = redis.Redis.from_url(self.url)
            return bool(self.redis.set(self._key(listing_id), self.token, nx=True, px=int(self.seconds * 1000)))
        with self.guard:
            lock = self.local.setdefault(listing_id, threading.Lock())
        return lock.acquire(blocking=False)

    def release(self, listing_id: int) -> None:
        if self.url:
            # delete only our own claim (it may have expired and been taken by another worker)
            script = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
            self.redis.eval(script, 1, self._key(listing_id), self.token)
            return
        self.local[listing_id].release()


_LOCKS = _Locks()


@bot.on_(chain.blocks)
def serve(block):
    """One keeper round per listing; one listing's failure never stops the others. A listing
    another round (this worker's or another's) is serving is skipped: that round does its work.
    Each round starts at another listing (the block number picks it), so rounds running at once
    share the listings out."""
    metrics = {}
    sent_total = skipped = 0
    try:  # a worker that missed start-up or an event catches up from the factory's state
        known = _listings()
        for listing_id in range(FACTORY.listing_count()):
            if listing_id not in known:
                _add(listing_id)
    except Exception as err:
        logger.error(f"factory: {type(err).__name__}: {_one_line(err)}")
    ids = sorted(_listings())
    if ids:
        start = getattr(block, "number", 0) % len(ids)
        ids = ids[start:] + ids[:start]
    for listing_id in ids:
        io = _listings()[listing_id]
        prefix = f"listing_{listing_id}"
        try:
            if not _LOCKS.claim(listing_id):
                skipped += 1
                continue
        except Exception as err:
            logger.error(f"listing {listing_id}: lock: {type(err).__name__}: {_one_line(err)}")
            continue
        try:
            done = keep(io, _gas_ok)
        except Exception as err:  # one line, then the next listing
            logger.error(f"listing {listing_id}: {type(err).__name__}: {_one_line(err)}")
            metrics[f"{prefix}_errors"] = 1
            continue
        finally:
            try:
                _LOCKS.release(listing_id)
            except Exception as err:
                logger.error(f"listing {listing_id}: unlock: {type(err).__name__}: {_one_line(err)}")
        for action, receipt in done.sent:
            logger.info(f"listing {listing_id}: {action} in block {receipt.block_number}")
        if done.refused is not None:
            logger.info(f"listing {listing_id}: stabilise not sent: {done.refused}")
        metrics[f"{prefix}_errors"] = 0
        metrics[f"{prefix}_sent"] = len(done.sent)
        if done.pe is not None:
            metrics[f"{prefix}_pe"] = done.pe
        sent_total += len(done.sent)
    metrics["listings"] = len(_listings())
    metrics["sent"] = sent_total
    metrics["skipped"] = skipped
    return metrics


def _one_line(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


#: seconds between attempts while the node does not answer
RETRY_SECONDS = float(os.environ.get("PST_RETRY_SECONDS", "2"))


class KeeperRunner(PollingRunner):
    """Silverback's polling runner, made to outlive its node: when polling
    for blocks or events fails (the RPC endpoint died, a timeout), it logs one
    line and polls again from the head ``PST_RETRY_SECONDS`` later, and errors
    around a task (Silverback reading the block it hands over) never add up
    to ``--max-exceptions``, instead of ending the run. Nothing is replayed: each round reads the chain's
    state. ``ape pst keeper`` uses it (``silverback run ... --runner
    ape_pst_plugin.bot:KeeperRunner``)."""

    async def _block_task(self, task_data):
        await self._forever("blocks", task_data, lambda: chain.blocks.poll_blocks())

    async def _event_task(self, task_data):
        from ethpm_types import EventABI
        from silverback.utils import decode_topics_from_string

        address = task_data.labels.get("address")
        event = EventABI.from_signature(task_data.labels["event"])
        topics = decode_topics_from_string(task_data.labels.get("topics", "")) or None
        await self._forever(
            "events", task_data, lambda: self.provider.poll_logs(address=address, events=[event], topics=topics)
        )

    async def run_task(self, task_data, *args, raise_on_error: bool = False):
        """As Silverback's, but task errors never end the run: the keeper's handler never
        raises, so an error here came from around it (e.g. the block it was given could not be
        read while the node was away): one line, and the next block tries again."""
        from silverback.exceptions import Halt

        try:
            return await super().run_task(task_data, *args, raise_on_error=raise_on_error)
        except Halt as halt:
            if halt.__cause__ is None:  # a handler asked to stop
                raise
            logger.error(f"{task_data.name}: {type(halt.__cause__).__name__}: {_one_line(halt.__cause__)}")
            self.exceptions.clear()
        except Exception as err:  # e.g. handing the task a block the node can no longer give
            logger.error(f"{task_data.name}: {type(err).__name__}: {_one_line(err)}")

    async def _forever(self, what: str, task_data, poll) -> None:
        while True:
            try:
                async for item in async_wrap_iter(poll()):
                    self._runtime_task_group.create_task(self.run_task(task_data, item))
            except Exception as err:  # the node went away: say so once per attempt, then try again
                logger.error(f"polling {what}: {type(err).__name__}: {_one_line(err)}; again in {RETRY_SECONDS:g} s")
            await asyncio.sleep(RETRY_SECONDS)
