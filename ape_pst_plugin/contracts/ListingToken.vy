# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST listing token
@custom:contract-name ListingToken
@license GNU Affero General Public License v3.0 only
@notice Fixed-supply ERC-20 (18 decimals) of one merchant listing. The whole
        supply is minted once, at deployment: `reserve_bps` of it to the ALAR
        reserve's inventory, the rest to the merchant's vesting contract. There is no mint or
        burn entry point afterwards.
"""

from ethereum.ercs import IERC20

implements: IERC20

from ethereum.ercs import IERC20Detailed

implements: IERC20Detailed

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

# Only the ERC-20 surface (plus EIP-2612 permit): no `mint`, `burn`,
# `set_minter` or ownership functions, so the supply can never change.
exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)

from modules import constants as c


@deploy
def __init__(
    name_: String[25],
    symbol_: String[5],
    supply: uint256,
    merchant_vesting: address,
    reserve: address,
    reserve_bps: uint256,
):
    """
    @notice Mints `supply` once: `supply * reserve_bps // 10_000` to
            `reserve`, the rest to `merchant_vesting`.
    @param name_ Token name (at most 25 characters).
    @param symbol_ Token symbol (at most 5 characters).
    @param supply The fixed total supply, 18 decimals, at most 2**96 - 1.
    @param merchant_vesting Receives the merchant's part of the supply (`MerchantVesting`).
    @param reserve The ALAR reserve, receives the inventory part.
    @param reserve_bps The reserve's part in basis points (< 10_000).
    """
    assert supply != 0, "token: zero supply"
    assert supply <= c.MAX_SUPPLY, "token: supply above 2**96 - 1"
    assert merchant_vesting != empty(address), "token: merchant vesting is the zero address"
    assert reserve != empty(address), "token: reserve is the zero address"
    assert reserve_bps < c.BPS, "token: reserve_bps out of bounds"

    ownable.__init__()
    erc20.__init__(name_, symbol_, 18, name_, "1")

    inventory: uint256 = supply * reserve_bps // c.BPS
    erc20._mint(reserve, inventory)
    erc20._mint(merchant_vesting, supply - inventory)

    # Nobody may mint again: drop the deployer's minter role and the owner.
    erc20.is_minter[msg.sender] = False
    ownable._transfer_ownership(empty(address))
