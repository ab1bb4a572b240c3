"""U1 of docs/PROTOCOL.md (attestation safety), fuzzed with a stateful
hypothesis machine on the UnderwritingRegistry against an independent Python
model of it (bonds, pending withdrawals, nonces, every merchant's records,
underwritten market caps, listings, defaults and what is held for pots),
compared to the wei after every step, with `verified_cap` at the edges of
the newest records (and caps of times already past re-read: they never
change) and the registry's token balance == sum of bonds + total_held.

Actors: three agents (one well bonded, one thinly bonded, one allow-listed
without a bond) post bonds, ask for withdrawals and withdraw (now, a second
before the cooldown ends, on time, down to their minimum and one unit below
it); governance adds and removes agents and changes min_agent_bond_bps,
tolerance_bps, agent_slash_bps and the model version (an outsider tries the
same); agents attest three merchants honestly (grade A, unlistable and
rejected inputs, some already expired); time jumps; the factory records
listings, which bind the agents' bonds (all the headroom, one wei over it,
half, 1 wei; an outsider tries too); reserves report defaults (once; a
reserve naming another merchant and an outsider try too).

Attacks: forged (a non-agent signs), replayed, stale and future nonces,
expired, not yet valid, valid over 35 days, another chain's domain, another
registry's domain, an under-bonded agent, high-s, another model version.
Every one of them is checked in every state the machine reaches (an eth_call
batch at the machine's clock, `every_attack_is_refused`), and the `attack`
rule sends three of them as transactions: each must revert with its exact
reason and change nothing (the model is not touched; the comparison after
the step must still hold). The model recovers each signer itself, from the
EIP-712 digest of the registry's own domain (eth_account), so a signature
for another chain or registry is judged by the address it really recovers
to, and it must agree that each forged message is the attack it was made as.

The factory is a plain account named the registry's factory (`set_factory`):
a real `ListingFactory.create_listing` per step (six deployments) would be
too slow; tests/test_underwriting_registry.py records a listing through the
real factory and drives a real reserve into default. Reserves are plain
accounts too.

`test_machine_catches_a_registry_without_its_check` runs the same machine
against registries compiled from a patched source (no nonce check, no expiry
check): the machine must fail on that check's reason, also with the
every-state eth_call check switched off (`TransactionsOnly`).
"""

import os
from collections import Counter
from dataclasses import dataclass, field, replace

import ape
import pytest
import requests
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule, run_state_machine_as_test
from vyper_source import compile_source, patched

from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.deployment import default_inputs
from ape_pst_plugin.testing import ChainMachine

USDC = 10**6
BPS = 10_000
DAY = 86_400
SCALE = 10**12
CAP_MASK = 2**128 - 1
HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
COOLDOWN = 7 * DAY
MAX_VALIDITY = 35 * DAY
OWNER_ONLY = "ownable: caller is not the owner"
FIELDS = list(uw.Attestation.model_fields)  # the typed message's fields, in order
INITIAL_BONDS = (5_000_000 * USDC, 20_000 * USDC, 0)

# inputs an agent may attest (grade A, not listable, rejected outright)
PROFILES = {
    "A": lambda month: default_inputs(month),
    "unlistable": lambda month: replace(
        default_inputs(month),
        history_months=6,
        volatility_bps=6_000,
        growth_bps=-2_000,
        refund_bps=1_400,
        top_channel_bps=10_000,
    ),
    "rejected": lambda month: replace(default_inputs(month), history_months=5),
}

ATTACKS = {
    "forged": "registry: signer is not an agent",
    "replayed": "registry: wrong nonce",
    "stale nonce": "registry: wrong nonce",
    "future nonce": "registry: wrong nonce",
    "expired": "registry: attestation expired",
    "not yet valid": "registry: attestation issued in the future",
    "over-long": "registry: validity over 35 days",
    "other chain": "registry: signer is not an agent",
    "other registry": "registry: signer is not an agent",
    "under-bonded": "registry: agent bond below the minimum",
    "high-s": "ecdsa: invalid signature `s` value",
    "other model version": "registry: wrong model version",
}


def _ceil_div(a, b):
    return -(-a // b)


@dataclass
class RegistryModel:
    """The registry as docs/PROTOCOL.md describes it, in plain Python."""

    tolerance_bps: int = 500
    min_agent_bond_bps: int = 200
    agent_slash_bps: int = 2_000
    model_version: int = uw.MODEL_VERSION
    is_agent: dict = field(default_factory=dict)
    bond: dict = field(default_factory=dict)
    withdrawal: dict = field(default_factory=dict)  # agent -> (amount, ready_at)
    underwritten: dict = field(default_factory=dict)
    nonces: Counter = field(default_factory=Counter)
    records: dict = field(default_factory=dict)  # merchant -> [(recorded_at, expires_at, cap)]
    latest: dict = field(default_factory=dict)  # merchant -> the registry's Latest, as a tuple
    listings: dict = field(default_factory=dict)  # reserve -> (merchant, agent, market_cap)
    defaulted: set = field(default_factory=set)
    held_for_pot: Counter = field(default_factory=Counter)
    total_held: int = 0

    def required(self, agent, extra=0):
        return _ceil_div((self.underwritten.get(agent, 0) + extra) * self.min_agent_bond_bps, BPS * SCALE)

    def headroom(self, agent):
        """The largest market cap `agent`'s bond covers on top of its live listings."""
        return max(
            0, self.bond.get(agent, 0) * BPS * SCALE // self.min_agent_bond_bps - self.underwritten.get(agent, 0)
        )

    def well_bonded(self, agent):
        bond = self.bond.get(agent, 0)
        return self.is_agent.get(agent, False) and bond != 0 and bond >= self.required(agent)

    def verified_cap(self, merchant, at):
        newest = [r for r in self.records.get(merchant, []) if r[0] <= at]
        if not newest or at >= newest[-1][1]:
            return 0
        return newest[-1][2]

    def is_fresh(self, merchant, now):
        latest = self.latest.get(merchant)
        return latest is not None and now < latest[7]

    # --- submit: the checks in the registry's order, then the effects ----------------
    def submit(self, now, message, signature, recovered):
        """The revert reason of `submit`, or None after applying it."""
        if message.merchant == "0x0000000000000000000000000000000000000000":
            return "registry: merchant is the zero address"
        if message.model_version != self.model_version:
            return "registry: wrong model version"
        if message.issued_at > now:
            return "registry: attestation issued in the future"
        if now >= message.expires_at:
            return "registry: attestation expired"
        if message.expires_at - message.issued_at > MAX_VALIDITY:
            return "registry: validity over 35 days"
        if message.nonce != self.nonces[message.merchant]:
            return "registry: wrong nonce"
        if len(signature) != 65:
            return "registry: signature is not 65 bytes"
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            return "ecdsa: invalid signature `s` value"
        if not self.is_agent.get(recovered, False):
            return "registry: signer is not an agent"
        bond = self.bond.get(recovered, 0)
        if bond == 0 or bond < self.required(recovered):
            return "registry: agent bond below the minimum"
        inputs = uw.Inputs(
            message.history_months,
            message.avg_monthly_revenue,
            message.month_revenue,
            message.volatility_bps,
            message.growth_bps,
            message.refund_bps,
            message.top_channel_bps,
        )
        try:
            score = uw.score(inputs, 6)
        except uw.ScoringError as rejected:
            return str(rejected)
        cap = message.month_revenue * (BPS + self.tolerance_bps) // BPS
        if message.month_revenue > CAP_MASK or cap > CAP_MASK:
            return "registry: month revenue out of range"
        self.nonces[message.merchant] += 1
        self.records.setdefault(message.merchant, []).append((now, message.expires_at, cap))
        self.latest[message.merchant] = (
            recovered,
            score.grade,
            score.total,
            message.avg_monthly_revenue,
            message.month_revenue,
            message.volatility_bps,
            message.issued_at,
            message.expires_at,
            now,
        )
        return None

    def record_listing(self, now, merchant, reserve, market_cap):
        if reserve in self.listings:
            return "registry: reserve already recorded"
        if not self.is_fresh(merchant, now):
            return "registry: no fresh attestation"
        agent = self.latest[merchant][0]
        if not self.is_agent.get(agent, False):
            return "registry: attesting agent was removed"
        if self.bond.get(agent, 0) < self.required(agent, market_cap):
            return "registry: agent bond below the minimum"
        self.underwritten[agent] = self.underwritten.get(agent, 0) + market_cap
        self.listings[reserve] = (merchant, agent, market_cap)
        return None

    def report_default(self, caller, merchant):
        if caller not in self.listings or self.listings[caller][0] != merchant:
            return "registry: caller is not the merchant's reserve"
        if caller in self.defaulted:
            return "registry: default already reported"
        self.defaulted.add(caller)
        _, agent, market_cap = self.listings[caller]
        self.underwritten[agent] -= market_cap
        slashed = self.bond[agent] * self.agent_slash_bps // BPS
        self.bond[agent] -= slashed
        self.held_for_pot[caller] += slashed
        self.total_held += slashed
        return None


class BatchReader:
    """Many views of one contract in one JSON-RPC batch of eth_calls at the
    newest block (ABI-encoded here: a call per view through Ape or web3
    would make the invariant check the slowest part of every step)."""

    def __init__(self, chain, contract):
        self.uri = chain.provider.web3.provider.endpoint_uri
        self.to = contract.address
        self.methods = {
            abi.name: (abi.selector, [i.canonical_type for i in abi.inputs], [o.canonical_type for o in abi.outputs])
            for abi in contract.contract_type.methods
        }
        self.session = requests.Session()

    def read(self, calls):
        """``calls``: ``(view name, *args)``; the decoded results in order (structs as tuples)."""
        answers = self._batch(calls)
        results = []
        for (name, *_), answer in zip(calls, answers):
            assert "result" in answer, (name, answer)
            outputs = self.methods[name][2]
            decoded = abi_decode(outputs, bytes.fromhex(answer["result"][2:]))
            results.append(decoded[0] if len(outputs) == 1 else decoded)
        return results

    def reverts(self, calls):
        """The revert reason of each call (None: it did not revert)."""
        reasons = []
        for answer in self._batch(calls):
            data = (answer.get("error") or {}).get("data")
            if "error" not in answer:
                reasons.append(None)
            elif isinstance(data, str) and data.startswith("0x08c379a0"):  # Error(string)
                reasons.append(abi_decode(["string"], bytes.fromhex(data[10:]))[0])
            else:
                reasons.append(f"no reason: {answer['error']}")
        return reasons

    def _batch(self, calls):
        if not calls:
            return []
        batch = []
        for i, (name, *args) in enumerate(calls):
            selector, inputs, _ = self.methods[name]
            data = function_signature_to_4byte_selector(selector) + abi_encode(inputs, args)
            batch.append(
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_call",
                    "params": [{"to": self.to, "data": "0x" + data.hex()}, "latest"],
                }
            )
        return sorted(self.session.post(self.uri, json=batch, timeout=60).json(), key=lambda a: a["id"])


class UnderwritingMachine(ChainMachine):
    env: dict = {}
    seen: Counter = Counter()

    def __init__(self):
        e = self.env
        super().__init__(e["chain"])
        self.registry, self.usdc, self.owner = e["registry"], e["usdc"], e["owner"]
        self.factory, self.relayer, self.outsider, self.payee = e["factory"], e["relayer"], e["outsider"], e["payee"]
        self.agents, self.forger = e["agents"], e["forger"]
        self.reserves, self.merchants = e["reserves"], e["merchants"]
        self.chain_id = self.chain.chain_id
        self.model = RegistryModel()
        for agent, bond in zip(self.agents, INITIAL_BONDS):
            self.model.is_agent[agent.address] = True
            self.model.bond[agent.address] = bond
        # the setup's attestations (merchants 0 and 1), as the model would have recorded them
        self.accepted = list(e["accepted"])  # (message, signature) of accepted attestations
        for message, signature in self.accepted:
            recorded_at = self.registry.latest(message.merchant).recorded_at
            assert self.model.submit(recorded_at, message, signature, self.recover(message, signature)) is None
        self.observed = {}  # (merchant, t) -> verified cap read once t had passed: never changes
        self.reader = BatchReader(self.chain, self.registry)
        self.checks = 0  # the invariant's turn (per example: a failing example must replay the same)

    # --- plumbing ------------------------------------------------------------------
    def expect(self, reason, fn, *args, sender):
        """Sends at the machine's clock: it must succeed (reason None) or revert with exactly `reason`."""
        name = fn.abis[0].name
        if reason is None:
            self.seen[f"ok {name}"] += 1
            return self.send(fn, *args, sender=sender)
        self.chain.pending_timestamp = self.now
        try:
            fn(*args, sender=sender)
        except ape.exceptions.ContractLogicError as err:
            self.head = self.now  # the reverted transaction was mined at the machine's clock
            assert err.message == reason, f"{name}: expected {reason!r}, reverted with {err.message!r}"
            self.seen[reason] += 1
            return None
        self.head = self.now
        raise AssertionError(f"{name}: expected the revert {reason!r}, but it succeeded")

    def read(self, calls):
        return self.reader.read(calls)

    def sign(self, signer, merchant, inputs, *, issued_at=None, validity=30 * DAY, **fields):
        fields.setdefault("nonce", self.model.nonces[merchant])
        fields.setdefault("chain_id", self.chain_id)
        fields.setdefault("registry", self.registry.address)
        fields.setdefault("model_version", self.model.model_version)
        message = uw.attestation(
            inputs,
            merchant=merchant,
            issued_at=self.now if issued_at is None else issued_at,
            validity=validity,
            **fields,
        )
        # eth_account with the test account's key: the same signature as signer.sign_message, ten times faster
        signed = Account.sign_message(message.signable_message, signer.private_key)
        return message, signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + bytes([signed.v])

    def recover(self, message, signature):
        """Who the registry sees as the signer: recovery from its own domain's digest."""
        if int.from_bytes(signature[32:64], "big") > HALF_N:
            return None
        seen_by_registry = uw.Attestation(
            **{name: getattr(message, name) for name in FIELDS},
            eip712_name="PST Underwriting",
            eip712_version="1",
            eip712_chainId=self.chain_id,
            eip712_verifyingContract=self.registry.address,
        ).signable_message
        digest = keccak(b"\x19\x01" + seen_by_registry.header + seen_by_registry.body)
        r, s, v = (int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64])
        return Account._recover_hash(digest, vrs=(v, r, s))

    def submit(self, message, signature):
        """Submits through the relayer; the model decides the outcome first. Returns the reason (None: accepted)."""
        reason = self.model.submit(self.now, message, signature, self.recover(message, signature))
        receipt = self.expect(reason, self.registry.submit, message.as_tuple(), signature, sender=self.relayer)
        if reason is None:
            self.accepted.append((message, signature))
            [event] = receipt.events.filter(self.registry.Attested)
            latest = self.model.latest[message.merchant]
            cap = self.model.records[message.merchant][-1][2]
            assert (event.agent, event.grade, event.cap) == (latest[0], latest[1], cap)
        return reason

    def good_agent(self):
        return next((a for a in self.agents if self.model.well_bonded(a.address)), None)

    # --- agents and bonds -------------------------------------------------------------
    @rule(who=st.integers(0, 3), amount=st.one_of(st.sampled_from([0, 1]), st.integers(1, 2_000_000 * USDC)))
    def post_bond(self, who, amount):
        """An agent (or the forger, never allow-listed) posts a bond."""
        account = self.agents[who] if who < 3 else self.forger
        a = account.address
        reason = None if self.model.is_agent.get(a) else "registry: not an agent"
        reason = reason or ("registry: zero amount" if amount == 0 else None)
        self.expect(reason, self.registry.post_bond, amount, sender=account)
        if reason is None:
            self.model.bond[a] += amount

    @rule(
        who=st.integers(0, 2),
        part_bps=st.sampled_from([0, 1, 2_500, 5_000, 10_000, 10_001]),
        then=st.sampled_from([None, "a second early", "on time"]),
    )
    def request_withdrawal(self, who, part_bps, then):
        """An agent asks for part of its bond back (then maybe tries to withdraw, a second early or on time)."""
        a = self.agents[who].address
        bond = self.model.bond[a]
        amount = bond * part_bps // BPS + (1 if part_bps > BPS else 0)
        reason = None
        if amount == 0:
            reason = "registry: zero amount"
        elif amount > bond:
            reason = "registry: amount over the bond"
        self.expect(reason, self.registry.request_bond_withdrawal, amount, sender=self.agents[who])
        if reason is None:
            self.model.withdrawal[a] = (amount, self.now + COOLDOWN)
        if then:
            self.withdraw(who, then)

    @rule(who=st.integers(0, 2))
    def withdraw_down_to_the_minimum(self, who):
        """With live listings: one unit more than the bond above the minimum is refused, exactly that is paid."""
        a = self.agents[who].address
        room = self.model.bond[a] - self.model.required(a)
        if self.model.required(a) == 0 or room <= 0:
            return
        for amount in (room + 1, room):
            self.request_withdrawal_of(who, amount)
            self.withdraw(who, "on time")

    def request_withdrawal_of(self, who, amount):
        self.expect(None, self.registry.request_bond_withdrawal, amount, sender=self.agents[who])
        self.model.withdrawal[self.agents[who].address] = (amount, self.now + COOLDOWN)

    @rule(who=st.integers(0, 2), timing=st.sampled_from(["now", "a second early", "on time"]))
    def withdraw(self, who, timing):
        agent, a = self.agents[who], self.agents[who].address
        amount, ready_at = self.model.withdrawal.get(a, (0, 0))
        if amount and timing == "a second early" and ready_at - 1 >= self.now:
            self.now = ready_at - 1
        if amount and timing == "on time" and ready_at >= self.now:
            self.now = ready_at
        bond = self.model.bond[a]
        if amount == 0:
            reason = "registry: no withdrawal requested"
        elif self.now < ready_at:
            reason = "registry: bond cooldown not over"
        elif amount > bond:
            reason = "registry: amount over the bond"
        elif bond - amount < self.model.required(a):
            reason = "registry: bond would fall below the minimum"
        else:
            reason = None
        before = self.usdc.balanceOf(self.payee)
        self.expect(reason, self.registry.withdraw_bond, self.payee, sender=agent)
        if reason is None:
            self.model.bond[a] -= amount
            del self.model.withdrawal[a]
            assert self.usdc.balanceOf(self.payee) - before == amount

    # --- governance -----------------------------------------------------------------------
    @rule(
        action=st.sampled_from(["add", "remove"]),
        who=st.integers(0, 2),
        by_owner=st.sampled_from([True, True, True, False]),
    )
    def govern_agents(self, action, who, by_owner):
        a = self.agents[who].address
        if not by_owner:
            reason = OWNER_ONLY
        elif action == "add":
            reason = "registry: already an agent" if self.model.is_agent.get(a) else None
        else:
            reason = None if self.model.is_agent.get(a) else "registry: not an agent"
        fn = self.registry.add_agent if action == "add" else self.registry.remove_agent
        self.expect(reason, fn, a, sender=self.owner if by_owner else self.outsider)
        if reason is None:
            self.model.is_agent[a] = action == "add"

    @rule(
        name=st.sampled_from(["min_agent_bond_bps", "tolerance_bps", "agent_slash_bps"]),
        value=st.sampled_from([0, 49, 50, 150, 200, 500, 1_234, 2_000, 2_001, 5_000, 5_001]),
        by_owner=st.sampled_from([True, True, True, False]),
    )
    def set_parameter(self, name, value, by_owner):
        lowest, highest = {
            "min_agent_bond_bps": (50, 2_000),
            "tolerance_bps": (0, 2_000),
            "agent_slash_bps": (0, 5_000),
        }[name]
        if not by_owner:
            reason = OWNER_ONLY
        elif not lowest <= value <= highest:
            reason = f"registry: {name} out of bounds"
        else:
            reason = None
        setter = getattr(self.registry, f"set_{name}")
        self.expect(reason, setter, value, sender=self.owner if by_owner else self.outsider)
        if reason is None:
            setattr(self.model, name, value)
        assert getattr(self.registry, name)() == getattr(self.model, name)

    @rule(step=st.sampled_from([0, 1, 2]), by_owner=st.sampled_from([True, True, True, False]))
    def set_model_version(self, step, by_owner):
        value = self.model.model_version + step
        reason = OWNER_ONLY if not by_owner else (None if step else "registry: model version must increase")
        self.expect(reason, self.registry.set_model_version, value, sender=self.owner if by_owner else self.outsider)
        if reason is None:
            self.model.model_version = value
        assert self.registry.model_version() == self.model.model_version

    # --- attestations -------------------------------------------------------------------
    @rule(
        who=st.sampled_from([0, 0, 1, 2]),
        m=st.integers(0, 2),
        profile=st.sampled_from(["A", "A", "unlistable", "rejected"]),
        month=st.integers(10_000 * USDC, 500_000 * USDC),
        back=st.sampled_from([0, 1, 3_600, DAY]),
        validity=st.sampled_from([DAY, 7 * DAY, 30 * DAY, MAX_VALIDITY]),
    )
    def attest(self, who, m, profile, month, back, validity):
        """An agent attests a merchant honestly; the model says whether the registry takes it."""
        message, signature = self.sign(
            self.agents[who], self.merchants[m], PROFILES[profile](month), issued_at=self.now - back, validity=validity
        )
        reason = self.submit(message, signature)
        self.seen[f"attest {profile}: {reason or 'accepted'}"] += 1

    def forge(self, kind, merchant, k):
        """The message and signature of attack `kind` on `merchant`, or None when it cannot be made now."""
        signer = self.good_agent()
        if kind == "under-bonded":
            signer = next(
                (
                    a
                    for a in self.agents
                    if self.model.is_agent.get(a.address) and not self.model.well_bonded(a.address)
                ),
                None,
            )
        if signer is None:
            return None
        inputs = default_inputs(100_000 * USDC)
        nonce = self.model.nonces[merchant]
        if kind == "replayed":
            # an accepted message that would pass every check before the nonce's
            candidates = [
                (msg, sig)
                for msg, sig in self.accepted
                if msg.model_version == self.model.model_version and self.now < msg.expires_at
            ]
            return candidates[k % len(candidates)] if candidates else None
        if kind == "stale nonce":
            return self.sign(signer, merchant, inputs, nonce=k % nonce) if nonce else None
        if kind == "future nonce":
            return self.sign(signer, merchant, inputs, nonce=nonce + 1 + k % 5)
        if kind == "expired":
            return self.sign(signer, merchant, inputs, issued_at=self.now - 30 * DAY - k + 1)
        if kind == "not yet valid":
            return self.sign(signer, merchant, inputs, issued_at=self.now + k)
        if kind == "over-long":
            return self.sign(signer, merchant, inputs, validity=MAX_VALIDITY + k)
        if kind == "other chain":
            return self.sign(signer, merchant, inputs, chain_id=[1, 10, 8_453][k % 3])
        if kind == "other registry":
            return self.sign(signer, merchant, inputs, registry=self.usdc.address)
        if kind == "high-s":
            message, honest = self.sign(signer, merchant, inputs)
            s = int.from_bytes(honest[32:64], "big")
            return message, honest[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - honest[64]])
        if kind == "other model version":
            version = self.model.model_version + 1 if k % 2 else self.model.model_version - 1
            return self.sign(signer, merchant, inputs, model_version=version)
        if kind == "forged":
            return self.sign(self.forger, merchant, inputs)
        # under-bonded: an honest message, by an agent whose bond is short of its minimum
        return self.sign(signer, merchant, inputs)

    def judged_attacks(self, merchant, k):
        """[(kind, message, signature, reason)] of every attack that can be made now; the model judges
        each message on its own, and must agree that it is this attack."""
        made = []
        for kind in sorted(ATTACKS):
            forged = self.forge(kind, merchant, k)
            if forged is None:
                self.seen[f"attack {kind}: cannot be made now"] += 1
                continue
            message, signature = forged
            reason = self.model.submit(self.now, message, signature, self.recover(message, signature))
            assert reason == ATTACKS[kind], (kind, reason)
            made.append((kind, message, signature, reason))
        return made

    @rule(sent=st.sampled_from(sorted(ATTACKS)), m=st.integers(0, 2), k=st.one_of(st.just(1), st.integers(1, 10 * DAY)))
    def attack(self, sent, m, k):
        """Attacks as transactions (the drawn kind and the next two that can be made now): each refused
        with its exact reason; nothing changes (the invariant compares)."""
        made = {kind: rest for kind, *rest in self.judged_attacks(self.merchants[m], k)}
        kinds = sorted(ATTACKS)
        turn = kinds.index(sent)
        for kind in [
            kinds[(turn + i) % len(kinds)] for i in range(len(kinds)) if kinds[(turn + i) % len(kinds)] in made
        ][:3]:
            message, signature, reason = made[kind]
            self.expect(reason, self.registry.submit, message.as_tuple(), signature, sender=self.relayer)
            self.seen[f"attack {kind} sent"] += 1

    @invariant()
    def every_attack_is_refused(self):
        """U1 in every state the machine reaches: each attack on a merchant (in turn) reverts with its
        exact reason (eth_call at the machine's clock, one batch)."""
        self.sync()
        steps = self.checks
        self.checks += 1
        made = self.judged_attacks(self.merchants[steps % 3], [1, 3_600, 7 * DAY][steps % 3 - 1])
        reasons = self.reader.reverts([("submit", message.as_tuple(), signature) for _, message, signature, _ in made])
        for (kind, _, _, expected), reason in zip(made, reasons):
            assert reason == expected, f"submit ({kind}): expected the revert {expected!r}, but it " + (
                "succeeded (eth_call)" if reason is None else f"reverted with {reason!r}"
            )
            self.seen[f"attack {kind}"] += 1

    # --- listings and defaults ---------------------------------------------------------
    @rule(
        m=st.integers(0, 2),
        size=st.sampled_from(["all the headroom", "one wei over", "half", "1 wei"]),
        by_factory=st.sampled_from([True, True, True, False]),
        defaults=st.booleans(),
    )
    def list_merchant(self, m, size, by_factory, defaults):
        """The factory lists a merchant on its newest attestation, binding the agent's bond (an outsider tries too)."""
        unused = [r for r in self.reserves if r.address not in self.model.listings]
        if not unused:
            return
        if not by_factory:
            self.expect(
                "registry: caller is not the factory",
                self.registry.record_listing,
                self.merchants[m],
                unused[0],
                10**24,
                sender=self.outsider,
            )
            return
        merchant, reserve = self.merchants[m], unused[0].address
        latest = self.model.latest.get(merchant)
        headroom = self.model.headroom(latest[0]) if latest else 10**24
        market_cap = {"all the headroom": headroom, "one wei over": headroom + 1, "half": headroom // 2, "1 wei": 1}[
            size
        ]
        reason = self.model.record_listing(self.now, merchant, reserve, market_cap)
        self.expect(reason, self.registry.record_listing, merchant, reserve, market_cap, sender=self.factory)
        self.seen[f"list {size}: {reason or 'recorded'}"] += 1
        if reason is None and defaults:  # a listing that goes on to default
            self._report(unused[0], "its reserve", m)

    @rule(
        r=st.integers(0, 3),
        who=st.sampled_from(["its reserve", "its reserve", "a reserve naming any merchant", "an outsider"]),
        m=st.integers(0, 2),
    )
    def report_default(self, r, who, m):
        """A listing's reserve reports its default (a reserve naming any merchant, and an outsider, try too)."""
        listed = [x for x in self.reserves if x.address in self.model.listings]
        self._report(listed[r % len(listed)] if listed else self.reserves[r], who, m)

    def _report(self, reserve, who, m):
        listing = self.model.listings.get(reserve.address)
        merchant = listing[0] if listing and who == "its reserve" else self.merchants[m]
        caller = self.outsider if who == "an outsider" else reserve
        reason = self.model.report_default(caller.address, merchant)
        self.expect(reason, self.registry.report_default, merchant, sender=caller)

    @rule(
        dt=st.one_of(st.sampled_from([1, 3_600, DAY, COOLDOWN, 30 * DAY, MAX_VALIDITY + 1]), st.integers(1, 40 * DAY))
    )
    def wait(self, dt):
        self.now += dt

    # --- the registry equals the model, to the wei ---------------------------------------
    @invariant()
    def registry_matches_model(self):
        self.sync()
        m = self.model
        agents = [a.address for a in self.agents] + [self.forger.address]
        calls = [("total_held",), ("tolerance_bps",), ("min_agent_bond_bps",), ("agent_slash_bps",), ("model_version",)]
        for a in agents:
            calls += [("bond", a), ("underwritten", a), ("withdrawal", a), ("is_agent", a)]
        probes = []
        for merchant in self.merchants:
            calls += [("nonces", merchant), ("record_count", merchant), ("latest", merchant), ("is_fresh", merchant)]
        for merchant in self.merchants:
            records = m.records.get(merchant, [])
            times = {self.now}
            for recorded_at, expires_at, _ in records[-2:]:
                times |= {recorded_at - 1, recorded_at, expires_at - 1, expires_at}
            probes += [(merchant, t) for t in sorted(times)]
        calls += [("verified_cap", merchant, t) for merchant, t in probes]
        earlier = list(self.observed.items())[-6:]
        calls += [("verified_cap", merchant, t) for (merchant, t), _ in earlier]
        for reserve in self.reserves:
            calls += [
                ("held_for_pot", reserve.address),
                ("defaulted", reserve.address),
                ("listing_market_cap", reserve.address),
            ]
        calls.append(("SETTLEMENT",))
        values = iter(self.read(calls))
        assert [next(values) for _ in range(5)] == [
            m.total_held,
            m.tolerance_bps,
            m.min_agent_bond_bps,
            m.agent_slash_bps,
            m.model_version,
        ]
        for a in agents:
            bond, underwritten, withdrawal, is_agent = (next(values) for _ in range(4))
            assert (bond, underwritten, tuple(withdrawal), is_agent) == (
                m.bond.get(a, 0),
                m.underwritten.get(a, 0),
                m.withdrawal.get(a, (0, 0)),
                m.is_agent.get(a, False),
            ), a
        for merchant in self.merchants:
            nonce, count, latest, fresh = (next(values) for _ in range(4))
            assert (nonce, count) == (m.nonces[merchant], len(m.records.get(merchant, [])))
            latest = (to_checksum_address(latest[0]), *latest[1:])
            assert latest == (
                m.latest.get(merchant) or ("0x0000000000000000000000000000000000000000", 0, 0, 0, 0, 0, 0, 0, 0)
            )
            assert fresh == m.is_fresh(merchant, self.now)
        for merchant, t in probes:
            cap = next(values)
            assert cap == m.verified_cap(merchant, t), (merchant, t)
            if t < self.now:  # a period that began: no record from now on can change its cap
                self.observed[(merchant, t)] = cap
        # a cap read once its time had come never changes, whatever was attested since
        for (merchant, t), cap in earlier:
            assert next(values) == cap, (merchant, t)
        for reserve in self.reserves:
            held, defaulted, market_cap = (next(values) for _ in range(3))
            listing = m.listings.get(reserve.address)
            assert (held, defaulted, market_cap) == (
                m.held_for_pot[reserve.address],
                reserve.address in m.defaulted,
                listing[2] if listing else 0,
            )
        # U1's bookkeeping: the registry holds exactly the bonds plus what it holds for pots
        assert self.usdc.balanceOf(self.registry) == sum(m.bond.values()) + m.total_held


@pytest.fixture
def make_env(chain, project, deployer, usdc, accounts, networks, attacker):
    def fresh():
        account = accounts.generate_test_account()
        networks.provider.set_balance(account.address, 10**21)
        return account

    def make(container=None):
        owner = deployer
        registry = owner.deploy(container or project.UnderwritingRegistry, usdc)
        factory, relayer, payee, forger = fresh(), fresh(), fresh(), fresh()
        registry.set_factory(factory, sender=owner)
        agents = [fresh() for _ in range(3)]
        for agent, bond in zip(agents, INITIAL_BONDS):
            registry.add_agent(agent, sender=owner)
            usdc.faucet(agent, 10**9 * USDC, sender=agent)
            usdc.approve(registry, 2**256 - 1, sender=agent)
            if bond:
                registry.post_bond(bond, sender=agent)
        # agents[0] attests merchants 0 and 1 (grade A, 35 days)
        merchants = [fresh().address for _ in range(3)]
        accepted = []
        for merchant in merchants[:2]:
            issued_at = chain.blocks.head.timestamp
            message = uw.attestation(
                default_inputs(100_000 * USDC),
                merchant=merchant,
                chain_id=chain.chain_id,
                registry=registry.address,
                issued_at=issued_at,
                nonce=0,
                validity=MAX_VALIDITY,
            )
            signature = uw.signature_bytes(agents[0].sign_message(message))
            registry.submit(message.as_tuple(), signature, sender=relayer)
            accepted.append((message, signature))
        return dict(
            chain=chain,
            registry=registry,
            usdc=usdc,
            owner=owner,
            factory=factory,
            relayer=relayer,
            outsider=attacker,
            payee=payee,
            agents=agents,
            forger=forger,
            reserves=[fresh() for _ in range(4)],
            merchants=merchants,
            accepted=accepted,
        )

    return make


def run(env, machine_settings, machine=UnderwritingMachine):
    machine.env = env
    machine.seen = Counter()
    with machine.expected_reverts():
        run_state_machine_as_test(machine, settings=machine_settings)
    return machine.seen


def test_underwriting_invariants(make_env, fuzz_settings):
    seen = run(make_env(), fuzz_settings(max_examples=12, stateful_step_count=30))
    print(dict(seen))
    if fuzz_settings.reproducible:
        # the derandomized sample reaches every attack, and the honest paths they are told apart from
        assert all(seen[f"attack {kind}"] >= 10 and seen[f"attack {kind} sent"] for kind in ATTACKS), dict(seen)
        assert seen["attest A: accepted"] and seen["ok withdraw_bond"] and seen["ok report_default"], dict(seen)
        # listing exactly up to the bond is drawn rarely; its edge is a unit test (test_underwriting_registry.py)
        assert seen["list 1 wei: recorded"] or seen["list half: recorded"], dict(seen)
        assert seen["list one wei over: registry: agent bond below the minimum"], dict(seen)


# ---------------------------------------------------------------- the machine can fail

BROKEN = {
    "nonce": ('    assert attestation.nonce == self.nonces[attestation.merchant], "registry: wrong nonce"\n', ""),
    "expiry": ('    assert block.timestamp < attestation.expires_at, "registry: attestation expired"\n', ""),
}


class TransactionsOnly(UnderwritingMachine):
    """The machine without its every-state eth_call check of the attacks: only
    transactions (honest ones, one attack per `attack` step) and the model
    comparison are left to catch a broken registry."""

    def every_attack_is_refused(self):  # no longer an @invariant
        pass


CAUGHT = {"nonce": "'registry: wrong nonce'", "expiry": "'registry: attestation expired'"}


@pytest.mark.parametrize(
    "machine, check",
    [
        (UnderwritingMachine, "nonce"),
        (UnderwritingMachine, "expiry"),
        # the transactions and the model comparison alone catch it too (the expiry case takes longer to draw:
        # PST_MACHINE_VARIANTS=all runs it as well)
        (TransactionsOnly, "nonce"),
        *([(TransactionsOnly, "expiry")] if os.environ.get("PST_MACHINE_VARIANTS") == "all" else []),
    ],
    ids=lambda x: getattr(x, "__name__", x),
)
def test_machine_catches_a_registry_without_its_check(make_env, fuzz_settings, machine, check):
    """The machine against a registry compiled without one of its checks: it must fail on that attack."""
    container = compile_source(patched("UnderwritingRegistry", [BROKEN[check]]), f"RegistryWithout_{check}")
    no_shrinking = settings(
        fuzz_settings(max_examples=20, stateful_step_count=30), phases=[Phase.generate], report_multiple_bugs=False
    )
    with pytest.raises(AssertionError) as failure:
        run(make_env(container), no_shrinking, machine)
    print(f"{machine.__name__} without the {check} check: {failure.value}")
    # the registry did not refuse with that check's reason: it took the message, or failed a later check
    caught = CAUGHT[check]
    assert f"expected {caught}" in str(failure.value) or f"expected the revert {caught}" in str(failure.value), str(
        failure.value
    )
