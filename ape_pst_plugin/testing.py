"""Hypothesis helpers for testing the PST protocol on a real chain.

- :class:`ChainMachine`: a ``RuleBasedStateMachine`` with its own clock on an
  Ape test chain (snapshot per example).
- Strategies for the actors of a listing's market: :data:`trade_sides`,
  :data:`trade_sizes`, :data:`revenue_amounts`, :data:`time_jumps`,
  :data:`keeper_lags`, :data:`retry_delays`, :data:`shock_sizes`,
  :data:`manipulation_sizes`.
- :class:`StabiliserMachine`: checks S1-S7, C1, E1, W1-W3 and C2 of
  docs/PROTOCOL.md after every step against
  :class:`ape_pst_plugin.stabiliser_model.StabiliserModel`, to the wei. Subclass it with your own :class:`StabiliserParams`::

      class WideBand(StabiliserMachine):
          params = StabiliserParams(pe_low=5 * WAD, pe_high=20 * WAD)

      def test_wide_band(pst_stabiliser):   # fixture of ape_pst_plugin.pytest_plugin
          seen = pst_stabiliser(WideBand, max_examples=5, stateful_step_count=20)

  or, without the fixtures, ``WideBand.run(WideBand.prepare(market, ...))``
  with a market from :func:`ape_pst_plugin.market.open_market`.
"""

import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar
from unittest import mock

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ape_pst_plugin import pe as pem
from ape_pst_plugin.constants import MAX_VALIDITY, WAD  # noqa: F401 - re-exported
from ape_pst_plugin.market import Market, MarketPlan
from ape_pst_plugin.stabiliser_model import (
    ACTIVE,
    DAY,
    MAX_MISSES,
    PERIOD,
    SLASH_BPS,
    Observation,
    StabiliserModel,
)

ORDER = b"\x09" * 32
#: Revenue amounts are drawn in millionths of a settlement unit, then scaled to the token's decimals.
MICRO = 10**6


class ChainMachine(RuleBasedStateMachine):
    """A state machine on an Ape test chain with its own clock.

    Each example starts from a chain snapshot and restores it in
    `teardown`. Every transaction goes through `send`, which lands it at
    `self.now`, so a Python model knows the exact block timestamp; `sync`
    mines an empty block at `self.now` before views are read."""

    def __init__(self, chain):
        super().__init__()
        self.chain = chain
        self.snapshot = chain.snapshot()
        self.now = chain.blocks.head.timestamp + 1
        self.head = None  # timestamp of the newest block; views read that block

    def teardown(self):
        self.chain.restore(self.snapshot)

    @staticmethod
    @contextmanager
    def expected_reverts():
        """While the machine runs, a revert is an outcome it checks (its
        reason), not a failure to explain: Ape's call-trace print-out and
        Vyper source traceback of every failed transaction (one
        ``debug_traceTransaction`` or more each) are skipped."""
        with (
            mock.patch("ape_ethereum.trace.Trace.show", lambda *args, **kwargs: None),
            mock.patch("ape.exceptions._get_ape_traceback_from_tx", lambda txn: None),
        ):
            yield

    def send(self, fn, *args, sender):
        self.chain.pending_timestamp = self.now
        receipt = fn(*args, sender=sender)
        assert receipt.timestamp == self.now
        self.head = self.now
        return receipt

    def sync(self):
        """Mines a block at the machine's clock if the newest block is older."""
        if self.head != self.now:
            self.chain.pending_timestamp = self.now
            self.chain.mine()
            self.head = self.now


def fresh_account(balance: int = 10**21):
    """A new test account holding ``balance`` wei of ether: snapshots rewind
    nonces, and a fresh sender never moves a shared account's nonce or funds."""
    from ape import accounts, networks

    account = accounts.test_accounts.generate_test_account()
    networks.provider.set_balance(account.address, balance)
    return account


def attest_month(machine: ChainMachine, month_revenue: int, validity: int = MAX_VALIDITY) -> int:
    """``machine.agent`` attests ``machine.merchant``'s ``month_revenue`` to
    ``machine.registry`` (with the average revenue attested at listing) at
    the machine's clock; returns the expiry."""
    from ape_pst_plugin.deployment import default_inputs, sign_attestation

    inputs = default_inputs(month_revenue, machine.avg_monthly_revenue)
    message, signature = sign_attestation(
        machine.registry, machine.agent, machine.merchant, inputs, issued_at=machine.now, validity=validity
    )
    machine.send(machine.registry.submit, message.as_tuple(), signature, sender=machine.agent)
    return machine.now + validity


def counted_revenue_state(router, registry, merchant) -> tuple[list, dict]:
    """What a model of counted revenue starts from, read off the chain: the
    merchant's newest attestation record ``[(recorded_at, expires_at, cap)]``
    and each period so far that has counted payments,
    ``{period: [cap, non-insider gross]}``."""
    latest = registry.latest(merchant)
    records = [(latest.recorded_at, latest.expires_at, registry.verified_cap(merchant, latest.recorded_at))]
    periods = {}
    for p in range(router.current_period() + 1):
        if gross := router.period_gross(p):
            periods[p] = [router.period_cap(p), gross]
    return records, periods


# --- strategies --------------------------------------------------------------------
#: Trader direction: True sells tokens into the pool, False buys them.
trade_sides = st.booleans()
#: Trade size as a fraction of the pool's input reserve: small nudges and big moves.
trade_sizes = st.one_of(st.floats(0.001, 0.05), st.floats(0.05, 0.6))
#: One payment through the revenue router, in millionths of a settlement unit (1 to 60,000 units).
revenue_amounts = st.one_of(st.integers(MICRO, 5_000 * MICRO), st.integers(5_000 * MICRO, 60_000 * MICRO))
#: Time passing between actions: minutes, hours, days to two weeks.
time_jumps = st.one_of(st.integers(60, 3_600), st.integers(3_600, DAY), st.integers(DAY, 14 * DAY))
#: How late a keeper's second oracle update comes after the TWAP window, seconds.
keeper_lags = st.integers(0, 600)
#: A keeper retrying stabilise() this many seconds later (maybe inside the cooldown).
retry_delays = st.integers(0, 7_200)
#: A sell-off or mania: a fraction of the pool's input reserve traded at once.
shock_sizes = st.floats(0.05, 0.6)
#: A same-block manipulation: a fraction of the pool's input reserve moved and moved back.
manipulation_sizes = st.floats(0.05, 0.9)
#: A verified month revenue, in percent of the listing's first month: from a
#: collapse (far below any target) to growth.
verified_ratios = st.sampled_from([3, 10, 50, 100, 100, 120])


@dataclass(frozen=True)
class StabiliserParams:
    """What a :class:`StabiliserMachine` subclass runs against.

    Amounts are whole settlement units unless said otherwise; PE values are
    wad (``8 * 10**18`` is a PE of 8)."""

    pe_low: int = 8 * WAD
    pe_high: int = 15 * WAD
    capacity_bps: int = 1_000
    cooldown: int = 3_600
    max_slippage_bps: int = 100
    max_deviation_bps: int = 1_000
    max_exposure_bps: int = 5_000
    revenue_target: int = 12_000
    """Gross revenue per 30-day period the merchant commits to (misses are slashed)."""
    revenue_scale: int = 1
    """Multiplies every drawn payment (1 to 60,000 units): scale it with your pool."""
    manipulator_tokens: int = 400_000
    """Whole listing tokens given to the same-block manipulator (at most what the merchant holds)."""
    plan: MarketPlan = field(default_factory=MarketPlan)
    """Pool depth, history revenue (the starting PE) and reserve float; see :class:`MarketPlan`."""


@dataclass
class StabiliserEnv:
    """A prepared market for :meth:`StabiliserMachine.run`."""

    chain: Any
    market: Market
    manipulator: Any
    admin: Any
    payer: Any
    merchant: Any = None


#: Hypothesis profiles for the machines (``--hypothesis-profile NAME``, an
#: option of hypothesis's pytest plugin; ``ape test`` passes it on). A
#: machine asks :func:`fuzz_settings` for its own example count; the loaded
#: profile's ``max_examples`` scales it, against hypothesis's default of 100.
#:
#: - ``pst-ci``: the machines' own counts, derandomized: the same examples
#:   every run. Also what the machines do when no profile is loaded.
#: - ``pst-dev``: the same counts, new examples every run; a failing one is
#:   kept in ``.hypothesis/`` and tried first next time.
#: - ``pst-long``: ten times the examples, new ones every run.
#:
#: Your own profile scales them the same way: ``register_profile("nightly",
#: parent=settings.get_profile("pst-ci"), max_examples=500)`` is five times
#: the examples, still reproducible.
PROFILES = ("pst-ci", "pst-dev", "pst-long")
BASE_EXAMPLES = 100
_machine_defaults = dict(deadline=None, suppress_health_check=list(HealthCheck))
settings.register_profile(
    "pst-ci",
    settings.get_profile("default"),
    max_examples=BASE_EXAMPLES,
    derandomize=True,
    database=None,
    **_machine_defaults,
)
settings.register_profile(
    "pst-dev", settings.get_profile("default"), max_examples=BASE_EXAMPLES, derandomize=False, **_machine_defaults
)
settings.register_profile("pst-long", settings.get_profile("pst-dev"), max_examples=10 * BASE_EXAMPLES)


def fuzz_profile() -> settings:
    """The loaded hypothesis profile; ``pst-ci`` when none was loaded."""
    if settings.get_current_profile_name() == "default":
        return settings.get_profile("pst-ci")
    return settings.default


def fuzz_reproducible(profile: settings | None = None) -> bool:
    """Whether :func:`fuzz_settings` draws the same examples every run and
    at least the machines' own counts of them, so a test may assert that a
    machine reached a rare branch."""
    profile = profile or fuzz_profile()
    return bool(profile.derandomize) and profile.max_examples >= BASE_EXAMPLES


def fuzz_settings(
    max_examples: int, stateful_step_count: int, *, profile: settings | None = None, **overrides
) -> settings:
    """Hypothesis settings for a machine on a chain: ``max_examples`` scaled
    by the loaded profile (:data:`PROFILES`; ``profile`` to choose another),
    derandomized or not as the profile says; no deadline, no health checks
    (every example restores a chain snapshot, examples are slow by nature).
    ``overrides`` win over everything (e.g. ``derandomize=False``)."""
    profile = profile or fuzz_profile()
    derandomize = overrides.get("derandomize", profile.derandomize)
    # new draws keep a failing example to replay first (a reproducible profile keeps none)
    database = profile.database if not profile.derandomize else settings.get_profile("default").database
    values = dict(
        max_examples=max(1, int(max_examples * profile.max_examples / BASE_EXAMPLES)),
        stateful_step_count=stateful_step_count,
        derandomize=derandomize,
        database=None if derandomize else database,
        **_machine_defaults,
    )
    values.update(overrides)
    return settings(profile, **values)


class StabiliserMachine(ChainMachine):
    """S1-S7, C1, E1, W1-W3 and C2 of docs/PROTOCOL.md on one listing with a
    real Uniswap V2 pair.

    Rules: traders of random size, revenue from outside payers (the
    merchant's sybils among them), the merchant paying itself, the verifier
    recording month revenues (some far below the target), the merchant trying
    to stake and to withdraw its stake, revenue targets changing, waived
    periods, keeper update()/stabilise()/assess() calls and retries,
    sell-offs and manias, same-block dump/pump through ``SpotManipulator``,
    time jumps of a minute to two weeks. After every step every balance,
    window, observation, TWAP, EPS, counted revenue, status, trade amount and
    revert reason must equal the model's, to the wei.

    Configure a subclass with ``params`` (:class:`StabiliserParams`). It is
    network-agnostic: Uniswap, the settlement token and the listing come from
    the :class:`Market` handed to :meth:`prepare`. The settlement token needs
    ``faucet(to, amount)`` (like the plugin's ``TestStablecoin``). The
    listing must have no stakers: the model credits the holders' share of
    revenue, and slashed stake, to the reserve's free balance."""

    params: ClassVar[StabiliserParams] = StabiliserParams()
    env: ClassVar[StabiliserEnv | None] = None
    #: What the last :meth:`run` exercised (buys, sells, in-band calls, slashes, revert reasons...).
    seen: ClassVar[Counter] = Counter()

    # --- running -------------------------------------------------------------------
    @classmethod
    def prepare(cls, market: Market, *, admin, merchant, payer, deployer=None) -> StabiliserEnv:
        """Applies ``params`` (band, limits) to ``market``'s reserve and deploys
        and funds the manipulator. ``admin`` owns the listing's setters;
        ``deployer`` (default: a fresh funded test account) deploys the
        manipulator: snapshots rewind nonces, a shared account could reuse an
        address ape cached another contract type for."""
        from ape import accounts, networks  # noqa: F401 - the managers, not the pytest fixtures

        from ape_pst_plugin.deployment import _containers

        p, reserve = cls.params, market.reserve
        # only touch what differs: the default machine runs on the contracts' defaults
        if (reserve.pe_low(), reserve.pe_high()) != (p.pe_low, p.pe_high):
            reserve.set_band(p.pe_low, p.pe_high, sender=admin)
        limits = (p.capacity_bps, p.cooldown, p.max_slippage_bps, p.max_deviation_bps, p.max_exposure_bps)
        current = (
            reserve.capacity_bps(),
            reserve.cooldown(),
            reserve.max_slippage_bps(),
            reserve.max_deviation_bps(),
            reserve.max_exposure_bps(),
        )
        if current != limits:
            reserve.set_limits(*limits, sender=admin)
        if deployer is None:
            deployer = accounts.test_accounts.generate_test_account()
            networks.provider.set_balance(deployer.address, 10**21)
        manipulator = deployer.deploy(_containers().SpotManipulator, market.pair, reserve)
        vesting = market.listing.vesting
        if vesting.releasable():
            market.listing.release(merchant, merchant)
        tokens = min(p.manipulator_tokens * WAD, market.token.balanceOf(merchant))
        market.token.transfer(manipulator, tokens, sender=merchant)
        unit = 10**market.decimals
        market.usdc.faucet(manipulator, 10**9 * unit, sender=admin)
        market.usdc.faucet(payer, 10**9 * unit * p.revenue_scale, sender=admin)
        # the merchant pays itself through the router (W1: never counted)
        market.usdc.faucet(merchant, 10**9 * unit * p.revenue_scale, sender=admin)
        market.usdc.approve(market.listing.router, 2**256 - 1, sender=merchant)
        return StabiliserEnv(
            chain=market.chain, market=market, manipulator=manipulator, admin=admin, payer=payer, merchant=merchant
        )

    @classmethod
    def run(cls, env: StabiliserEnv, run_settings: settings | None = None) -> Counter:
        """Runs the machine on ``env`` (default settings: 8 examples of 30
        steps, derandomized); returns :attr:`seen`."""
        cls.env = env
        cls.seen = Counter()
        with cls.expected_reverts():
            run_state_machine_as_test(cls, settings=run_settings or fuzz_settings(8, 30))
        return cls.seen

    def __init__(self):
        e = type(self).env
        if e is None:
            raise RuntimeError(f"{type(self).__name__}.run(env) sets the environment; see prepare()")
        super().__init__(e.chain)
        self.market, self.manipulator = e.market, e.manipulator
        m = self.market
        self.reserve, self.oracle, self.pair, self.router = m.reserve, m.oracle, m.pair, m.listing.router
        self.token, self.usdc, self.trader, self.keeper, self.payer = m.token, m.usdc, m.trader, m.keeper, e.payer
        self.admin, self.merchant, self.staking, self.factory = (
            e.admin,
            e.merchant,
            m.listing.staking,
            m.protocol.factory,
        )
        self.decimals = m.decimals
        self.token_is_0 = self.pair.token0() == self.token.address
        target = self.params.revenue_target * 10**self.decimals
        r = self.reserve
        start = self.router.START()
        current = self.router.current_period()
        self.registry, self.agent = m.protocol.registry, m.protocol.agent
        records, periods = counted_revenue_state(self.router, self.registry, self.merchant)
        # the listing's attested month and average: the verify rule's base
        latest = self.registry.latest(self.merchant)
        self.month_revenue, self.avg_monthly_revenue = latest.month_revenue, latest.avg_monthly_revenue
        self.model = StabiliserModel(
            start=start,
            decimals=self.decimals,
            supply=self.token.totalSupply(),
            inventory=r.inventory(),
            stake=r.stake(),
            free=r.free_balance(),
            pe_low=r.pe_low(),
            pe_high=r.pe_high(),
            capacity_bps=r.capacity_bps(),
            cooldown=r.cooldown(),
            max_slippage_bps=r.max_slippage_bps(),
            max_deviation_bps=r.max_deviation_bps(),
            max_exposure_bps=r.max_exposure_bps(),
            twap_window=self.oracle.twap_window(),
            max_age=self.oracle.max_age(),
            revenue_target=r.revenue_target_of(0),
            share_bps=self.router.share_bps(),
            listing_stake=r.LISTING_STAKE(),
            net_spent=r.net_spent(),
            status=r.status(),
            next_period=r.next_period(),
            misses=r.consecutive_misses(),
            held_for_fund=r.held_for_fund(),
            records=records,
            periods=periods,
            targets=[(p, r.revenue_target_of(p)) for p in range(current + 1)],
        )
        self.head = self.chain.blocks.head.timestamp
        self.now = self.head + 1
        # fresh verified revenue, a usual month of revenue in the running period, and a
        # target that applies from the next period, which starts now
        self.verify(100)
        usual = m.history[0][1]
        self.send(self.router.pay, ORDER, usual, sender=self.payer)
        self.model.pay(self.now, usual)
        self.send(r.set_revenue_target, target, sender=e.admin)
        self.model.set_revenue_target(self.now, target)
        self.now = start + (self.model.period(self.now) + 1) * PERIOD + 60
        o = self.oracle
        self.model.last = Observation(o.last_observed(), o.last_cumulative(), o.twap_snapshot(), o.eps_snapshot())

    def _pool(self):
        """(r_token, r_settlement, cumulative price of the token at self.now), from the pair."""
        r0, r1, t = self.pair.getReserves()
        r_token, r_settlement = (r0, r1) if self.token_is_0 else (r1, r0)
        last = self.pair.price0CumulativeLast() if self.token_is_0 else self.pair.price1CumulativeLast()
        return r_token, r_settlement, pem.cumulative_price(last, r_token, r_settlement, t, self.now)

    def _spot(self):
        r_token, r_settlement, _ = self._pool()
        return pem.spot_price(r_token, r_settlement, self.decimals)

    # --- actors -------------------------------------------------------------------
    @rule(sell=trade_sides, frac=trade_sizes)
    def trade(self, sell, frac):
        r_token, r_settlement, _ = self._pool()
        if sell:
            amount = min(int(r_token * frac), self.token.balanceOf(self.trader))
            token_in, token_out = self.token, self.usdc
        else:
            amount = min(int(r_settlement * frac), self.usdc.balanceOf(self.trader))
            token_in, token_out = self.usdc, self.token
        if amount == 0:
            return
        self.send(token_in.approve, self.market.uniswap.router, amount, sender=self.trader)
        self.send(
            self.market.uniswap.router.swapExactTokensForTokens,
            amount,
            0,
            [token_in, token_out],
            self.trader,
            2**64,
            sender=self.trader,
        )

    def _pay_and_check(self, payer, gross, insider):
        """W1: counted revenue is min(non-insider gross, verified cap); a payment
        in the running period never moves EPS or the annual earnings."""
        gross = max(1, gross * 10**self.decimals // MICRO) * self.params.revenue_scale
        p = self.model.period(self.now)
        eps_before = self.model.last.eps if self.model.last else 0
        earnings_before = self.model.annual_earnings(self.now)
        self.send(self.router.pay, ORDER, gross, sender=payer)
        self.model.pay(self.now, gross, insider=insider)
        counted = self.router.counted(p)
        assert counted == self.model.counted(p)
        cap, non_insider = self.model.periods.get(p, [0, 0])
        assert counted <= min(non_insider, cap)
        assert self.oracle.eps_snapshot() == eps_before
        assert self.model.annual_earnings(self.now) == earnings_before
        self.seen["insider payment" if insider else "payment"] += 1

    @rule(gross=revenue_amounts)
    def pay(self, gross):
        """A customer, or one of the merchant's fresh addresses, pays: counted up to the cap."""
        self._pay_and_check(self.payer, gross, insider=False)

    @rule(multiple=st.sampled_from([1, 2, 5]))
    def sybil_wash(self, multiple):
        """The merchant pays itself from a fresh address: `multiple` months of its listing
        revenue at once. Counted, but never above the verified cap (W1, W2)."""
        self._pay_and_check(self.payer, self.month_revenue * multiple * MICRO // 10**self.decimals, insider=False)

    @rule(gross=revenue_amounts)
    def self_pay(self, gross):
        """The merchant pays itself through the router: split like any payment, counted nothing."""
        self._pay_and_check(self.merchant, gross, insider=True)

    @rule(ratio=verified_ratios)
    def verify(self, ratio):
        """The risk agent attests a month revenue, valid 35 days (W2: some far below the target)."""
        month_revenue = self.month_revenue * ratio // 100
        expires_at = attest_month(self, month_revenue)
        self.model.verify(self.now, pem.verified_cap(month_revenue, self.registry.tolerance_bps()), expires_at)

    @rule(ratio=st.sampled_from([0, 50, 100, 200]))
    def set_target(self, ratio):
        """Governance changes the revenue target: it applies from the next period (C2)."""
        target = self.params.revenue_target * 10**self.decimals * ratio // 100
        self.send(self.reserve.set_revenue_target, target, sender=self.admin)
        self.model.set_revenue_target(self.now, target)

    @rule()
    def waive(self):
        """Governance waives the next period to be assessed (force majeure)."""
        p = self.model.next_period
        self.send(self.reserve.waive, p, sender=self.admin)
        self.model.waived.add(p)

    @rule()
    def insider_stakes(self):
        """W3: the merchant cannot stake, so neither the holder share nor slashed stake flows back to it."""
        with pytest.raises(ContractLogicError, match="staking: insiders cannot stake"):
            self.send(self.staking.stake, 1, sender=self.merchant)
        assert self.staking.total_staked() == 0

    @rule(part_bps=st.sampled_from([1, 10, 100, 1_000, 10_000]), lag=keeper_lags)
    def merchant_withdraws(self, part_bps, lag):
        """C2: the listing-time stake is never withdrawable (the merchant never tops up here),
        even when every finished period is assessed, the TWAP is fresh and the market cap has
        fallen: the merchant waits for the keeper to catch up, then asks."""
        for _ in range(3):
            self.assess()
        self.keeper_round(lag)
        self.sync()
        amount = max(1, self.model.stake * part_bps // 10_000)  # from a hair to everything
        with pytest.raises(ContractLogicError):
            self.send(self.reserve.withdraw_excess_stake, amount, sender=self.merchant)

    @rule()
    def update(self):
        _, _, cumulative = self._pool()
        receipt = self.send(self.oracle.update, sender=self.keeper)
        assert receipt.return_value == self.model.update(self.now, cumulative)

    @rule(lag=keeper_lags)
    def keeper_round(self, lag):
        """What a punctual keeper does: observe, wait a TWAP window, observe, stabilise."""
        self.update()
        self.now += self.model.twap_window + lag
        self.update()
        self.stabilise()

    @rule(frac=shock_sizes, lag=keeper_lags)
    def selloff(self, frac, lag):
        """Panic selling, then the keeper's round."""
        self.trade(True, frac)
        self.keeper_round(lag)

    @rule(frac=shock_sizes, lag=keeper_lags)
    def mania(self, frac, lag):
        """FOMO buying, then the keeper's round."""
        self.trade(False, frac)
        self.keeper_round(lag)

    @rule(dt=retry_delays)
    def retry(self, dt):
        """A keeper trying again soon after, maybe inside the cooldown."""
        self.now += dt
        self.stabilise()

    @rule()
    def stabilise(self):
        self.sync()
        r_token, r_settlement, _ = self._pool()
        self._stabilise_and_check(r_token, r_settlement, spot_before=self._spot())

    @rule(dump=st.booleans(), frac=manipulation_sizes)
    def manipulate(self, dump, frac):
        """S7: move the spot inside the block, stabilise, move it back (one transaction)."""
        self.sync()
        r_token, r_settlement, _ = self._pool()
        if dump:
            amount, token_in = min(int(r_token * frac), self.token.balanceOf(self.manipulator)), self.token
            out = pem.amount_out(amount, r_token, r_settlement)
            seen = (r_token + amount, r_settlement - out)
        else:
            amount, token_in = int(r_settlement * frac), self.usdc
            out = pem.amount_out(amount, r_settlement, r_token)
            seen = (r_token - out, r_settlement + amount)
        try:
            expected = self.model.stabilise(self.now, *seen)
        except ValueError:
            expected = None
        if expected is not None and expected[0] != "none":
            # S7: never more than what would move the pool at its TWAP-implied state (today's k) to the target
            kind, traded, _, target, _ = expected
            twap = self.model.last.twap
            t_token, t_settlement = pem.twap_reserves(*seen, twap, self.decimals)
            move = pem.buy_to_price if kind == "buy" else pem.sell_to_price
            assert traded <= move(t_token, t_settlement, target, self.decimals)
        receipt = self.send(self.manipulator.attack, token_in, amount, sender=self.trader)
        [event] = receipt.events.filter(self.manipulator.Attack)
        if expected is None:
            assert not event.stabilise_succeeded
            return
        assert event.stabilise_succeeded and event.traded == expected[1]
        self.seen[f"manipulated {expected[0]}"] += 1
        # the decision is the TWAP's: in band nothing trades, whatever the spot did
        twap_pe = expected[4]
        if self.model.pe_low <= twap_pe <= self.model.pe_high:
            assert event.traded == 0
        if expected[0] == "buy":
            assert receipt.events.filter(self.reserve.Bought) and twap_pe < self.model.pe_low
        if expected[0] == "sell":
            assert receipt.events.filter(self.reserve.Sold) and twap_pe > self.model.pe_high

    @rule()
    def assess(self):
        self.sync()
        stake, misses = self.model.stake, self.model.misses
        try:
            expected = self.model.assess(self.now)
        except ValueError as err:
            with pytest.raises(ContractLogicError, match=re.escape(str(err))):
                self.send(self.reserve.assess, sender=self.keeper)
            return
        p = self.model.next_period - 1
        receipt = self.send(self.reserve.assess, sender=self.keeper)
        assert receipt.return_value == expected
        self.seen["slash" if expected else "assessed"] += 1
        # W2: a period whose verified cap is below its target is a miss, whatever was paid
        cap = self.model.periods.get(p, [0, 0])[0]
        if p not in self.model.waived and cap < self.model.target_of(p):
            assert self.model.misses == misses + 1
            self.seen["W2 miss"] += 1
        # C1: SLASH_BPS per miss; at the MAX_MISSES-th miss in a row the rest goes to the listing's pot
        assert expected == (stake * SLASH_BPS // 10_000 if self.model.misses > misses else 0)
        if self.model.defaulted:
            [released] = receipt.events.filter(self.reserve.ReleasedToFund)
            assert misses + 1 == MAX_MISSES and released.amount == stake - expected
            assert self.reserve.held_for_fund() == 0
            self.seen["default"] += 1
        assert self.reserve.stake() == self.model.stake
        assert self.reserve.status() == self.model.status

    @rule()
    def quiet_period(self):
        """A whole period passes without revenue, then the keeper assesses every finished period."""
        self.now += PERIOD
        for _ in range(3):
            self.assess()

    @rule(dt=time_jumps)
    def wait(self, dt):
        self.now += dt

    # --- checks -------------------------------------------------------------------
    def _stabilise_and_check(self, r_token, r_settlement, spot_before):
        try:
            expected = self.model.stabilise(self.now, r_token, r_settlement)
        except ValueError as err:
            self.seen[str(err)] += 1
            with pytest.raises(ContractLogicError, match=re.escape(str(err))):
                self.send(self.reserve.stabilise, sender=self.keeper)
            return
        receipt = self.send(self.reserve.stabilise, sender=self.keeper)
        kind, amount, out, target, pe = expected
        self.seen[kind] += 1
        assert receipt.return_value == amount
        spot = self._spot()
        if kind == "none":
            assert not receipt.events  # S1: in band, nothing happens
            assert spot == spot_before
            return
        [event] = receipt.events.filter(self.reserve.Bought if kind == "buy" else self.reserve.Sold)
        assert (event.received, event.target_price, event.pe) == (out, target, pe)
        if kind == "buy":
            assert pe < self.model.pe_low  # S1
            assert self.model.status == ACTIVE and self.model.fresh(self.now)  # E1: no buy while late or stale
            assert spot_before <= spot <= target + 1  # S3 direction, S2 no overshoot
        else:
            assert pe > self.model.pe_high
            assert target - 1 <= spot <= spot_before

    @invariant()
    def reserve_matches_model(self):
        """S4, S5, S6, C1 and the PE maths, against the model."""
        self.sync()
        r, m = self.reserve, self.model
        # S6: balances move only by trades, inflows and slashing bookkeeping; the stake is never spent
        assert (r.stake(), r.free_balance(), r.inventory()) == (m.stake, m.free, m.inventory)
        assert self.usdc.balanceOf(r) == m.stake + m.free + m.held_for_fund
        # S4: capacity per epoch
        for window, expected in ((r.buy_window(), m.buy_window), (r.sell_window(), m.sell_window)):
            assert tuple(window) == expected and window[2] <= window[1]
        # S5: cooldown between trades
        times = [t for t, _, _ in m.trades]
        assert all(b - a >= m.cooldown for a, b in zip(times, times[1:]))
        assert r.last_trade() == m.last_trade
        # C1 bookkeeping, statuses, C2 (the stake below its listing-time value only by slashing)
        assert (r.next_period(), r.consecutive_misses(), r.status()) == (m.next_period, m.misses, m.status)
        assert (r.held_for_fund(), r.reference_price()) == (m.held_for_fund, m.reference_price)
        assert m.stake >= m.listing_stake or m.slashed_total
        # C2: the target of a period that began never changes (the running one, and the next to assess)
        for p in {m.period(self.now), m.next_period}:
            assert r.revenue_target_of(p) == m.target_of(p)
        # E1: net buying within the exposure limit
        assert r.net_spent() == m.net_spent <= m.max_exposure_bps * (m.free + m.net_spent) // 10_000
        # the oracle's maths agrees with the model to the wei
        assert (self.oracle.last_observed(), self.oracle.last_cumulative()) == (m.last.timestamp, m.last.cumulative)
        assert (self.oracle.twap_snapshot(), self.oracle.eps_snapshot()) == (m.last.twap, m.last.eps)
        try:
            twap = m.twap(self.now)
        except ValueError as err:
            with pytest.raises(ContractLogicError, match=re.escape(str(err))):
                self.oracle.twap_price()
        else:
            assert self.oracle.twap_price() == twap
