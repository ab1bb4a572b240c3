import ape
import pytest

WAD = 10**18


def test_supply_is_minted_once_with_the_reserve_share(token, merchant, reserve, listing):
    supply = token.totalSupply()
    assert supply == 1_000_000 * WAD
    assert token.balanceOf(reserve) == 100_000 * WAD
    # the merchant's 900,000 go to its vesting contract; the fixture released 30,000 to the stakers
    assert token.balanceOf(listing.vesting) == 870_000 * WAD
    assert token.balanceOf(merchant) == 0


def test_merchant_gets_no_tokens_at_listing(fresh_listing, merchant):
    # the fixture's stakers got their tokens from the vesting contract, never from the merchant
    assert fresh_listing.token.balanceOf(merchant) == 0
    assert fresh_listing.vesting.released() == 30_000 * WAD
    assert fresh_listing.vesting.ALLOCATION() == 900_000 * WAD


def test_token_has_18_decimals_and_names(token):
    assert token.decimals() == 18
    assert token.symbol() == "ACME"
    assert token.name() == "Acme Shop"


@pytest.mark.parametrize("entry", ["mint", "burn", "set_minter", "transfer_ownership"])
def test_no_supply_or_owner_entry_points(token, entry):
    assert not hasattr(token, entry)


def test_transfer_moves_balance(token, stakers, payer):
    before = token.balanceOf(stakers[0])
    token.transfer(payer, 5 * WAD, sender=stakers[0])
    assert token.balanceOf(payer) == 5 * WAD
    assert token.balanceOf(stakers[0]) == before - 5 * WAD


@pytest.mark.parametrize(
    "args, reason",
    [
        ((0, "merchant", "reserve", 1000), "token: zero supply"),
        ((10**24, None, "reserve", 1000), "token: merchant vesting is the zero address"),
        ((10**24, "merchant", None, 1000), "token: reserve is the zero address"),
        ((10**24, "merchant", "reserve", 10_000), "token: reserve_bps out of bounds"),
        ((2**96, "merchant", "reserve", 1000), "token: supply above 2**96 - 1"),
    ],
)
def test_constructor_rejects_bad_input(deployer, project, admin, merchant, reserve, args, reason):
    supply, m, r, bps = args
    zero = "0x0000000000000000000000000000000000000000"
    addr = {"merchant": merchant.address, "reserve": reserve.address, None: zero}
    with ape.reverts(reason):
        deployer.deploy(project.ListingToken, "X", "X", supply, addr[m], addr[r], bps)
