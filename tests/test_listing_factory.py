import dataclasses

import ape
import pytest

from ape_pst_plugin import pe as pem
from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.deployment import attest, create_listing, default_inputs, listing_at, onboard_agent, required_stake

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
    attest(protocol, merchant, default_inputs(100_000 * USDC))
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(protocol.factory, 100_000 * USDC, sender=merchant)
    receipt = protocol.factory.create_listing(*_args(merchant), sender=admin)
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


def test_registry_is_the_revenue_verifier(listing, factory, registry):
    assert factory.REGISTRY() == registry.address
    assert listing.router.VERIFIER() == registry.address
    assert listing.reserve.VERIFIER() == registry.address


def test_router_and_staking_point_at_each_other(listing):
    assert listing.router.STAKING() == listing.staking.address
    assert listing.staking.ROUTER() == listing.router.address
    assert listing.staking.LISTING_TOKEN() == listing.token.address


def test_grade_a_stake_is_five_percent_of_market_cap_in_reserve(listing, usdc, reserve):
    # 1,000,000 tokens at 2 USDC: market cap 2,000,000 USDC, grade A stake 100,000 USDC
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


def test_listing_pe_view_matches_python(factory):
    for price, revenue in ((2 * WAD, 100_000 * USDC), (3 * WAD + 7, 12_345 * USDC + 1)):
        assert factory.listing_pe(10**24, price, revenue) == pem.listing_pe(price, revenue, 10**24, 1_000, 1_000, 6)


def test_second_listing_gets_its_own_contracts(protocol, factory, admin, merchant, usdc, listing):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    count = factory.listing_count()
    other = create_listing(protocol, admin, merchant=merchant, symbol="TWO")
    assert other.id == count
    assert factory.listing_count() == count + 1
    assert other.router.address != listing.router.address
    assert other.staking.ROUTER() == other.router.address


def _args(who, **over):
    args = dict(
        name="Shop", symbol="SHOP", supply=10**24, initial_price=2 * WAD, merchant=who.address, payout=who.address
    )
    args.update(over)
    return list(args.values())


def _funded(factory, merchant, usdc):
    """`merchant` has funds and approves the factory for any stake."""
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    usdc.approve(factory, 2**256 - 1, sender=merchant)


def _ready(protocol, merchant, usdc, inputs=None, agent=None):
    """The agent (`protocol.agent` by default) attests `merchant` (grade A, R
    100,000 USDC by default); the merchant is `_funded`."""
    attest(protocol, merchant, inputs or default_inputs(100_000 * USDC), agent=agent)
    _funded(protocol.factory, merchant, usdc)


def test_only_admin_creates_listings(protocol, factory, attacker, merchant, usdc):
    _ready(protocol, merchant, usdc)
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts("ownable: caller is not the owner"):
        factory.create_listing(*_args(merchant), sender=attacker)
    assert (factory.listing_count(), usdc.balanceOf(merchant)) == (count, balance)


@pytest.mark.parametrize(
    "field, reason",
    [("merchant", "factory: merchant is the zero address"), ("payout", "factory: payout is the zero address")],
)
def test_zero_addresses_rejected(factory, admin, merchant, field, reason):
    count = factory.listing_count()
    with ape.reverts(reason):
        factory.create_listing(*_args(merchant, **{field: ZERO}), sender=admin)
    assert factory.listing_count() == count


@pytest.mark.parametrize(
    "field, reason", [("supply", "factory: zero supply"), ("initial_price", "factory: zero price")]
)
def test_zero_amounts_rejected(protocol, factory, admin, merchant, usdc, field, reason):
    _ready(protocol, merchant, usdc)
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts(reason):
        factory.create_listing(*_args(merchant, **{field: 0}), sender=admin)
    assert factory.listing_count() == count
    assert usdc.balanceOf(merchant) == balance


def test_supply_above_96_bits_rejected(factory, admin, merchant, usdc):
    count, balance = factory.listing_count(), usdc.balanceOf(merchant)
    with ape.reverts("factory: supply above 2**96 - 1"):
        factory.create_listing(*_args(merchant, supply=2**96), sender=admin)
    assert (factory.listing_count(), usdc.balanceOf(merchant)) == (count, balance)


def test_registry_refuses_a_settlement_token_with_more_than_18_decimals(deployer, project):
    wide = deployer.deploy(project.WideDecimalsToken)
    with ape.reverts("registry: settlement token has more than 18 decimals"):
        deployer.deploy(project.UnderwritingRegistry, wide)


def test_fee_on_transfer_settlement_rejected_at_listing(deployer, project, protocol_for, admin, new_merchant):
    """A stablecoin that switches a fee on after the agents bonded: the stake
    that arrives is short, the listing is refused and nothing moves."""
    merchant = new_merchant
    fee_token = deployer.deploy(project.FeeOnTransferToken)
    fee_token.set_fee_bps(0, sender=deployer)
    fee_protocol = protocol_for(fee_token)
    _ready(fee_protocol, merchant, fee_token)
    fee_token.set_fee_bps(100, sender=deployer)
    factory, balance = fee_protocol.factory, fee_token.balanceOf(merchant)
    with ape.reverts("factory: settlement token is fee-on-transfer or rebasing"):
        factory.create_listing(*_args(merchant), sender=admin)
    assert fee_token.balanceOf(merchant) == balance
    assert factory.listing_count() == 0


def test_missing_stake_approval_rejected(protocol, factory, admin, merchant, usdc):
    _ready(protocol, merchant, usdc)
    usdc.approve(factory, 0, sender=merchant)
    before = usdc.balanceOf(merchant)
    with ape.reverts("erc20: insufficient allowance"):
        factory.create_listing(*_args(merchant), sender=admin)
    assert usdc.balanceOf(merchant) == before


# ---------------------------------------------------------------- underwriting: the attestation sets the terms

#: Inputs that score each grade (24 months, R 100,000 USDC unless said otherwise).
GRADE_INPUTS = {
    "A": dict(),  # 20 + 16 + 20 + 12 + 15 + 10 = 93
    "B": dict(volatility_bps=3_000, growth_bps=-500, refund_bps=400),  # 20 + 16 + 10 + 6 + 10 + 10 = 72
    "C": dict(
        volatility_bps=4_000, growth_bps=-500, refund_bps=800, top_channel_bps=3_000
    ),  # 20 + 16 + 5 + 6 + 5 + 3 = 55
    "D": dict(history_months=12, volatility_bps=6_000, growth_bps=-500, refund_bps=800, top_channel_bps=3_000),
    # 10 + 16 + 0 + 6 + 5 + 3 = 40
}


def _inputs(**over):
    return dataclasses.replace(default_inputs(100_000 * USDC), **over)


def _grade_inputs(grade):
    inputs = _inputs(**GRADE_INPUTS[grade])
    assert uw.GRADES[uw.score(inputs, 6).grade] == grade
    return inputs


@pytest.mark.parametrize("grade", ["A", "B", "C", "D"])
def test_grade_sets_stake_target_and_premium(protocol, factory, registry, admin, new_merchant, usdc, grade):
    inputs = _grade_inputs(grade)
    terms = uw.terms(uw.score(inputs, 6).grade, inputs.volatility_bps)
    price = _price_at_pe(85 * WAD // 10)  # inside every grade's PE range
    assert 8 * WAD <= pem.listing_pe(price, inputs.avg_monthly_revenue, 10**24, 1_000, 1_000, 6) <= terms.max_listing_pe
    _ready(protocol, new_merchant, usdc, inputs)
    receipt = factory.create_listing(*_args(new_merchant, initial_price=price), sender=admin)
    [event] = receipt.events.filter(factory.ListingCreated)
    stake = required_stake(10**24, price, 6, terms.stake_bps)
    target = terms.revenue_target(inputs.avg_monthly_revenue)
    assert (event.grade, event.stake, event.revenue_target) == (terms.grade, stake, target)
    entry = factory.listings(event.id)
    assert (entry.grade, entry.premium_bps) == (terms.grade, terms.premium_bps)
    reserve = listing_at(protocol, event.id).reserve
    assert reserve.stake() == reserve.LISTING_STAKE() == stake
    assert reserve.STAKE_BPS() == terms.stake_bps
    assert reserve.revenue_target_of(0) == target


def test_listing_without_an_attestation_rejected(factory, admin, new_merchant, usdc):
    _funded(factory, new_merchant, usdc)
    count = factory.listing_count()
    with ape.reverts("registry: no fresh attestation"):
        factory.create_listing(*_args(new_merchant), sender=admin)
    assert factory.listing_count() == count


def test_listing_on_an_expired_attestation_rejected(protocol, factory, admin, new_merchant, usdc, chain):
    _ready(protocol, new_merchant, usdc)
    chain.pending_timestamp += 35 * DAY
    balance = usdc.balanceOf(new_merchant)
    with ape.reverts("registry: no fresh attestation"):
        factory.create_listing(*_args(new_merchant), sender=admin)
    assert usdc.balanceOf(new_merchant) == balance


def test_grade_below_d_rejected(protocol, factory, admin, new_merchant, usdc):
    weak = _inputs(
        history_months=6,
        avg_monthly_revenue=10_000 * USDC,
        volatility_bps=6_000,
        growth_bps=-2_000,
        refund_bps=1_500,
        top_channel_bps=9_000,
    )
    assert uw.score(weak, 6).grade == uw.GRADE_NONE
    _ready(protocol, new_merchant, usdc, weak)
    count, balance = factory.listing_count(), usdc.balanceOf(new_merchant)
    with ape.reverts("factory: grade below D"):
        factory.create_listing(*_args(new_merchant), sender=admin)
    assert (factory.listing_count(), usdc.balanceOf(new_merchant)) == (count, balance)


def _price_at_pe(pe_wad, revenue=100_000 * USDC, supply=10**24):
    """The initial price whose listing PE is closest to `pe_wad` from above."""
    eps = pem.eps(pem.annual_earnings(revenue, 1, 1_000), supply * 9 // 10, 6)
    price = pe_wad * eps // WAD
    while pem.listing_pe(price, revenue, supply, 1_000, 1_000, 6) < pe_wad:
        price += 1
    return price


@pytest.mark.parametrize("grade, max_pe", [("A", 15), ("D", 9)])
def test_listing_pe_above_the_grades_highest_rejected(protocol, factory, admin, new_merchant, usdc, grade, max_pe):
    _ready(protocol, new_merchant, usdc, _grade_inputs(grade))
    edge = _price_at_pe(max_pe * WAD)
    assert pem.listing_pe(edge, 100_000 * USDC, 10**24, 1_000, 1_000, 6) == max_pe * WAD
    count = factory.listing_count()
    with ape.reverts("factory: listing PE above the grade's highest"):
        factory.create_listing(*_args(new_merchant, initial_price=edge + 10**12), sender=admin)
    assert factory.listing_count() == count
    factory.create_listing(*_args(new_merchant, initial_price=edge), sender=admin)  # the highest PE itself lists
    assert factory.listing_count() == count + 1


def test_listing_pe_below_pe_low_rejected(protocol, factory, admin, new_merchant, usdc):
    _ready(protocol, new_merchant, usdc)
    edge = _price_at_pe(8 * WAD)
    count = factory.listing_count()
    with ape.reverts("factory: listing PE below pe_low"):
        factory.create_listing(*_args(new_merchant, initial_price=edge - 10**12), sender=admin)
    assert factory.listing_count() == count
    factory.create_listing(*_args(new_merchant, initial_price=edge), sender=admin)
    assert factory.listing_count() == count + 1


def test_listing_binds_the_agents_bond(protocol, factory, registry, admin, new_merchant, usdc, agent):
    _ready(protocol, new_merchant, usdc)
    before = registry.underwritten(agent)
    receipt = factory.create_listing(*_args(new_merchant), sender=admin)
    [event] = receipt.events.filter(factory.ListingCreated)
    assert registry.underwritten(agent) == before + 2_000_000 * WAD  # 1,000,000 tokens at 2 USDC (18 decimals)
    assert registry.listing_agent(event.reserve) == agent.address
    assert registry.listing_merchant(event.reserve) == new_merchant.address


def test_under_bonded_agent_cannot_list(protocol, factory, registry, admin, new_merchant, usdc, accounts, networks):
    """2% of a 2,000,000 USDC listing is 40,000 USDC: an agent bonded 39,999 USDC attests, but cannot list it."""
    small = accounts.generate_test_account()
    networks.provider.set_balance(small.address, 10**21)
    onboard_agent(protocol, admin, small, 39_999 * USDC)
    _ready(protocol, new_merchant, usdc, agent=small)
    count = factory.listing_count()
    with ape.reverts("registry: agent bond below the minimum"):
        factory.create_listing(*_args(new_merchant), sender=admin)
    assert factory.listing_count() == count
    assert registry.underwritten(small) == 0


def test_removed_agents_attestation_cannot_list(protocol, factory, registry, admin, new_merchant, usdc, agent):
    _ready(protocol, new_merchant, usdc)
    registry.remove_agent(agent, sender=admin)
    with ape.reverts("registry: attesting agent was removed"):
        factory.create_listing(*_args(new_merchant), sender=admin)


def test_second_listing_in_the_same_token_is_accepted(protocol, factory, registry, admin, merchant, usdc, listing):
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    other = create_listing(
        protocol, admin, merchant=merchant, symbol="TWO", inputs=default_inputs(50_000 * USDC, 100_000 * USDC)
    )
    assert other.router.VERIFIER() == registry.address
    assert registry.latest(merchant).month_revenue == 50_000 * USDC
