# pragma version ~=0.4.3
"""
@title Same-block spot manipulation (test attacker)
@custom:contract-name SpotManipulator
@license GNU Affero General Public License v3.0 only
@notice In one transaction: swaps on the pair to move the spot price, calls
        the reserve's `stabilise()`, swaps back. Used to show that a spot
        move inside a block cannot make the reserve trade.
"""

from ethereum.ercs import IERC20


interface IPair:
    def getReserves() -> (uint112, uint112, uint32): view
    def token0() -> address: view
    def token1() -> address: view
    def swap(amount0Out: uint256, amount1Out: uint256, to: address, data: Bytes[1024]): nonpayable


event Attack:
    stabilise_succeeded: bool
    traded: uint256


PAIR: immutable(IPair)
RESERVE: immutable(address)


@deploy
def __init__(pair: IPair, reserve: address):
    """
    @notice Targets one listing's pair and reserve.
    """
    PAIR = pair
    RESERVE = reserve


@external
def attack(token_in: IERC20, amount: uint256) -> (bool, uint256):
    """
    @notice Swaps `amount` of `token_in` (held by this contract) into the
            pair, calls `stabilise()`, then swaps everything received back.
    @return Whether `stabilise()` succeeded, and what it returned.
    """
    token_out: IERC20 = IERC20(self._other(token_in.address))
    received: uint256 = self._swap(token_in, amount)
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(RESERVE, method_id("stabilise()"), max_outsize=32, revert_on_failure=False)
    traded: uint256 = 0
    if ok:
        traded = convert(response, uint256)
    self._swap(token_out, received)
    log Attack(stabilise_succeeded=ok, traded=traded)
    return ok, traded


@internal
@view
def _other(token: address) -> address:
    # the pair's other token
    token0: address = staticcall PAIR.token0()
    if token == token0:
        return staticcall PAIR.token1()
    return token0


@internal
def _swap(token_in: IERC20, amount: uint256) -> uint256:
    r0: uint112 = 0
    r1: uint112 = 0
    t: uint32 = 0
    r0, r1, t = staticcall PAIR.getReserves()
    zero_in: bool = token_in.address == staticcall PAIR.token0()
    r_in: uint256 = convert(r0, uint256) if zero_in else convert(r1, uint256)
    r_out: uint256 = convert(r1, uint256) if zero_in else convert(r0, uint256)
    out: uint256 = amount * 997 * r_out // (r_in * 1000 + amount * 997)
    assert extcall token_in.transfer(PAIR.address, amount, default_return_value=True)
    if zero_in:
        extcall PAIR.swap(0, out, self, b"")
    else:
        extcall PAIR.swap(out, 0, self, b"")
    return out
