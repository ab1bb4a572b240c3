import ape
import pytest

from ape_pst_plugin.deployment import create_listing, required_stake

USDC = 10**6
WAD = 10**18
ZERO = "0x0000000000000000000000000000000000000000"
DAY = 86_400


def test_listing_is_registered(factory, listing):
    assert factory.listing_count() > listing.id
    entry = factory.listings(listing.id)
    assert entry.token == listing.token.address
    assert entry.router == listing.router.address
    assert entry.staking == listing.staking.address
    assert entry.vesting == listing.vesting.address
    assert factory.listing_id_of_token(listing.token) == listing.id + 1


def test_listing_created_event_names_the_vesting_contract(protocol, admin, merchant, usdc):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(protocol.factory, 100_000 * USDC, sender=merchant)
    receipt = protocol.factory.create_listing(*_args(merchant, usdc), sender=admin)
    [event] = receipt.events.filter(protocol.factory.ListingCreated)
    entry = protocol.factory.listings(event.id)
    assert event.vesting == entry.vesting
    assert event.stake == 100_000 * USDC
    assert entry.created_at == receipt.timestamp


def test_vesting_holds_the_merchant_allocation(listing, merchant):
    vesting = listing.vesting
    assert vesting.TOKEN() == listing.token.address
    assert vesting.MERCHANT() == merchant.address
    assert vesting.RESERVE() == listing.reserve.address
    assert vesting.ALLOCATION() == 900_000 * WAD
    assert vesting.START() == listing.router.START()


def test_every_contract_knows_the_vesting_contract(listing):
    vesting = listing.vesting.address
    assert listing.router.VESTING() == vesting
    assert listing.staking.MERCHANT_VESTING() == vesting
    assert listing.oracle.VESTING() == vesting
    assert listing.reserve.VESTING() == vesting


def test_factory_is_the_revenue_verifier(listing, factory):
    assert listing.router.VERIFIER() == factory.address
    assert listing.reserve.VERIFIER() == factory.address


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
        month_revenue=100_000 * USDC,
    )
    args.update(over)
    return list(args.values())


def test_only_admin_creates_listings(factory, attacker, merchant, usdc):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(factory, 2**256 - 1, sender=merchant)
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts("ownable: caller is not the owner"):
        factory.create_listing(*_args(merchant, usdc), sender=attacker)
    assert (factory.listing_count(), usdc.balanceOf(merchant)) == (count, balance)


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
    "field, reason",
    [("supply", "factory: zero supply"), ("initial_price", "factory: zero price"),
     ("month_revenue", "factory: zero month revenue")],
)
def test_zero_amounts_rejected(factory, admin, merchant, usdc, field, reason):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(factory, 2**256 - 1, sender=merchant)
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    records = factory.verification_count(merchant)
    with ape.reverts(reason):
        factory.create_listing(*_args(merchant, usdc, **{field: 0}), sender=admin)
    assert factory.listing_count() == count
    assert usdc.balanceOf(merchant) == balance
    assert factory.verification_count(merchant) == records


def test_month_revenue_too_large_for_a_record_rejected(factory, admin, merchant, usdc):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(factory, 2**256 - 1, sender=merchant)
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts("factory: month revenue out of range"):
        factory.create_listing(*_args(merchant, usdc, month_revenue=2**192), sender=admin)
    assert factory.listing_count() == count
    assert usdc.balanceOf(merchant) == balance


def test_supply_above_96_bits_rejected(factory, admin, merchant, usdc):
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts("factory: supply above 2**96 - 1"):
        factory.create_listing(*_args(merchant, usdc, supply=2**96), sender=admin)
    assert (factory.listing_count(), usdc.balanceOf(merchant)) == (count, balance)


def test_settlement_with_more_than_18_decimals_rejected(deployer, project, factory, admin, new_merchant):
    merchant = new_merchant  # no listing yet: any settlement token may be its first
    count = factory.listing_count()
    wide = deployer.deploy(project.WideDecimalsToken)
    with ape.reverts("factory: settlement token has more than 18 decimals"):
        factory.create_listing(*_args(merchant, wide), sender=admin)
    assert factory.listing_count() == count


def test_fee_on_transfer_settlement_rejected(deployer, project, factory, admin, new_merchant):
    merchant = new_merchant  # no listing yet: any settlement token may be its first
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
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts("factory: stake rounds to zero"):
        factory.create_listing(*_args(merchant, usdc, supply=10**18, initial_price=1), sender=admin)
    assert (factory.listing_count(), usdc.balanceOf(merchant)) == (count, balance)


# ---------------------------------------------------------------- the revenue verifier


def test_listing_records_the_verified_month_revenue(protocol, factory, admin, merchant, usdc):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(factory, 100_000 * USDC, sender=merchant)
    count = factory.verification_count(merchant)
    receipt = factory.create_listing(*_args(merchant, usdc, month_revenue=80_000 * USDC), sender=admin)
    [event] = receipt.events.filter(factory.MonthRevenueVerified)
    assert (event.merchant, event.month_revenue, event.cap, event.issued_at) == (
        merchant.address, 80_000 * USDC, 84_000 * USDC, receipt.timestamp)
    assert factory.verification_count(merchant) == count + 1
    assert factory.month_revenue(merchant) == 80_000 * USDC
    assert factory.verified_at(merchant) == receipt.timestamp
    assert factory.verified_cap(merchant, receipt.timestamp) == 84_000 * USDC
    assert factory.is_fresh(merchant)


def test_verified_cap_is_month_revenue_plus_tolerance(factory, admin, attacker):
    receipt = factory.set_month_revenue(attacker, 100_000 * USDC, sender=admin)
    assert factory.tolerance_bps() == 500
    assert factory.verified_cap(attacker, receipt.timestamp) == 105_000 * USDC


def test_verified_cap_is_fresh_for_35_days_from_issue(factory, admin, attacker):
    t = factory.set_month_revenue(attacker, 100_000 * USDC, sender=admin).timestamp
    assert factory.MAX_VALIDITY() == 35 * DAY
    assert factory.verified_cap(attacker, t - 1) == 0  # nothing issued yet then
    assert factory.verified_cap(attacker, t + 35 * DAY - 1) == 105_000 * USDC
    assert factory.verified_cap(attacker, t + 35 * DAY) == 0


def test_verified_cap_uses_the_newest_record_issued_by_then(factory, admin, attacker, chain):
    first = factory.set_month_revenue(attacker, 100_000 * USDC, sender=admin).timestamp
    chain.pending_timestamp = first + 3_600  # an hour later (the clock stays recent for later modules)
    second = factory.set_month_revenue(attacker, 40_000 * USDC, sender=admin).timestamp
    assert factory.verified_cap(attacker, second - 1) == 105_000 * USDC
    assert factory.verified_cap(attacker, second) == 42_000 * USDC
    # the newer record is fresh 35 days from its own issue
    assert factory.verified_cap(attacker, first + 35 * DAY) == 42_000 * USDC
    assert factory.verified_cap(attacker, second + 35 * DAY) == 0
    assert factory.verification_count(attacker) == 2
    assert factory.verified_at(attacker) == second


def test_unknown_merchant_has_no_verified_revenue(factory, accounts):
    stranger = accounts.generate_test_account()
    assert factory.verification_count(stranger) == 0
    assert factory.verified_cap(stranger, 2**64) == 0
    assert factory.verified_at(stranger) == 0
    assert not factory.is_fresh(stranger)


def test_zero_month_revenue_record_caps_at_zero(factory, admin, attacker):
    receipt = factory.set_month_revenue(attacker, 0, sender=admin)
    assert factory.verified_cap(attacker, receipt.timestamp) == 0
    assert factory.is_fresh(attacker)  # fresh, and it says: no verified revenue


def test_only_admin_sets_month_revenue(factory, attacker, merchant):
    count = factory.verification_count(merchant)
    for caller in (attacker, merchant):
        with ape.reverts("ownable: caller is not the owner"):
            factory.set_month_revenue(merchant, 10**12, sender=caller)
    assert factory.verification_count(merchant) == count


def test_month_revenue_for_the_zero_address_rejected(factory, admin):
    with ape.reverts("factory: merchant is the zero address"):
        factory.set_month_revenue(ZERO, 1, sender=admin)
    assert factory.verification_count(ZERO) == 0


def test_tolerance_applies_to_records_issued_after_it(factory, admin, attacker):
    old = factory.set_month_revenue(attacker, 100_000 * USDC, sender=admin).timestamp
    receipt = factory.set_tolerance_bps(2_000, sender=admin)
    [event] = receipt.events.filter(factory.ToleranceChanged)
    assert event.tolerance_bps == 2_000 == factory.tolerance_bps()
    assert factory.verified_cap(attacker, old) == 105_000 * USDC
    new = factory.set_month_revenue(attacker, 100_000 * USDC, sender=admin).timestamp
    assert factory.verified_cap(attacker, new) == 120_000 * USDC


def test_zero_tolerance_caps_at_month_revenue(factory, admin, attacker):
    factory.set_tolerance_bps(0, sender=admin)
    t = factory.set_month_revenue(attacker, 100_000 * USDC, sender=admin).timestamp
    assert factory.verified_cap(attacker, t) == 100_000 * USDC


def test_tolerance_out_of_bounds_rejected(factory, admin):
    with ape.reverts("factory: tolerance_bps out of bounds"):
        factory.set_tolerance_bps(2_001, sender=admin)
    assert factory.tolerance_bps() == 500


def test_only_admin_sets_tolerance(factory, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        factory.set_tolerance_bps(0, sender=attacker)
    assert factory.tolerance_bps() == 500


def test_verified_revenue_is_in_the_first_listings_settlement_token(factory, listing, merchant, usdc):
    assert factory.revenue_token(merchant) == usdc.address


def test_listing_in_another_settlement_token_rejected(deployer, project, factory, admin, merchant, listing):
    """The merchant's revenue is verified in USDC: a DAI listing would rescale its
    USDC listing's cap (10**12-fold: 18 decimals against 6)."""
    dai = deployer.deploy(project.TestStablecoin, "Test DAI", "DAI", 18)
    dai.faucet(merchant, 10**6 * WAD, sender=merchant)
    dai.approve(factory, 2**256 - 1, sender=merchant)
    count, records = factory.listing_count(), factory.verification_count(merchant)
    with ape.reverts("factory: merchant's verified revenue is in another settlement token"):
        factory.create_listing(*_args(merchant, dai, month_revenue=100_000 * WAD), sender=admin)
    assert (factory.listing_count(), factory.verification_count(merchant)) == (count, records)
    assert dai.balanceOf(merchant) == 10**6 * WAD
    assert factory.month_revenue(merchant) == 100_000 * USDC


def test_second_listing_in_the_same_token_is_accepted(protocol, factory, admin, merchant, usdc, listing):
    from ape_pst_plugin.deployment import create_listing

    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    other = create_listing(protocol, admin, merchant=merchant, settlement=usdc, symbol="TWO", month_revenue=50_000 * USDC)
    assert factory.revenue_token(merchant) == usdc.address
    assert factory.month_revenue(merchant) == 50_000 * USDC
    assert other.router.VERIFIER() == factory.address
