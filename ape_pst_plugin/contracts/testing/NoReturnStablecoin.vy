# pragma version ~=0.4.3
"""
@title USDT-like test stablecoin
@custom:contract-name NoReturnStablecoin
@license GNU Affero General Public License v3.0 only
@notice 6 decimals; `transfer`, `transferFrom` and `approve` return
        nothing (USDT's ABI) and revert when the issuer blocks a transfer
        (blacklist, pause). A fee can be switched on. For the token-fault
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
    erc20.__init__("Tether-like Dollar", "NRUSD", 6, "Tether-like Dollar", "1")


@external
def faucet(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to` (test token: no access control).
    """
    erc20._mint(to, amount)


@external
def approve(spender: address, amount: uint256):
    """
    @notice Sets `spender`'s allowance; returns nothing.
    """
    erc20._approve(msg.sender, spender, amount)


@external
def transfer(to: address, amount: uint256):
    """
    @notice Moves `amount` (less the fee); returns nothing, reverts when blocked.
    """
    self._move(msg.sender, msg.sender, to, amount)


@external
def transferFrom(owner: address, to: address, amount: uint256):
    """
    @notice Moves `amount` (less the fee) from `owner`; returns nothing,
            reverts when blocked.
    """
    self._move(msg.sender, owner, to, amount)
    erc20._spend_allowance(owner, msg.sender, amount)


@internal
def _move(spender: address, owner: address, to: address, amount: uint256):
    assert not faults._blocked(spender, owner, to), "NRUSD: blocked"
    fee: uint256 = faults._fee(amount)
    erc20._transfer(owner, to, amount - fee)
    erc20._burn(owner, fee)
