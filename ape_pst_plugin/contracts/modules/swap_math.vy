# pragma version ~=0.4.3
"""
@title Constant-product swap maths (Uniswap V2, 0.3% fee)
@custom:contract-name swap_math
@license GNU Affero General Public License v3.0 only
@notice Pure functions the stabiliser sizes its trades with; `pe.py` has
        the same maths in Python, equal to the wei.
"""

from snekmate.utils import math


@internal
@pure
def _amount_out(amount_in: uint256, r_in: uint256, r_out: uint256) -> uint256:
    """
    @notice UniswapV2Library.getAmountOut.
    @param amount_in What goes into the pool.
    @param r_in The pool's reserve of the input token.
    @param r_out The pool's reserve of the output token.
    @return What comes out.
    """
    with_fee: uint256 = amount_in * 997
    return with_fee * r_out // (r_in * 1000 + with_fee)


@internal
@pure
def _amount_to_target(r_in: uint256, r_out: uint256, num: uint256, den: uint256) -> uint256:
    """
    @notice The input x after which the pool's ratio r_in'/r_out' equals
            num/den, fee included: (r_in + x)(1000 r_in + 997 x) =
            1000 r_in r_out num/den, solved for y = r_in + x:
            997 y^2 + 3 r_in y - rhs = 0. Rounded down, so the price stops
            at the target or just short of it, never beyond; 0 when the pool
            is at or past it.
    @param r_in The pool's reserve of the input token.
    @param r_out The pool's reserve of the output token.
    @param num Numerator of the target ratio r_in'/r_out'.
    @param den Denominator of the target ratio.
    @return The input amount.
    """
    rhs: uint256 = math._mul_div(r_in * r_out, 1000 * num, den, False)
    y: uint256 = (isqrt(9 * r_in * r_in + 3988 * rhs) - 3 * r_in) // 1994
    if y <= r_in:
        return 0
    return y - r_in


@internal
@pure
def _reserves_at_price(r_token: uint256, r_settlement: uint256, price: uint256, scale: uint256) -> (uint256, uint256):
    """
    @notice The pool's reserves if it sat at `price` with today's depth
            (the same k): the TWAP-implied pool.
    @param r_token The pool's token reserve.
    @param r_settlement The pool's settlement reserve.
    @param price Settlement per token, wad.
    @param scale `10**18 * 10**(18 - settlement decimals)`: settlement units to wad, times wad.
    @return (token reserve, settlement reserve).
    """
    k: uint256 = r_settlement * r_token
    return isqrt(math._mul_div(k, scale, price, False)), isqrt(math._mul_div(k, price, scale, False))
