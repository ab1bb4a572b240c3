# pragma version ~=0.4.3
"""
@title Test stablecoin
@custom:contract-name TestStablecoin
@license GNU Affero General Public License v3.0 only
@notice A plain ERC-20 with free minting and a chosen number of decimals,
        standing in for USDC (6 decimals) in tests and demos. Never deploy it
        as a real settlement token.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    """
    @notice Creates the token; anyone may mint through `faucet`.
    """
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


@external
def faucet(to: address, amount: uint256):
    """
    @notice Mints `amount` to `to` (test token: no access control).
    """
    erc20._mint(to, amount)
