# pragma version ~=0.4.3
"""
@title A stablecoin that returns false instead of reverting
@custom:contract-name FalseReturnStablecoin
@license GNU Affero General Public License v3.0 only
@notice 6 decimals; a transfer the issuer blocks (blacklist, pause), or
        one without the balance or allowance, returns false and moves
        nothing (the early ERC-20 style some tokens keep). A fee can be
        switched on. For the token-fault tests (T1); never a real
        settlement token.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20
from . import token_faults as faults

initializes: ownable
initializes: erc20[ownable := ownable]
initializes: faults

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.approve,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    faults.__interface__,
)


@deploy
def __init__():
    """
    @notice Creates the token, no fee, nobody blocked.
    """
    ownable.__init__()
    erc20.__init__("False Dollar", "FUSD", 6, "False Dollar", "1")


@external
def faucet(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to` (test token: no access control).
    """
    erc20._mint(to, amount)


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` (less the fee); false when blocked or short.
    """
    return self._move(msg.sender, msg.sender, to, amount, False)


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` (less the fee) from `owner`; false when blocked,
            short of balance or short of allowance.
    """
    return self._move(msg.sender, owner, to, amount, True)


@internal
def _move(spender: address, owner: address, to: address, amount: uint256, spend: bool) -> bool:
    if faults._blocked(spender, owner, to) or to == empty(address):
        return False
    if erc20.balanceOf[owner] < amount:
        return False
    if spend:
        if erc20.allowance[owner][spender] < amount:
            return False
        erc20._spend_allowance(owner, spender, amount)
    fee: uint256 = faults._fee(amount)
    erc20._transfer(owner, to, amount - fee)
    erc20._burn(owner, fee)
    return True
