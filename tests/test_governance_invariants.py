"""G1 of PROTOCOL.md, fuzzed with a stateful hypothesis machine: no parameter
and no treasury balance changes except through a ready, unexpired timelock
operation that the DAO Safe (threshold signatures) scheduled; the guardian
can pause and nothing else.

Random callers (stakers, the merchant, the guardian, the attacker, the
deployer, the Safe itself, one Safe owner) call random setters directly;
the Safe schedules, cancels or fails to schedule (below threshold, a
stranger's signature) random batches of setters with random, sometimes
out-of-bounds values; anyone executes at random times, early, within grace
or after it. After every step the on-chain parameters and the reserve's
balance must equal the model, which changes only on a successful execution
(or the guardian's pause)."""

from collections import Counter
from dataclasses import dataclass

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, initialize, invariant, rule, run_state_machine_as_test

from ape_pst_plugin import governance as gov
from ape_pst_plugin.testing import ChainMachine

DAY = 86_400
GRACE = 14 * DAY
WAD = 10**18
UNITS = 10**6
SEEN = Counter()


@dataclass(frozen=True)
class Call:
    """One setter call: where, what, and how the model changes if it succeeds."""

    target: str  # "router" | "reserve" | "oracle" | "timelock"
    name: str
    args: tuple


@dataclass
class Op:
    calls: tuple
    salt: bytes
    ready_at: int
    op_id: bytes


def mostly(valid, invalid):
    """Mostly in-bounds values, so whole batches often execute; sometimes not."""
    return st.one_of(valid, valid, valid, invalid)


pe = st.integers(2, 200).map(lambda n: n * WAD // 2)  # 1..100 in steps of 0.5
setter_calls = st.one_of(
    st.builds(
        lambda b: Call("router", "set_share_bps", (b,)),
        mostly(st.integers(100, 3_000), st.sampled_from([0, 99, 3_001])),
    ),
    st.builds(
        lambda band: Call("reserve", "set_band", band),
        mostly(
            st.tuples(pe, pe).filter(lambda b: b[0] < b[1]),
            st.sampled_from([(0, 8 * WAD), (8 * WAD, 8 * WAD), (9 * WAD, 8 * WAD), (8 * WAD, 101 * WAD)]),
        ),
    ),
    st.builds(
        lambda limits: Call("reserve", "set_limits", limits),
        mostly(
            st.tuples(
                st.integers(0, 2_500),
                st.sampled_from([600, 3_600, 30 * DAY]),
                st.integers(0, 1_000),
                st.integers(100, 5_000),
                st.integers(1_000, 10_000),
            ),
            st.sampled_from(
                [
                    (2_501, 3_600, 100, 1_000, 5_000),
                    (500, 599, 100, 1_000, 5_000),
                    (500, 30 * DAY + 1, 100, 1_000, 5_000),
                    (500, 3_600, 1_001, 1_000, 5_000),
                    (500, 3_600, 100, 99, 5_000),
                    (500, 3_600, 100, 5_001, 5_000),
                    (500, 3_600, 100, 1_000, 999),
                    (500, 3_600, 100, 1_000, 10_001),
                ]
            ),
        ),
    ),
    st.builds(lambda t: Call("reserve", "set_revenue_target", (t,)), st.integers(0, 10**12)),
    st.builds(
        lambda a: Call("reserve", "withdraw", ("treasury", a)),
        mostly(st.integers(1, 600 * UNITS), st.sampled_from([0, 2_000 * UNITS])),
    ),
    st.builds(
        lambda window: Call("oracle", "set_twap_window", window),
        mostly(
            st.sampled_from([(600, 7 * DAY), (3_600, 2 * 3_600), (600, 601)]),
            st.sampled_from([(599, 3_600), (3_600, 3_600), (600, 7 * DAY + 1)]),
        ),
    ),
    st.builds(lambda who: Call("router", "set_guardian", (who,)), st.sampled_from(["guardian", "attacker"])),
    st.builds(lambda who: Call("reserve", "set_guardian", (who,)), st.sampled_from(["guardian", "attacker"])),
    # valid only while paused: one branch for both, so most batches can execute
    st.builds(lambda which: Call(which, "unpause", ()), st.sampled_from(["router", "reserve"])),
    st.builds(lambda d: Call("timelock", "update_delay", (d,)), st.sampled_from([DAY, 2 * DAY, 3 * DAY])),
)
time_jumps = st.one_of(st.integers(1, 3_600), st.integers(DAY, 3 * DAY), st.integers(10 * DAY, 20 * DAY))


class GovernanceMachine(ChainMachine):
    env: dict = {}
    ops = Bundle("ops")

    def __init__(self):
        e = self.env
        super().__init__(e["chain"])
        self.protocol, self.g = e["governed"]
        listing = e["listing"]
        self.contracts = {
            "router": listing.router,
            "reserve": listing.reserve,
            "oracle": listing.oracle,
            "timelock": self.g.timelock,
        }
        self.usdc, self.owners = e["usdc"], e["owners"]
        self.who = e["who"]  # name -> account
        self.treasury = self.who["treasury"]
        self.params = self._read()
        self.salt = 0

    # --- the model ------------------------------------------------------------------------

    def _read(self) -> dict:
        """Every governed value, from the chain."""
        c = self.contracts
        r, o, lock = c["reserve"], c["oracle"], c["timelock"]
        return {
            "share_bps": c["router"].share_bps(),
            "router_guardian": c["router"].guardian(),
            "router_paused": c["router"].paused(),
            "band": (r.pe_low(), r.pe_high()),
            "limits": (
                r.capacity_bps(),
                r.cooldown(),
                r.max_slippage_bps(),
                r.max_deviation_bps(),
                r.max_exposure_bps(),
            ),
            # the newest target (a change applies from the next period on)
            "revenue_target": r.revenue_target_of(c["router"].current_period() + 1),
            "reserve_guardian": r.guardian(),
            "reserve_paused": r.paused(),
            "reserve_balance": self.usdc.balanceOf(r),
            "stake": r.stake(),
            "window": (o.twap_window(), o.max_age()),
            "min_delay": lock.get_minimum_delay(),
            "factory_owner": self.protocol.factory.owner(),
            "listing_count": self.protocol.factory.listing_count(),
        }

    def _apply(self, params: dict, call: Call) -> bool:
        """The model of one setter: False if its bounds refuse the values."""
        p, a = params, call.args
        if call.name == "set_share_bps":
            ok = 100 <= a[0] <= 3_000
            p["share_bps"] = a[0] if ok else p["share_bps"]
        elif call.name == "set_band":
            ok = WAD <= a[0] < a[1] <= 100 * WAD
            p["band"] = a if ok else p["band"]
        elif call.name == "set_limits":
            ok = (
                a[0] <= 2_500
                and 600 <= a[1] <= 30 * DAY
                and a[2] <= 1_000
                and 100 <= a[3] <= 5_000
                and 1_000 <= a[4] <= 10_000
            )
            p["limits"] = a if ok else p["limits"]
        elif call.name == "set_revenue_target":
            ok = True
            p["revenue_target"] = a[0]
        elif call.name == "withdraw":
            ok = 0 < a[1] <= p["reserve_balance"] - p["stake"]
            p["reserve_balance"] -= a[1] if ok else 0
        elif call.name == "set_twap_window":
            ok = a[0] >= 600 and a[1] > a[0] and a[1] <= 7 * DAY
            p["window"] = a if ok else p["window"]
        elif call.name == "set_guardian":
            ok = True
            p[f"{call.target}_guardian"] = self.who[a[0]].address
        elif call.name == "unpause":
            ok = p[f"{call.target}_paused"]
            p[f"{call.target}_paused"] = False
        elif call.name == "update_delay":
            ok = True
            p["min_delay"] = a[0]
        else:  # pragma: no cover - the strategies only draw the names above
            raise AssertionError(call)
        return ok

    def _encode(self, call: Call) -> tuple[str, bytes]:
        contract = self.contracts[call.target]
        args = tuple(self.who[x].address if isinstance(x, str) else x for x in call.args)
        return contract.address, getattr(contract, call.name).encode_input(*args)

    # --- rules ----------------------------------------------------------------------------

    @rule(
        call=setter_calls,
        caller=st.sampled_from(["staker", "merchant", "guardian", "attacker", "deployer", "safe", "owner"]),
        how=st.sampled_from(["setter", "one owner", "stranger", "direct"]),
    )
    def unauthorised(self, call, caller, how):
        """A setter called directly, or a schedule without the Safe's threshold."""
        if how == "setter":
            self.call_setter_directly(call, caller)
        else:
            self.unauthorised_schedule([call], how)

    def call_setter_directly(self, call, caller):
        """Nobody but the timelock gets through a setter."""
        contract = self.contracts[call.target]
        args = tuple(self.who[x].address if isinstance(x, str) else x for x in call.args)
        self.chain.pending_timestamp = self.now
        with pytest.raises(ContractLogicError):
            getattr(contract, call.name)(*args, sender=self.who[caller])
        self.head = None
        SEEN["direct refused"] += 1

    @initialize(target=ops, calls=st.lists(setter_calls, min_size=1, max_size=2), extra=st.integers(0, 2 * DAY))
    def first_proposal(self, calls, extra):
        return self.safe_schedules(calls, extra)

    @rule(target=ops, calls=st.lists(setter_calls, min_size=1, max_size=2), extra=st.integers(0, 2 * DAY))
    def safe_schedules(self, calls, extra):
        encoded = [self._encode(c) for c in calls]
        self.salt += 1
        salt = self.salt.to_bytes(32, "big")
        delay = self.params["min_delay"] + extra
        self.chain.pending_timestamp = self.now
        op_id = gov.propose_batch(self.g, encoded, self.owners[:2], sender=self.who["attacker"], salt=salt, delay=delay)
        self.head = None
        SEEN["scheduled"] += 1
        return Op(calls=tuple(calls), salt=salt, ready_at=self.now + delay, op_id=op_id)

    def unauthorised_schedule(self, calls, how):
        """One owner's signature, an owner plus a stranger, or an owner
        calling the timelock directly: none of them schedules anything."""
        encoded = [self._encode(c) for c in calls]
        args = ([t for t, _ in encoded], [0] * len(encoded), [d for _, d in encoded], gov.EMPTY, b"\x77" * 32, 3 * DAY)
        self.chain.pending_timestamp = self.now
        if how == "direct":
            with pytest.raises(ContractLogicError, match="access_control: account is missing role"):
                self.g.timelock.schedule_batch(*args, sender=self.who["owner"])
        else:
            signers = [self.owners[2], self.who["attacker"]] if how == "stranger" else [self.owners[2]]
            payload = self.g.timelock.schedule_batch.encode_input(*args)
            with pytest.raises(ContractLogicError, match="GS026" if how == "stranger" else "GS020"):
                gov.safe_exec(self.g.safe, self.g.timelock.address, payload, signers, sender=self.who["attacker"])
        self.head = None
        SEEN["unauthorised schedule"] += 1

    @rule(
        target=ops,
        calls=st.lists(setter_calls, min_size=1, max_size=2),
        extra=st.integers(0, DAY),
        when=st.sampled_from(["within grace", "last second", "just before", "expired"]),
        seconds=st.integers(0, GRACE),
    )
    def proposal_life_cycle(self, calls, extra, when, seconds):
        """The Safe schedules, time passes to around the ready time, someone executes."""
        op = self.safe_schedules(calls, extra)
        self.execute_around_ready_time(op, when, seconds, "attacker")
        return op

    @rule(op=ops, caller=st.sampled_from(["attacker", "staker", "guardian"]))
    def execute_now(self, op, caller):
        self.anyone_executes(op, caller)

    def anyone_executes(self, op, caller):
        encoded = [self._encode(c) for c in op.calls]
        after = dict(self.params)
        valid = all([self._apply(after, c) for c in op.calls])  # every call in order; any refusal reverts all
        lock = self.g.timelock
        done = lock.is_operation_done(op.op_id)
        known = lock.is_operation(op.op_id)
        ready = known and not done and op.ready_at <= self.now <= op.ready_at + GRACE
        self.chain.pending_timestamp = self.now
        try:
            gov.execute_batch(self.g, encoded, sender=self.who[caller], salt=op.salt)
        except ContractLogicError as error:
            self.head = None
            assert not (ready and valid), f"a ready, valid operation failed: {error.message}"
            if known and not done and self.now < op.ready_at:
                assert error.message == "timelock_controller: operation is not ready"
                SEEN["too early"] += 1
            elif known and not done and self.now > op.ready_at + GRACE:
                assert error.message == "timelock: operation expired"
                SEEN["expired"] += 1
            elif ready:
                SEEN["out of bounds"] += 1
            return
        self.head = None
        assert ready and valid, "an operation executed that was not ready, valid and unexpired"
        self.params = after
        SEEN["executed"] += 1

    @rule(op=consumes(ops))
    def safe_cancels(self, op):
        lock = self.g.timelock
        pending = lock.is_operation_pending(op.op_id)
        self.chain.pending_timestamp = self.now
        if pending:
            gov.cancel(self.g, op.op_id, self.owners[1:], sender=self.who["attacker"])
            SEEN["cancelled"] += 1
        else:
            with pytest.raises(ContractLogicError):
                gov.cancel(self.g, op.op_id, self.owners[1:], sender=self.who["attacker"])
        self.head = None

    @rule(which=st.sampled_from(["router", "reserve"]), caller=st.sampled_from(["guardian", "attacker", "staker"]))
    def pause(self, which, caller):
        """The current guardian (or nobody else) pauses."""
        contract = self.contracts[which]
        sender = self.who[caller]
        allowed = sender.address == self.params[f"{which}_guardian"] and not self.params[f"{which}_paused"]
        self.chain.pending_timestamp = self.now
        if allowed:
            contract.pause(sender=sender)
            self.params[f"{which}_paused"] = True
            SEEN["paused"] += 1
        else:
            with pytest.raises(ContractLogicError):
                contract.pause(sender=sender)
        self.head = None

    @rule(dt=time_jumps)
    def time_passes(self, dt):
        self.now += dt

    @rule(
        op=ops,
        when=st.sampled_from(["within grace", "last second", "just before", "expired"]),
        seconds=st.integers(0, GRACE),
        caller=st.sampled_from(["attacker", "merchant"]),
    )
    def execute_around_ready_time(self, op, when, seconds, caller):
        """Jumps to a moment near an operation's ready time (within grace, at
        its last second, just before or past it) and executes it."""
        offset = {
            "within grace": seconds,
            "last second": GRACE,
            "just before": -1 - seconds % 3_600,
            "expired": GRACE + 1 + seconds % DAY,
        }[when]
        self.now = max(self.now, op.ready_at + offset)
        self.anyone_executes(op, caller)

    @invariant()
    def nothing_changes_outside_the_timelock(self):
        self.sync()
        assert self._read() == self.params


@pytest.fixture
def machine_env(
    monkeypatch,
    chain,
    governed,
    governed_listing,
    safe_owners,
    accounts,
    usdc,
    stakers,
    merchant,
    guardian,
    attacker,
    admin,
):
    # Ape builds a Vyper source traceback for every failed transaction; for a
    # revert inside the timelock that takes ~20 s (one trace request per
    # frame). The machine checks revert reasons, not tracebacks: skip them.
    monkeypatch.setattr("ape.exceptions._get_ape_traceback_from_tx", lambda txn: None)
    listing = governed_listing
    usdc.faucet(listing.reserve, 1_000 * UNITS, sender=attacker)  # a treasury balance above the stake
    safe = governed[1].safe
    accounts.provider.set_balance(safe.address, 10**20)
    who = {
        "staker": stakers[0],
        "merchant": merchant,
        "guardian": guardian,
        "attacker": attacker,
        "deployer": admin,
        "safe": accounts[safe.address],
        "owner": safe_owners[0],
        "treasury": safe_owners[2],
    }
    return dict(chain=chain, governed=governed, listing=listing, usdc=usdc, owners=safe_owners, who=who)


def test_governance_invariants(machine_env, fuzz_settings):
    GovernanceMachine.env = machine_env
    SEEN.clear()
    run_state_machine_as_test(GovernanceMachine, settings=fuzz_settings(max_examples=10, stateful_step_count=30))
    print(dict(SEEN))
    if fuzz_settings.reproducible:
        for outcome in (
            "executed",
            "too early",
            "expired",
            "out of bounds",
            "cancelled",
            "paused",
            "direct refused",
            "unauthorised schedule",
        ):
            assert SEEN[outcome], (outcome, dict(SEEN))
