"""Governance from Python: the DAO Safe (Safe 1.4.1 from npm build artifacts),
the `Timelock` it proposes to, and the hand-over of the protocol to them.

The Safe holds the timelock's proposer and canceller roles; execution is
open to anyone once an operation is ready. A change goes:
Safe owners sign -> the Safe calls ``Timelock.schedule`` -> ``min_delay``
passes -> anyone calls ``Timelock.execute`` (within the 14-day grace)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ape.api import AccountAPI
from ape.contracts import ContractInstance
from eth_utils import to_checksum_address

from ape_pst_plugin.constants import DAY
from ape_pst_plugin.deployment import ZERO, Protocol, deploy_protocol
from ape_pst_plugin.npm import npm_contract
from ape_pst_plugin.uniswap import Uniswap

EMPTY = b"\0" * 32
#: The spec's delay on public networks; `scripts/deploy.py` refuses less than a day there.
PUBLIC_MIN_DELAY = 2 * DAY
MIN_PUBLIC_DELAY = DAY


def check_min_delay(min_delay: int, network) -> None:
    """Refuses a timelock delay under a day anywhere but the local network
    (forks included: they rehearse the real deployment)."""
    if min_delay < 0:
        raise ValueError("min_delay must not be negative")
    if not network.is_local and min_delay < MIN_PUBLIC_DELAY:
        raise ValueError(
            f"min_delay {min_delay} s is under 1 day ({MIN_PUBLIC_DELAY} s): refused on {network.name}; "
            f"the protocol asks for {PUBLIC_MIN_DELAY} s on public networks"
        )


@dataclass
class Governance:
    """The DAO Safe and the timelock it proposes to (owners, threshold and
    delay are read from the contracts: ``getOwners``, ``getThreshold``,
    ``get_minimum_delay``)."""

    safe: ContractInstance
    timelock: ContractInstance


def deploy_safe(deployer: AccountAPI, owners: Sequence[str], threshold: int, salt_nonce: int = 0) -> ContractInstance:
    """A Safe 1.4.1 proxy with ``owners`` and ``threshold``, behind a fresh
    singleton and proxy factory (the npm build artifacts)."""
    if not 1 <= threshold <= len(owners):
        raise ValueError(f"threshold {threshold} must be between 1 and the number of owners ({len(owners)})")
    safe_type = npm_contract("Safe")
    singleton = deployer.deploy(safe_type)
    proxy_factory = deployer.deploy(npm_contract("SafeProxyFactory"))
    setup = singleton.setup.encode_input(
        [to_checksum_address(str(o)) for o in owners], threshold, ZERO, b"", ZERO, ZERO, 0, ZERO
    )
    receipt = proxy_factory.createProxyWithNonce(singleton, setup, salt_nonce, sender=deployer)
    proxy = receipt.events.filter(proxy_factory.ProxyCreation)[0].proxy
    return safe_type.at(proxy)


def safe_tx_hash(safe: ContractInstance, to: str, data: bytes, value: int = 0, nonce: int | None = None) -> bytes:
    """The hash the owners sign for the Safe transaction ``to.call{value}(data)``
    (a plain call, no gas refund) at ``nonce``, by default the Safe's current one."""
    if nonce is None:
        nonce = safe.call_view_method("nonce")  # `.nonce` is the account nonce in ape
    return bytes(safe.getTransactionHash(to, value, data, 0, 0, 0, 0, ZERO, ZERO, nonce))


def owner_signature(signer: AccountAPI, tx_hash: bytes) -> bytes:
    """``signer``'s 65-byte ECDSA signature (r, s, v) of a Safe transaction hash."""
    sig = signer.sign_raw_msghash(tx_hash)
    # r and s as full 32-byte words: a leading zero byte must not be dropped
    r, s = (int.from_bytes(bytes(part), "big").to_bytes(32, "big") for part in (sig.r, sig.s))
    return r + s + bytes([sig.v])


def join_signatures(signatures: Mapping[str, bytes]) -> bytes:
    """Owners' signatures (owner address -> 65 bytes) concatenated in ascending
    owner order, as ``checkNSignatures`` requires."""
    return b"".join(signatures[owner] for owner in sorted(signatures, key=lambda address: int(address, 16)))


def safe_signatures(
    safe: ContractInstance, to: str, data: bytes, signers: Sequence[AccountAPI], value: int = 0
) -> bytes:
    """Owners' ECDSA signatures of the Safe transaction ``to.call{value}(data)``
    at the Safe's current nonce, concatenated in ascending owner order (as
    ``checkNSignatures`` requires)."""
    tx_hash = safe_tx_hash(safe, to, data, value)
    return join_signatures({signer.address: owner_signature(signer, tx_hash) for signer in signers})


def exec_signed(safe: ContractInstance, to: str, data: bytes, signatures: bytes, *, sender: AccountAPI, value: int = 0):
    """Submits the Safe transaction ``to.call{value}(data)`` at the Safe's
    current nonce with the owners' concatenated ``signatures``. With
    ``safeTxGas`` and ``gasPrice`` zero the Safe reverts the whole transaction
    ("GS013") when the inner call fails, so nothing half-happens."""
    return safe.execTransaction(to, value, data, 0, 0, 0, 0, ZERO, ZERO, signatures, sender=sender)


def safe_exec(
    safe: ContractInstance, to: str, data: bytes, signers: Sequence[AccountAPI], *, sender: AccountAPI, value: int = 0
):
    """Has ``signers`` sign and ``sender`` submit a Safe transaction (:func:`exec_signed`)."""
    signatures = safe_signatures(safe, to, data, signers, value)
    return exec_signed(safe, to, data, signatures, sender=sender, value=value)


def deploy_timelock(deployer: AccountAPI, min_delay: int, proposer: str, admin: str = ZERO) -> ContractInstance:
    """The `Timelock` with ``proposer`` (the Safe) as proposer and canceller
    and execution open to anyone."""
    from ape_pst_plugin.deployment import _containers

    return deployer.deploy(_containers().Timelock, min_delay, [proposer], [ZERO], admin)


def deploy_governed_protocol(
    deployer: AccountAPI,
    uniswap: Uniswap,
    settlement,
    *,
    owners: Sequence[str],
    threshold: int,
    min_delay: int,
    guardian: str | None = None,
    agents: Sequence[AccountAPI] = (),
    agent_bond: int = 0,
    fund=None,
) -> tuple[Protocol, Governance]:
    """Deploys the Safe, the timelock and the protocol, allow-lists and bonds
    the first risk ``agents`` (``agent_bond`` each, funded with ``fund(to,
    amount)``, default the test stablecoin's faucet), makes the timelock the
    admin of the factory (and so of every listing it creates), of the
    underwriting registry and of the protection fund, and leaves the deployer with no role at all."""
    from ape_pst_plugin.deployment import onboard_agent

    safe = deploy_safe(deployer, owners, threshold)
    timelock = deploy_timelock(deployer, min_delay, safe.address, admin=deployer.address)
    protocol = deploy_protocol(deployer, uniswap, settlement, guardian=guardian)
    for agent in agents:
        onboard_agent(protocol, deployer, agent, agent_bond, fund=fund)
    protocol.factory.transfer_ownership(timelock, sender=deployer)
    protocol.registry.transfer_ownership(timelock, sender=deployer)
    protocol.fund.transfer_ownership(timelock, sender=deployer)
    # the set-up admin role was only needed while wiring; nobody keeps it
    timelock.renounceRole(timelock.DEFAULT_ADMIN_ROLE(), deployer, sender=deployer)
    return protocol, Governance(safe=safe, timelock=timelock)


def operation_id(governance: Governance, target: str, data: bytes, salt: bytes = EMPTY, value: int = 0) -> bytes:
    return governance.timelock.hash_operation(target, value, data, EMPTY, salt)


def schedule_payload(
    governance: Governance, target: str, data: bytes, *, salt: bytes = EMPTY, delay: int | None = None, value: int = 0
) -> bytes:
    """The Safe's call to the timelock that schedules ``target.call{value}(data)``
    after ``delay`` (default: the timelock's minimum)."""
    timelock = governance.timelock
    delay = timelock.get_minimum_delay() if delay is None else delay
    return bytes(timelock.schedule.encode_input(target, value, data, EMPTY, salt, delay))


def propose(
    governance: Governance,
    target: str,
    data: bytes,
    signers: Sequence[AccountAPI],
    *,
    sender: AccountAPI,
    salt: bytes = EMPTY,
    delay: int | None = None,
    value: int = 0,
) -> bytes:
    """The Safe schedules ``target.call(data)`` on the timelock; returns the
    operation id."""
    payload = schedule_payload(governance, target, data, salt=salt, delay=delay, value=value)
    safe_exec(governance.safe, governance.timelock.address, payload, signers, sender=sender)
    return operation_id(governance, target, data, salt, value)


def propose_batch(
    governance: Governance,
    calls: Sequence[tuple[str, bytes]],
    signers: Sequence[AccountAPI],
    *,
    sender: AccountAPI,
    salt: bytes = EMPTY,
    delay: int | None = None,
) -> bytes:
    """The Safe schedules several calls as one timelock operation."""
    timelock = governance.timelock
    delay = timelock.get_minimum_delay() if delay is None else delay
    targets, payloads = [c[0] for c in calls], [c[1] for c in calls]
    values = [0] * len(calls)
    payload = timelock.schedule_batch.encode_input(targets, values, payloads, EMPTY, salt, delay)
    safe_exec(governance.safe, timelock.address, payload, signers, sender=sender)
    return timelock.hash_operation_batch(targets, values, payloads, EMPTY, salt)


def cancel(governance: Governance, op_id: bytes, signers: Sequence[AccountAPI], *, sender: AccountAPI):
    """The Safe cancels a pending operation."""
    payload = governance.timelock.cancel.encode_input(op_id)
    return safe_exec(governance.safe, governance.timelock.address, payload, signers, sender=sender)


def execute(
    governance: Governance, target: str, data: bytes, *, sender: AccountAPI, salt: bytes = EMPTY, value: int = 0
):
    """Anyone executes a ready operation."""
    return governance.timelock.execute(target, value, data, EMPTY, salt, sender=sender, value=value)


def execute_batch(
    governance: Governance, calls: Sequence[tuple[str, bytes]], *, sender: AccountAPI, salt: bytes = EMPTY
):
    targets, payloads = [c[0] for c in calls], [c[1] for c in calls]
    return governance.timelock.execute_batch(targets, [0] * len(calls), payloads, EMPTY, salt, sender=sender)
