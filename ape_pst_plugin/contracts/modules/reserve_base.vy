# pragma version ~=0.4.3
"""
@title What one listing's reserve is wired to
@custom:contract-name reserve_base
@license GNU Affero General Public License v3.0 only
@notice The immutables the stabiliser and the credit modules share: the
        listing's contracts, the protocol's protection fund, its merchant,
        its settlement scale, and the pool reads both need.
"""

from ethereum.ercs import IERC20

from ..interfaces import IUniswapV2Pair
from ..interfaces import IRevenueRouter
from ..interfaces import IPEOracle
from ..interfaces import IRevenueVerifier
from ..interfaces import IProtectionFund


struct Wiring:
    token: IERC20
    settlement: IERC20
    pair: IUniswapV2Pair
    oracle: IPEOracle
    router: IRevenueRouter
    staking: address
    vesting: address
    verifier: IRevenueVerifier
    fund: IProtectionFund
    merchant: address


TOKEN: public(immutable(IERC20))
SETTLEMENT: public(immutable(IERC20))
PAIR: public(immutable(IUniswapV2Pair))
ORACLE: public(immutable(IPEOracle))
ROUTER: public(immutable(IRevenueRouter))
STAKING: public(immutable(address))
VESTING: public(immutable(address))
VERIFIER: public(immutable(IRevenueVerifier))
FUND: public(immutable(IProtectionFund))
MERCHANT: public(immutable(address))
# 10 ** (18 - settlement decimals): settlement units to wad
SETTLEMENT_SCALE: public(immutable(uint256))
TOKEN_IS_TOKEN0: public(immutable(bool))


@deploy
def __init__(wiring: Wiring, settlement_decimals: uint8):
    """
    @notice Checks and stores the wiring.
    @param wiring The listing's contracts and merchant, none the zero address.
    @param settlement_decimals Decimals of the settlement token (<= 18).
    """
    assert wiring.token.address != empty(address), "reserve: token is the zero address"
    assert wiring.settlement.address != empty(address), "reserve: settlement is the zero address"
    assert wiring.pair.address != empty(address), "reserve: pair is the zero address"
    assert wiring.oracle.address != empty(address), "reserve: oracle is the zero address"
    assert wiring.router.address != empty(address), "reserve: router is the zero address"
    assert wiring.staking != empty(address), "reserve: staking is the zero address"
    assert wiring.vesting != empty(address), "reserve: vesting is the zero address"
    assert wiring.verifier.address != empty(address), "reserve: verifier is the zero address"
    assert wiring.fund.address != empty(address), "reserve: fund is the zero address"
    assert wiring.merchant != empty(address), "reserve: merchant is the zero address"
    assert settlement_decimals <= 18, "reserve: settlement token has more than 18 decimals"
    TOKEN = wiring.token
    SETTLEMENT = wiring.settlement
    PAIR = wiring.pair
    ORACLE = wiring.oracle
    ROUTER = wiring.router
    STAKING = wiring.staking
    VESTING = wiring.vesting
    VERIFIER = wiring.verifier
    FUND = wiring.fund
    MERCHANT = wiring.merchant
    SETTLEMENT_SCALE = 10**(18 - convert(settlement_decimals, uint256))
    TOKEN_IS_TOKEN0 = staticcall wiring.pair.token0() == wiring.token.address


@internal
@view
def _reserves() -> (uint256, uint256):
    """
    @notice The pool's (token, settlement) reserves; reverts on an empty pool.
    """
    r0: uint112 = 0
    r1: uint112 = 0
    t: uint32 = 0
    r0, r1, t = staticcall PAIR.getReserves()
    assert r0 != 0 and r1 != 0, "reserve: pool has no liquidity"
    if TOKEN_IS_TOKEN0:
        return convert(r0, uint256), convert(r1, uint256)
    return convert(r1, uint256), convert(r0, uint256)


@internal
def _send(token: IERC20, to: address, amount: uint256):
    """
    @notice Transfers `amount` of `token` to `to`, reverting with a reason
            if the token refuses.
    """
    assert extcall token.transfer(to, amount, default_return_value=True), "reserve: transfer failed"
