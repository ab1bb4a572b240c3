import ape
import pytest

from ape_pst_plugin.deployment import create_listing, required_stake

USDC = 10**6
WAD = 10**18
ZERO = "0x0000000000000000000000000000000000000000"


def test_listing_is_registered(factory, listing):
    assert factory.listing_count() > listing.id
    entry = factory.listings(listing.id)
    assert entry.token == listing.token.address
    assert entry.router == listing.router.address
    assert entry.staking == listing.staking.address
    assert factory.listing_id_of_token(listing.token) == listing.id + 1


def test_router_and_staking_point_at_each_other(listing):
    assert listing.router.STAKING() == listing.staking.address
    assert listing.staking.ROUTER() == listing.router.address
    assert listing.staking.LISTING_TOKEN() == listing.token.address


def test_merchant_stake_is_five_percent_of_market_cap_in_reserve(listing, usdc, reserve):
    # 1,000,000 tokens at 2 USDC: market cap 2,000,000 USDC, stake 100,000 USDC
    assert reserve.stake() == 100_000 * USDC
    assert usdc.balanceOf(reserve) == 100_000 * USDC
    assert reserve.free_balance() == 0


def test_every_contract_knows_its_siblings(listing, uniswap, usdc):
    assert listing.oracle.PAIR() == listing.pair.address == uniswap.factory.getPair(listing.token, usdc)
    assert listing.oracle.RESERVE() == listing.reserve.address
    assert listing.reserve.ORACLE() == listing.oracle.address
    assert listing.reserve.STAKING() == listing.staking.address
    assert listing.staking.RESERVE() == listing.reserve.address
    assert listing.reserve.ROUTER() == listing.router.address


def test_router_admin_is_factory_admin(listing, admin, guardian):
    assert listing.router.owner() == admin.address
    assert listing.router.guardian() == guardian.address


def test_required_stake_view_matches_python(factory):
    assert factory.required_stake(10**24, 2 * WAD, 6) == required_stake(10**24, 2 * WAD, 6)
    assert factory.required_stake(10**24, 2 * WAD, 18) == 100_000 * WAD


def test_second_listing_gets_its_own_contracts(protocol, factory, admin, merchant, usdc, listing):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    count = factory.listing_count()
    other = create_listing(protocol, admin, merchant=merchant, settlement=usdc, symbol="TWO")
    assert other.id == count
    assert factory.listing_count() == count + 1
    assert other.router.address != listing.router.address
    assert other.staking.ROUTER() == other.router.address


def _args(who, coin, **over):
    args = dict(
        name="Shop", symbol="SHOP", supply=10**24, initial_price=2 * WAD,
        merchant=who.address, payout=who.address, settlement=coin.address, revenue_target=0,
    )
    args.update(over)
    return list(args.values())


def test_only_admin_creates_listings(factory, attacker, merchant, usdc):
    count = factory.listing_count()
    with ape.reverts("ownable: caller is not the owner"):
        factory.create_listing(*_args(merchant, usdc), sender=attacker)
    assert factory.listing_count() == count


@pytest.mark.parametrize(
    "field, reason",
    [
        ("merchant", "factory: merchant is the zero address"),
        ("payout", "factory: payout is the zero address"),
        ("settlement", "factory: settlement is the zero address"),
    ],
)
def test_zero_addresses_rejected(factory, admin, merchant, usdc, field, reason):
    count = factory.listing_count()
    with ape.reverts(reason):
        factory.create_listing(*_args(merchant, usdc, **{field: ZERO}), sender=admin)
    assert factory.listing_count() == count


@pytest.mark.parametrize(
    "field, reason", [("supply", "factory: zero supply"), ("initial_price", "factory: zero price")]
)
def test_zero_amounts_rejected(factory, admin, merchant, usdc, field, reason):
    with ape.reverts(reason):
        factory.create_listing(*_args(merchant, usdc, **{field: 0}), sender=admin)


def test_supply_above_96_bits_rejected(factory, admin, merchant, usdc):
    with ape.reverts("factory: supply above 2**96 - 1"):
        factory.create_listing(*_args(merchant, usdc, supply=2**96), sender=admin)


def test_settlement_with_more_than_18_decimals_rejected(deployer, project, factory, admin, merchant):
    count = factory.listing_count()
    wide = deployer.deploy(project.WideDecimalsToken)
    with ape.reverts("factory: settlement token has more than 18 decimals"):
        factory.create_listing(*_args(merchant, wide), sender=admin)
    assert factory.listing_count() == count


def test_fee_on_transfer_settlement_rejected(deployer, project, factory, admin, merchant):
    count = factory.listing_count()
    fee_token = deployer.deploy(project.FeeOnTransferToken)
    fee_token.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    fee_token.approve(factory, 2**256 - 1, sender=merchant)
    with ape.reverts("factory: settlement token is fee-on-transfer or rebasing"):
        factory.create_listing(*_args(merchant, fee_token), sender=admin)
    assert fee_token.balanceOf(merchant) == 1_000_000 * USDC
    assert factory.listing_count() == count


def test_missing_stake_approval_rejected(factory, admin, merchant, usdc):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(factory, 0, sender=merchant)
    before = usdc.balanceOf(merchant)
    with ape.reverts("erc20: insufficient allowance"):
        factory.create_listing(*_args(merchant, usdc), sender=admin)
    assert usdc.balanceOf(merchant) == before


def test_stake_that_rounds_to_zero_rejected(factory, admin, merchant, usdc):
    with ape.reverts("factory: stake rounds to zero"):
        factory.create_listing(*_args(merchant, usdc, supply=10**18, initial_price=1), sender=admin)
