"""The DAO's workflow: governance calls the DAO Safe's owners sign one at a
time, in separate ``ape pst`` commands, until the Safe schedules them on the
timelock; anyone executes them once the delay has passed.

    propose (the proposing owner signs) -> approve by more owners (at the
    Safe's threshold the Safe calls ``Timelock.schedule``) -> the timelock's
    minimum delay -> execute (anyone, within the timelock's 14-day grace)

A proposal is a Safe transaction, ``timelock.schedule(target, 0, calldata,
0, salt, delay)`` at the Safe's current nonce. Pending Safe transactions live
in a record of the plugin's own, ``.build/pst/safe-queue.json`` beside the
deployment record and keyed by network like it: per transaction its short id
(the first 8 hex digits of the Safe transaction hash), description, the
timelock's target and calldata, salt, delay, Safe nonce, each owner's
signature and the state the CLI last saw. Not ape-safe: its
``MockSafeClient`` on local networks keeps pending transactions in memory,
so a transaction proposed by one command would be gone for the next.

The record says what was proposed and signed; the chain says what became of
it: :func:`status` reads the Safe (nonce, owners, threshold) and the
timelock's view of the operation every time. The Safe signing and the
timelock calls are :mod:`ape_pst_plugin.governance`'s; nothing here parses a
command line or prints (that is ``_dao_cli``)."""

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ape_pst_plugin import governance as gov
from ape_pst_plugin import registry
from ape_pst_plugin.exceptions import (
    AlreadySigned,
    BadCall,
    CorruptFile,
    NoDeployment,
    NotAnOwner,
    NotExecutable,
    NotWritable,
    UnknownProposal,
)
from ape_pst_plugin.governance import Governance
from ape_pst_plugin.registry import Deployment, find_listing, network_key

QUEUE_FILE = "safe-queue.json"
ID_DIGITS = 8
#: The protocol-wide contracts `propose set` names; a listing's are ``reserve:LISTING`` and so on.
PROTOCOL_TARGETS = ("factory", "registry", "fund", "timelock")
LISTING_TARGETS = ("reserve", "router", "oracle")
TARGETS_HELP = (
    "factory, registry, fund, timelock, reserve:LISTING, router:LISTING or oracle:LISTING "
    "(LISTING: id, token address or symbol)"
)

AWAITING = "awaiting_signatures"
SCHEDULED = "scheduled"  # on the timelock, before its ETA
READY = "ready"  # the ETA has passed and the grace has not: anyone may execute
EXPIRED = "expired"  # more than the grace past its ETA: never executes
DONE = "done"
STALE = "stale"  # the Safe's nonce moved past it before it was executed
CANCELLED = "cancelled"  # scheduled, then cancelled on the timelock


def queue_path() -> Path:
    """The queue file, beside the deployment record (``.build/pst/``; looked
    up on the module, so whatever moves the record moves the queue too)."""
    return registry.record_path().parent / QUEUE_FILE


def when(timestamp: int) -> str:
    """A chain timestamp as UTC time, e.g. ``2025-03-01 12:00:00 UTC``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- the record ------------------------------------------------------------------------------


@dataclass
class SafeTx:
    """One proposal as the queue records it. ``target`` and ``calldata`` are
    the call the timelock will make; the Safe transaction is
    ``timelock.schedule(target, 0, calldata, 0, salt, delay)`` at
    ``safe_nonce``; ``signatures`` maps owner address to its 65-byte signature
    of ``safe_tx_hash`` (hex). ``proposed_block`` and its hash tie it to one
    chain history (a restarted local node redeploys to the same addresses).
    ``state`` is the last one the CLI saw,
    ``eta`` the timelock's once the Safe scheduled it (the timelock forgets it
    on execution)."""

    id: str
    description: str
    function: str
    safe: str
    timelock: str
    target: str
    calldata: str
    salt: str
    delay: int
    safe_nonce: int
    safe_tx_hash: str
    operation_id: str
    proposer: str
    proposed_at: int
    proposed_block: int
    proposed_block_hash: str
    signatures: dict[str, str] = field(default_factory=dict)
    state: str = AWAITING
    scheduled_tx: str | None = None
    eta: int | None = None
    executed_tx: str | None = None

    @property
    def data(self) -> bytes:
        return bytes.fromhex(self.calldata.removeprefix("0x"))

    @property
    def salt_bytes(self) -> bytes:
        return bytes.fromhex(self.salt.removeprefix("0x"))


def _records() -> dict:
    return registry.read_network_records(
        queue_path(), lambda entry: isinstance(entry.get("transactions"), list), "Safe transactions"
    )


def _network_entries(records: dict) -> list[dict]:
    return records.get(network_key(), {}).get("transactions", [])


def load_queue(governance: Governance) -> list[SafeTx]:
    """The recorded proposals to ``governance``'s Safe on the connected
    network, oldest first; not those proposed on another chain history (a
    local node restarted since: the same addresses, but a block of another
    hash where the proposal was made)."""
    from ape import chain

    safe = governance.safe.address
    try:
        txs = [SafeTx(**entry) for entry in _network_entries(_records())]
    except TypeError as err:
        raise CorruptFile(queue_path(), f"a transaction record does not fit: {err}", "fix or delete it") from None
    head = chain.blocks.head.number

    def on_this_chain(tx: SafeTx) -> bool:
        block = tx.proposed_block
        return block <= head and "0x" + bytes(chain.blocks[block].hash).hex() == tx.proposed_block_hash

    return [tx for tx in txs if tx.safe == safe and on_this_chain(tx)]


def _save(tx: SafeTx) -> None:
    """Writes ``tx`` into the queue (replacing its earlier record), atomically."""
    from ape import chain

    records = _records()
    network = records.setdefault(network_key(), {"transactions": []})
    network["chain_id"] = chain.chain_id
    entries = network["transactions"]
    index = next((i for i, e in enumerate(entries) if e.get("id") == tx.id), len(entries))
    entries[index : index + 1] = [asdict(tx)]
    path = queue_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(path.name + ".tmp")
        scratch.write_text(json.dumps(records, indent=2) + "\n")
        os.replace(scratch, path)
    except OSError as err:
        raise NotWritable(
            f"cannot write the Safe queue {path} ({err.strerror or err}): make {path.parent} writable"
        ) from None


def _new_id(tx_hash: bytes) -> str:
    """The hash's first 8 hex digits, longer if another recorded transaction has them."""
    taken = {e.get("id") for e in _network_entries(_records())}
    digits = tx_hash.hex()
    size = ID_DIGITS
    while digits[:size] in taken:
        size += 2
    return digits[:size]


def governance_of(deployment: Deployment) -> Governance:
    if deployment.governance is None:
        raise NoDeployment(
            f"the PST deployment on {network_key()} has no timelock and Safe on record: "
            f"deploy with `ape pst deploy` or set them in pst.deployments"
        )
    return deployment.governance


def find(governance: Governance, tx_id: str) -> SafeTx:
    """The recorded proposal with id ``tx_id`` (case and a ``0x`` prefix ignored)."""
    key = tx_id.strip().lower().removeprefix("0x")
    for tx in load_queue(governance):
        if tx.id == key:
            return tx
    raise UnknownProposal(f"no Safe transaction {tx_id!r} in the queue on {network_key()} (`ape pst queue` lists them)")


# --- what the chain says -----------------------------------------------------------------------


@dataclass
class Status:
    """A proposal as the chain sees it now: ``state`` (one of the module's
    state names), valid owner signatures against the Safe's threshold, the
    Safe's current nonce, and the timelock's ETA and expiry once scheduled."""

    state: str
    signed_by: list[str]
    threshold: int
    safe_nonce: int
    eta: int | None = None
    expires_at: int | None = None

    @property
    def signed(self) -> int:
        return len(self.signed_by)

    def describe(self) -> str:
        """The state in words, e.g. ``awaiting signatures 1/2`` or ``scheduled, ready at ...``."""
        if self.state == AWAITING:
            return f"awaiting signatures {self.signed}/{self.threshold}"
        if self.state == SCHEDULED:
            return f"scheduled, ready at {when(self.eta)}"
        if self.state == READY:
            return f"ready until {when(self.expires_at)}"
        if self.state == EXPIRED:
            return f"expired at {when(self.expires_at)}"
        if self.state == STALE:
            return f"stale (the Safe's nonce is {self.safe_nonce})"
        return self.state


def status(governance: Governance, tx: SafeTx) -> Status:
    """What became of ``tx``: done, or scheduled / ready / expired by the
    timelock's timestamp of its operation against the pending block's time;
    never scheduled and the Safe's nonce past it: stale; else awaiting
    signatures (only those of current owners count)."""
    from ape import chain

    safe, timelock = governance.safe, governance.timelock
    owners = set(safe.getOwners())
    nonce = safe.call_view_method("nonce")
    signed_by = sorted((o for o in tx.signatures if o in owners), key=lambda address: int(address, 16))
    found = Status(AWAITING, signed_by, safe.getThreshold(), nonce)
    ready_at = timelock.get_timestamp(tx.operation_id)
    if ready_at == 1:  # snekmate's mark of an executed operation
        found.state = DONE
        if tx.eta is not None:
            found.eta, found.expires_at = tx.eta, tx.eta + timelock.GRACE()
    elif ready_at > 1:
        found.eta, found.expires_at = ready_at, ready_at + timelock.GRACE()
        now = chain.pending_timestamp
        found.state = SCHEDULED if now < found.eta else READY if now <= found.expires_at else EXPIRED
    elif tx.scheduled_tx:
        found.state = CANCELLED
    elif nonce > tx.safe_nonce:
        found.state = STALE
    return found


# --- the calls the DAO can propose -------------------------------------------------------------


@dataclass
class Call:
    """A call for the timelock to make: ``function`` of the contract at
    ``target`` with ``data`` (selector and arguments), ``description`` for
    people, e.g. ``reserve:0.set_band(pe_low_=8e18, ...)``."""

    target: str
    data: bytes
    function: str
    description: str


def resolve_target(deployment: Deployment, key: str):
    """The contract ``key`` names and its label: ``factory``, ``registry``,
    ``fund``, ``timelock`` or ``reserve|router|oracle:LISTING``."""
    governance = governance_of(deployment)
    protocol = deployment.protocol
    kind, _, listing_key = key.strip().partition(":")
    kind = kind.lower()
    if kind in PROTOCOL_TARGETS and not listing_key:
        contract = {
            "factory": protocol.factory,
            "registry": protocol.registry,
            "fund": protocol.fund,
            "timelock": governance.timelock,
        }[kind]
        return contract, kind
    if kind in LISTING_TARGETS and listing_key:
        listing = find_listing(deployment, listing_key)
        return getattr(listing, kind), f"{kind}:{listing.id}"
    raise BadCall(f"unknown target {key!r}: give {TARGETS_HELP}")


def _split(text: str, brackets: str, where: str) -> list[str]:
    """``(a,b,(c,d))`` -> ``['a', 'b', '(c,d)']``: the top-level items inside ``brackets``."""
    text = text.strip()
    if not (text.startswith(brackets[0]) and text.endswith(brackets[1])):
        raise BadCall(f"{where}: write it as {brackets[0]}a,b,...{brackets[1]}, got {text!r}")
    inner = text[1:-1].strip()
    if not inner:
        return []
    items, depth, start = [], 0, 0
    for i, char in enumerate(inner):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(inner[start:i].strip())
            start = i + 1
    items.append(inner[start:].strip())
    return items


def _integer(text: str, kind: str, where: str) -> int:
    unsigned = kind.startswith("uint")
    bits = int(kind.removeprefix("uint" if unsigned else "int") or 256)
    cleaned = text.strip()
    try:
        number = Decimal(int(cleaned, 16)) if cleaned.lower().startswith("0x") else Decimal(cleaned)
    except (InvalidOperation, ValueError):
        raise BadCall(f"{where} ({kind}): {text!r} is not a number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise BadCall(
            f"{where} ({kind}): {text} is not a whole number of base units "
            f"(an 18-decimal value, like a PE of 8.5, is written 8.5e18)"
        )
    value = int(number)
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= value <= high:
        raise BadCall(f"{where} ({kind}): {text} is out of range")
    return value


def convert_arg(text: str, abi_type, where: str):
    """``text`` as a value of ``abi_type`` (an ``ethpm_types`` ABI type).
    Integers are base units, as the contract takes them, also in exponent
    notation (``8.5e18``) or hex; addresses are hex; booleans true/false;
    bytes hex (``bytesN`` exactly N bytes); tuples ``(a,b,...)``; arrays
    ``[a,b,...]``."""
    from eth_utils import is_hex_address, to_checksum_address

    kind = abi_type.type
    if kind.endswith("]"):
        inner, size = kind[: kind.rindex("[")], kind[kind.rindex("[") + 1 : -1]
        items = _split(text, "[]", where)
        if size and len(items) != int(size):
            raise BadCall(f"{where} ({kind}): {size} items, got {len(items)}")
        element = abi_type.model_copy(update={"type": inner})
        return [convert_arg(item, element, f"{where}[{i}]") for i, item in enumerate(items)]
    if kind == "tuple":
        components = abi_type.components or []
        items = _split(text, "()", where)
        if len(items) != len(components):
            names = ", ".join(c.name or c.type for c in components)
            raise BadCall(f"{where}: {len(components)} fields ({names}), got {len(items)}")
        return tuple(convert_arg(item, c, f"{where}.{c.name}") for item, c in zip(items, components, strict=True))
    if kind.startswith(("uint", "int")):
        return _integer(text, kind, where)
    if kind == "address":
        if not is_hex_address(text.strip()):
            raise BadCall(f"{where} (address): {text!r} is not an address (0x and 40 hex digits)")
        return to_checksum_address(text.strip())
    if kind == "bool":
        if text.strip().lower() not in ("true", "false"):
            raise BadCall(f"{where} (bool): {text!r} is not true or false")
        return text.strip().lower() == "true"
    if kind.startswith("bytes"):
        digits = text.strip().removeprefix("0x").removeprefix("0X")
        try:
            value = bytes.fromhex(digits)
        except ValueError:
            raise BadCall(f"{where} ({kind}): {text!r} is not hex bytes (like 0x1f2e)") from None
        if kind != "bytes" and len(value) != int(kind.removeprefix("bytes")):
            raise BadCall(f"{where} ({kind}): {len(value)} bytes, must be {kind.removeprefix('bytes')}")
        return value
    if kind == "string":
        return text
    raise BadCall(f"{where}: arguments of type {kind} are not supported")


def _shown(value) -> str:
    """An argument as ``propose set`` takes it: a large round integer in the
    exponent notation of wads (``14.5e18``, exact), strings quoted."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15 and value % 10**9 == 0:
        return f"{Decimal(value).scaleb(-18).normalize():f}e18"
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        inner = ", ".join(_shown(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, str) and not value.startswith("0x"):
        return repr(value)
    return str(value)


def describe(label: str, abi, values) -> str:
    """``label.function(name=value, ...)``."""
    shown = ", ".join(f"{arg.name or i}={_shown(v)}" for i, (arg, v) in enumerate(zip(abi.inputs, values, strict=True)))
    return f"{label}.{abi.name}({shown})"


def encode(abi, values) -> bytes:
    from ape import networks

    ecosystem = networks.provider.network.ecosystem
    return bytes(ecosystem.get_method_selector(abi)) + bytes(ecosystem.encode_calldata(abi, *values))


def setter_call(deployment: Deployment, target_key: str, function: str, args: tuple[str, ...]) -> Call:
    """A call of ``function`` of the contract ``target_key`` names, its
    ``args`` converted by the function's ABI types: it must change state
    (not a view), take that many arguments, and the contract must belong to
    the timelock (the timelock's own functions: to itself)."""
    governance = governance_of(deployment)
    contract, label = resolve_target(deployment, target_key)
    contract_type = contract.contract_type
    abis = [abi for abi in contract_type.mutable_methods if abi.name == function]
    if not abis:
        if any(abi.name == function for abi in contract_type.view_methods):
            raise BadCall(f"{label}.{function} is a view: it changes nothing, there is nothing to propose")
        names = ", ".join(sorted({abi.name for abi in contract_type.mutable_methods}))
        raise BadCall(f"{label} has no function {function!r}; the ones that change state: {names}")
    matching = [abi for abi in abis if len(abi.inputs) == len(args)]
    if not matching:
        signatures = " or ".join(f"({', '.join(f'{a.name} {a.canonical_type}' for a in abi.inputs)})" for abi in abis)
        raise BadCall(f"{label}.{function} takes {signatures}, got {len(args)} argument(s)")
    abi = matching[0]
    values = [
        convert_arg(text, arg, f"{label}.{function} {arg.name or i}")
        for i, (text, arg) in enumerate(zip(args, abi.inputs, strict=True))
    ]
    if label != "timelock":
        owner = contract.owner()
        if owner != governance.timelock.address:
            raise BadCall(
                f"{label} ({contract.address}) belongs to {owner}, not the timelock: the DAO cannot change it"
            )
    return Call(contract.address, encode(abi, values), function, describe(label, abi, values))


def listable_stake(protocol, merchant: str, supply: int, price: int):
    """(listing terms, stake in settlement base units) of ``merchant`` for a listing of
    ``supply`` tokens at ``price`` (both 18 decimals): :class:`BadCall` unless it has a fresh
    attestation with a listable grade. ``propose create-listing`` and ``approve-stake`` check here."""
    from ape_pst_plugin.deployment import required_stake

    registry = protocol.registry
    if not registry.is_fresh(merchant):
        raise BadCall(
            f"merchant {merchant} has no fresh attestation: a bonded risk agent attests it first "
            f"(`ape pst underwrite DATA --merchant {merchant} --submit --account AGENT`)"
        )
    terms = registry.listing_terms(merchant)
    if terms.grade == 0:
        raise BadCall(f"merchant {merchant} is graded none: not listable")
    return terms, required_stake(supply, price, protocol.settlement.decimals(), terms.stake_bps)


def listing_call(
    deployment: Deployment, *, merchant: str, name: str, symbol: str, supply: int, price: int, payout: str
) -> Call:
    """The factory's ``create_listing`` call, checked against what the
    registry and the merchant have now: a fresh attestation with a listable
    grade that is still fresh when the operation becomes ready, and the
    grade's stake approved to the factory and held (``supply`` and ``price``
    in 18 decimals)."""
    from ape import chain

    governance = governance_of(deployment)
    protocol = deployment.protocol
    factory, registry, settlement = protocol.factory, protocol.registry, protocol.settlement
    for option, text, limit in (("--name", name, 25), ("--symbol", symbol, 5)):
        if not 1 <= len(text.encode()) <= limit:
            raise BadCall(f"{option} {text!r}: 1 to {limit} bytes")
    terms, stake = listable_stake(protocol, merchant, supply, price)
    ready_at = chain.pending_timestamp + governance.timelock.get_minimum_delay()
    expires_at = registry.latest(merchant).expires_at
    if expires_at <= ready_at:
        raise BadCall(
            f"merchant {merchant}'s attestation expires at {when(expires_at)}, before the listing could be "
            f"executed ({when(ready_at)}): have it attested again first"
        )
    approved, held = settlement.allowance(merchant, factory), settlement.balanceOf(merchant)
    needed = f"the stake of {stake} base units of the settlement token {settlement.address}"
    if approved < stake:
        raise BadCall(
            f"merchant {merchant} approved the factory {factory.address} for {approved} of {needed}: "
            f"it approves the stake first"
        )
    if held < stake:
        raise BadCall(f"merchant {merchant} holds {held} of {needed}")
    abi = next(abi for abi in factory.contract_type.mutable_methods if abi.name == "create_listing")
    values = [name, symbol, supply, price, merchant, payout]
    return Call(factory.address, encode(abi, values), "create_listing", describe("factory", abi, values))


def dry_run(governance: Governance, call: Call) -> None:
    """Refuses a call that would revert if the timelock made it now (an
    ``eth_call`` from the timelock's address): a proposal that cannot execute
    would only waste the delay."""
    from ape import networks
    from ape.exceptions import ContractLogicError

    provider = networks.provider
    tx = provider.network.ecosystem.create_transaction(
        receiver=call.target, data=call.data, sender=governance.timelock.address
    )
    try:
        provider.send_call(tx, skip_trace=True)
    except ContractLogicError as err:
        name = call.description.split("(", 1)[0]
        raise BadCall(f"{name} would revert if the timelock made it now: {err.message or 'no reason given'}") from None


# --- the workflow ------------------------------------------------------------------------------


def _require_owner(governance: Governance, account) -> None:
    if not governance.safe.isOwner(account.address):
        raise NotAnOwner(f"{account.address} is not an owner of the DAO Safe {governance.safe.address}")


def _payload(governance: Governance, tx: SafeTx) -> bytes:
    return gov.schedule_payload(governance, tx.target, tx.data, salt=tx.salt_bytes, delay=tx.delay)


def _sign(governance: Governance, tx: SafeTx, owner):
    """Adds ``owner``'s signature of the Safe transaction (its hash recomputed
    from what the record describes: an owner signs what is shown, nothing
    else), records it, and submits the transaction if that reached the
    threshold (:func:`_submit`). Returns the receipt, or ``None`` while
    signatures are missing."""
    tx_hash = gov.safe_tx_hash(
        governance.safe, governance.timelock.address, _payload(governance, tx), nonce=tx.safe_nonce
    )
    if "0x" + tx_hash.hex() != tx.safe_tx_hash:
        raise CorruptFile(
            queue_path(), f"Safe transaction {tx.id} does not hash to its recorded hash", "propose it again"
        )
    tx.signatures[owner.address] = "0x" + gov.owner_signature(owner, tx_hash).hex()
    _save(tx)  # before submitting: a failed submission keeps the signature
    return _submit(governance, tx, owner, status(governance, tx))


def _submit(governance: Governance, tx: SafeTx, sender, now: Status):
    """With the threshold of current owners' signatures at the Safe's current
    nonce, ``sender`` submits ``Safe.execTransaction``: the Safe schedules the
    call on the timelock; the record keeps the transaction and the ETA."""
    if now.signed < now.threshold or now.safe_nonce != tx.safe_nonce:
        return None
    signatures = {o: bytes.fromhex(tx.signatures[o].removeprefix("0x")) for o in now.signed_by}
    receipt = gov.exec_signed(
        governance.safe,
        governance.timelock.address,
        _payload(governance, tx),
        gov.join_signatures(signatures),
        sender=sender,
    )
    tx.scheduled_tx, tx.state = str(receipt.txn_hash), SCHEDULED
    tx.eta = governance.timelock.get_timestamp(tx.operation_id)
    _save(tx)
    return receipt


def propose(deployment: Deployment, call: Call, proposer):
    """Records ``call`` as a Safe transaction scheduling it on the timelock
    (the timelock's minimum delay, a random salt, the Safe's current nonce),
    signed by ``proposer``, an owner. Returns the transaction and the
    receipt if the proposer's signature alone reached the threshold."""
    from ape import chain

    governance = governance_of(deployment)
    _require_owner(governance, proposer)
    dry_run(governance, call)
    safe, timelock = governance.safe, governance.timelock
    salt, delay, nonce = secrets.token_bytes(32), timelock.get_minimum_delay(), safe.call_view_method("nonce")
    head = chain.blocks.head
    payload = gov.schedule_payload(governance, call.target, call.data, salt=salt, delay=delay)
    tx_hash = gov.safe_tx_hash(safe, timelock.address, payload, nonce=nonce)
    tx = SafeTx(
        id=_new_id(tx_hash),
        description=call.description,
        function=call.function,
        safe=safe.address,
        timelock=timelock.address,
        target=call.target,
        calldata="0x" + call.data.hex(),
        salt="0x" + salt.hex(),
        delay=delay,
        safe_nonce=nonce,
        safe_tx_hash="0x" + tx_hash.hex(),
        operation_id="0x" + bytes(gov.operation_id(governance, call.target, call.data, salt)).hex(),
        proposer=proposer.address,
        proposed_at=head.timestamp,
        proposed_block=head.number,
        proposed_block_hash="0x" + bytes(head.hash).hex(),
    )
    return tx, _sign(governance, tx, proposer)


def approve(deployment: Deployment, tx_id: str, owner):
    """Adds ``owner``'s signature to the proposal ``tx_id``; at the Safe's
    threshold the Safe schedules it (:func:`_sign`). Refused for a stranger,
    an owner who signed already, a proposal no longer awaiting signatures,
    and one whose delay is now under the timelock's minimum (the Safe's call
    to ``schedule`` would revert). An owner who signed already and whose
    approval's submission failed (the signatures reach the threshold but the
    Safe has not scheduled it) submits it again."""
    governance = governance_of(deployment)
    tx = find(governance, tx_id)
    _require_owner(governance, owner)
    now = status(governance, tx)
    if now.state == STALE:
        raise NotExecutable(
            f"{tx.id} is stale: the Safe's nonce is {now.safe_nonce}, past its {tx.safe_nonce} "
            f"(another Safe transaction went first); propose it again"
        )
    if now.state != AWAITING:
        raise NotExecutable(f"{tx.id} is {now.describe()}: there is nothing left to sign")
    minimum = governance.timelock.get_minimum_delay()
    if tx.delay < minimum:
        raise NotExecutable(
            f"{tx.id} asks for a {tx.delay} s delay, under the timelock's minimum of {minimum} s now: "
            f"the timelock would refuse to schedule it; propose it again"
        )
    if owner.address in tx.signatures:
        if now.signed >= now.threshold:
            return tx, _submit(governance, tx, owner, now)
        raise AlreadySigned(f"{owner.address} has already signed {tx.id} ({now.signed}/{now.threshold} signatures)")
    return tx, _sign(governance, tx, owner)


def execute(deployment: Deployment, tx_id: str, sender):
    """Has ``sender`` (anyone) execute the scheduled operation of proposal
    ``tx_id`` on the timelock: refused before its ETA, after its expiry, and
    when it is not scheduled or already done."""
    governance = governance_of(deployment)
    tx = find(governance, tx_id)
    now = status(governance, tx)
    if now.state == AWAITING:
        raise NotExecutable(
            f"{tx.id} is not scheduled yet: {now.signed}/{now.threshold} signatures "
            f"(`ape pst approve {tx.id} --account OWNER`)"
        )
    if now.state == SCHEDULED:
        raise NotExecutable(f"{tx.id} is not ready until {when(now.eta)} (timestamp {now.eta})")
    if now.state == EXPIRED:
        raise NotExecutable(
            f"{tx.id} expired at {when(now.expires_at)} (timestamp {now.expires_at}): "
            f"the timelock no longer executes it; propose it again"
        )
    if now.state == DONE:
        raise NotExecutable(f"{tx.id} has already been executed")
    if now.state != READY:
        raise NotExecutable(f"{tx.id} is {now.describe()}: propose it again")
    receipt = gov.execute(governance, tx.target, tx.data, sender=sender, salt=tx.salt_bytes)
    tx.executed_tx, tx.state = str(receipt.txn_hash), DONE
    _save(tx)
    return tx, receipt
