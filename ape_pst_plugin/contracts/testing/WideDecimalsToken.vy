# pragma version ~=0.4.3
"""
@title 24-decimal test token
@custom:contract-name WideDecimalsToken
@license GNU Affero General Public License v3.0 only
@notice Reports 24 decimals: the factory must refuse it as settlement token.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


@deploy
def __init__():
    """
    @notice A token with more decimals than the protocol's 18-decimal maths.
    """
    ownable.__init__()
    erc20.__init__("Wide", "WIDE", 24, "Wide", "1")
