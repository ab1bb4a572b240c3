# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title PST listing token
@custom:contract-name ListingToken
@license GNU Affero General Public License v3.0 only
@notice Fixed-supply ERC-20 (18 decimals) of one merchant listing. The whole
        supply is minted once, at deployment: `reserve_bps` of it to the ALAR
        reserve's inventory, the rest to the merchant's vesting contract. There is no mint or
        burn entry point afterwards. At the listing's default the reserve
        freezes the merchant's and its payout address's tokens for good, so
        the protection fund's pot, sized on the tokens outside insiders,
        cannot be raced by insiders' tokens.
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


event Frozen:
    account: indexed(address)


RESERVE: public(immutable(address))
frozen: public(HashMap[address, bool])


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

    RESERVE = reserve
    # Nobody may mint again: drop the deployer's minter role and the owner.
    erc20.is_minter[msg.sender] = False
    ownable._transfer_ownership(empty(address))


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` tokens to `to` (not from a frozen account).
    @param to The recipient, not the zero address.
    @param amount Token amount.
    @return True.
    """
    assert not self.frozen[msg.sender], "token: account frozen after default"
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` tokens from `owner` (not a frozen account) to
            `to`, spending the caller's allowance.
    @param owner The holder.
    @param to The recipient, not the zero address.
    @param amount Token amount.
    @return True.
    """
    assert not self.frozen[owner], "token: account frozen after default"
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


@external
def freeze(account: address):
    """
    @notice Freezes `account`'s tokens for good. The reserve only, at the
            listing's default (the merchant and its payout address).
    @param account The account.
    """
    assert msg.sender == RESERVE, "token: caller is not the reserve"
    self.frozen[account] = True
    log Frozen(account=account)
