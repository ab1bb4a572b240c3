# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST governance timelock
@custom:contract-name Timelock
@license GNU Affero General Public License v3.0 only
@notice snekmate's `timelock_controller` with an expiry, as Compound's
        Timelock has: an operation that was not executed within `GRACE`
        (14 days) of becoming ready can no longer execute; it must be
        scheduled again. The DAO multisig holds the proposer and canceller
        roles; the executor role may be open (the zero address).
"""

from snekmate.auth import access_control
from snekmate.governance import timelock_controller

initializes: access_control
initializes: timelock_controller[access_control := access_control]

# Everything but `execute`, `execute_batch` and `is_operation_ready`, which
# this contract redefines with the expiry.
exports: (
    timelock_controller.__default__,
    timelock_controller.supportsInterface,
    timelock_controller.is_operation,
    timelock_controller.is_operation_pending,
    timelock_controller.is_operation_done,
    timelock_controller.get_operation_state,
    timelock_controller.hash_operation,
    timelock_controller.hash_operation_batch,
    timelock_controller.schedule,
    timelock_controller.schedule_batch,
    timelock_controller.cancel,
    timelock_controller.update_delay,
    timelock_controller.onERC721Received,
    timelock_controller.onERC1155Received,
    timelock_controller.onERC1155BatchReceived,
    timelock_controller.get_timestamp,
    timelock_controller.get_minimum_delay,
    timelock_controller.PROPOSER_ROLE,
    timelock_controller.EXECUTOR_ROLE,
    timelock_controller.CANCELLER_ROLE,
    timelock_controller.DEFAULT_ADMIN_ROLE,
    timelock_controller.hasRole,
    timelock_controller.getRoleAdmin,
    timelock_controller.grantRole,
    timelock_controller.revokeRole,
    timelock_controller.renounceRole,
    timelock_controller.set_role_admin,
)

GRACE: public(constant(uint256)) = 14 * 86_400
_BOUND: constant(uint8) = max_value(uint8)
_DONE_TIMESTAMP: constant(uint256) = 1


@deploy
@payable
def __init__(
    minimum_delay_: uint256,
    proposers_: DynArray[address, _BOUND],
    executors_: DynArray[address, _BOUND],
    admin_: address,
):
    """
    @notice As snekmate's timelock controller: proposers also cancel; an
            executor of the zero address opens execution to anyone; `admin_`
            (optional) may configure roles until it renounces.
    @param minimum_delay_ Seconds between scheduling and execution.
    @param proposers_ Proposers and cancellers (the DAO Safe).
    @param executors_ Executors (`[empty(address)]` for anyone).
    @param admin_ Optional set-up admin (zero address: none).
    """
    access_control.__init__()
    timelock_controller.__init__(minimum_delay_, proposers_, executors_, admin_)


@external
@view
def is_operation_ready(id: bytes32) -> bool:
    """
    @notice Ready: the delay has passed and the grace period has not.
    @param id The operation id.
    """
    return timelock_controller._is_operation_ready(id) and not self._is_expired(id)


@external
@view
def is_operation_expired(id: bytes32) -> bool:
    """
    @notice Pending, but more than `GRACE` past its ready time: it can no
            longer execute.
    @param id The operation id.
    """
    return self._is_expired(id)


@external
@payable
def execute(target: address, amount: uint256, payload: Bytes[1_024], predecessor: bytes32, salt: bytes32):
    """
    @notice Executes a ready, unexpired operation of one call. Executors
            only (anyone if the role is open).
    @param target The contract to call.
    @param amount Wei to send with the call.
    @param payload ABI-encoded calldata.
    @param predecessor The operation that must be done first (or empty).
    @param salt The operation's salt.
    """
    timelock_controller._only_role_or_open_role(timelock_controller.EXECUTOR_ROLE)
    id: bytes32 = timelock_controller._hash_operation(target, amount, payload, predecessor, salt)
    self._before_call(id, predecessor)
    timelock_controller._execute(target, amount, payload)
    log timelock_controller.CallExecuted(id=id, index=empty(uint256), target=target, amount=amount, payload=payload)
    timelock_controller._after_call(id)


@external
@payable
def execute_batch(
    targets: DynArray[address, _BOUND],
    amounts: DynArray[uint256, _BOUND],
    payloads: DynArray[Bytes[1_024], _BOUND],
    predecessor: bytes32,
    salt: bytes32,
):
    """
    @notice Executes a ready, unexpired batch operation. Executors only
            (anyone if the role is open).
    @param targets The contracts to call.
    @param amounts Wei to send with each call.
    @param payloads ABI-encoded calldata of each call.
    @param predecessor The operation that must be done first (or empty).
    @param salt The operation's salt.
    """
    timelock_controller._only_role_or_open_role(timelock_controller.EXECUTOR_ROLE)
    assert len(targets) == len(amounts) and len(targets) == len(payloads), "timelock_controller: length mismatch"
    id: bytes32 = timelock_controller._hash_operation_batch(targets, amounts, payloads, predecessor, salt)
    self._before_call(id, predecessor)
    idx: uint256 = 0
    for target: address in targets:
        timelock_controller._execute(target, amounts[idx], payloads[idx])
        log timelock_controller.CallExecuted(
            id=id, index=idx, target=target, amount=amounts[idx], payload=payloads[idx]
        )
        idx += 1
    timelock_controller._after_call(id)


@internal
@view
def _before_call(id: bytes32, predecessor: bytes32):
    # snekmate's `_before_call` plus the expiry, reading the timestamp once
    ready_at: uint256 = timelock_controller.get_timestamp[id]
    assert ready_at > _DONE_TIMESTAMP and ready_at <= block.timestamp, "timelock_controller: operation is not ready"
    assert block.timestamp <= ready_at + GRACE, "timelock: operation expired"
    assert (
        predecessor == empty(bytes32) or timelock_controller._is_operation_done(predecessor)
    ), "timelock_controller: missing dependency"


@internal
@view
def _is_expired(id: bytes32) -> bool:
    ready_at: uint256 = timelock_controller.get_timestamp[id]
    return ready_at > _DONE_TIMESTAMP and block.timestamp > ready_at + GRACE
