# pragma version ~=0.4.3
"""
@title USDC-like test stablecoin
@custom:contract-name BlacklistStablecoin
@license GNU Affero General Public License v3.0 only
@notice 6 decimals, returns true, and reverts when the issuer blocks a
        transfer: a blacklisted sender, recipient or spender, or a global
        pause. A fee can be switched on after listing. For the token-fault
        tests (T1); never a real settlement token.
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
    erc20.__init__("Blocking Dollar", "BUSD", 6, "Blocking Dollar", "1")


@external
def faucet(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to` (test token: no access control).
    """
    erc20._mint(to, amount)


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` (less the fee) to `to`; reverts when blocked.
    """
    self._move(msg.sender, msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` (less the fee) from `owner`; reverts when blocked.
    """
    self._move(msg.sender, owner, to, amount)
    erc20._spend_allowance(owner, msg.sender, amount)
    return True


@internal
def _move(spender: address, owner: address, to: address, amount: uint256):
    assert not faults._blocked(spender, owner, to), "BUSD: blocked"
    fee: uint256 = faults._fee(amount)
    erc20._transfer(owner, to, amount - fee)
    erc20._burn(owner, fee)
