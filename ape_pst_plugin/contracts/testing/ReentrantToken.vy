# pragma version ~=0.4.3
"""
@title Re-entering test token
@custom:contract-name ReentrantToken
@license GNU Affero General Public License v3.0 only
@notice A 6-decimal ERC-20 whose `transferFrom` and `transfer` call back
        into a chosen contract with chosen calldata before moving funds:
        the malicious settlement token of PROTOCOL.md's bad inputs.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.approve,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
)

target: public(address)
payload: public(Bytes[256])


@deploy
def __init__():
    """
    @notice A token with no re-entry armed yet.
    """
    ownable.__init__()
    erc20.__init__("Evil Dollar", "EVIL", 6, "Evil Dollar", "1")


@external
def faucet(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to`.
    """
    erc20._mint(to, amount)


@external
def arm(target: address, payload: Bytes[256]):
    """
    @notice Every later transfer first calls `target` with `payload`, with
            this token approved for `target` so the inner call can pay.
    """
    self.target = target
    self.payload = payload
    erc20._approve(self, target, max_value(uint256))


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Re-enters, then transfers.
    """
    self._reenter()
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Re-enters, then transfers from `owner`.
    """
    self._reenter()
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


@internal
def _reenter():
    if self.target != empty(address):
        raw_call(self.target, self.payload)
