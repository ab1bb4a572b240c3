# pragma version ~=0.4.3
"""
@title Fee-on-transfer test token
@custom:contract-name FeeOnTransferToken
@license GNU Affero General Public License v3.0 only
@notice Burns `fee_bps` (1% at deployment) of every transfer: the kind of
        settlement token the registry (bonds) and the factory (stakes) must
        refuse. The fee can be switched, as some stablecoins can.
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

fee_bps: public(uint256)


@deploy
def __init__():
    """
    @notice A 6-decimal token that takes a 1% fee until switched.
    """
    ownable.__init__()
    erc20.__init__("Fee Dollar", "FEE", 6, "Fee Dollar", "1")
    self.fee_bps = 100


@external
def set_fee_bps(fee_bps_: uint256):
    """
    @notice Switches the fee (anyone: a test token).
    @param fee_bps_ Basis points of every transfer burnt, at most 10,000.
    """
    assert fee_bps_ <= 10_000, "fee: above 100%"
    self.fee_bps = fee_bps_


@external
def faucet(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to`.
    """
    erc20._mint(to, amount)


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Transfers `amount` less the fee, which is burnt.
    """
    self._transfer_with_fee(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Transfers `amount` from `owner` less the fee, which is burnt.
    """
    erc20._spend_allowance(owner, msg.sender, amount)
    self._transfer_with_fee(owner, to, amount)
    return True


@internal
def _transfer_with_fee(owner: address, to: address, amount: uint256):
    fee: uint256 = amount * self.fee_bps // 10_000
    erc20._transfer(owner, to, amount - fee)
    erc20._burn(owner, fee)
