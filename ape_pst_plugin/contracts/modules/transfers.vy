# pragma version ~=0.4.3
"""
@title Transfers that report failure instead of reverting
@custom:contract-name transfers
@license GNU Affero General Public License v3.0 only
@notice A settlement token may refuse a transfer by reverting (a blacklist,
        a pause), by returning false, or succeed returning nothing (USDT).
        Where one party's refusal must not block the others (docs/PROTOCOL.md
        "Token faults"), the contracts move tokens through these and keep
        what could not be sent as owed.
"""

from ethereum.ercs import IERC20


@internal
def _try_transfer(token: IERC20, to: address, amount: uint256) -> bool:
    """
    @notice `token.transfer(to, amount)` without reverting.
    @return Whether the token moved it (a revert or a false return is a
            failure; no return value is success).
    """
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        token.address,
        abi_encode(to, amount, method_id=method_id("transfer(address,uint256)")),
        max_outsize=32,
        revert_on_failure=False,
    )
    return ok and (len(response) == 0 or convert(response, bool))


@internal
def _try_transfer_from(token: IERC20, owner: address, to: address, amount: uint256) -> bool:
    """
    @notice `token.transferFrom(owner, to, amount)` without reverting.
    @return Whether the token moved it.
    """
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        token.address,
        abi_encode(owner, to, amount, method_id=method_id("transferFrom(address,address,uint256)")),
        max_outsize=32,
        revert_on_failure=False,
    )
    return ok and (len(response) == 0 or convert(response, bool))
