"""Bad inputs that span contracts: constructors called directly, and a
settlement token that re-enters."""

import ape
import pytest

USDC = 10**6
WAD = 10**18
ZERO = "0x0000000000000000000000000000000000000000"


def _oracle_args(listing, default_owner, **over):
    args = dict(
        pair=listing.pair,
        token=listing.token,
        router=listing.router,
        reserve=listing.reserve,
        vesting=listing.vesting,
        decimals=6,
        twap_window=1_800,
        max_age=7_200,
        owner=default_owner,
    )
    args.update(over)
    return list(args.values())


@pytest.mark.parametrize(
    "field, reason",
    [
        ("pair", "oracle: pair is the zero address"),
        ("token", "oracle: token is the zero address"),
        ("router", "oracle: router is the zero address"),
        ("reserve", "oracle: reserve is the zero address"),
        ("vesting", "oracle: vesting is the zero address"),
        ("owner", "oracle: owner is the zero address"),
    ],
)
def test_oracle_constructor_rejects_zero_addresses(deployer, project, listing, field, reason):
    with ape.reverts(reason):
        deployer.deploy(project.PEOracle, *_oracle_args(listing, deployer, **{field: ZERO}))


@pytest.mark.parametrize(
    "over, reason",
    [
        (dict(decimals=19), "oracle: settlement token has more than 18 decimals"),
        (dict(twap_window=599), "oracle: twap_window below 10 minutes"),
        (dict(max_age=1_800), "oracle: max_age must exceed twap_window"),
        (dict(max_age=7 * 86_400 + 1), "oracle: max_age above 7 days"),
    ],
)
def test_oracle_constructor_checks_bounds(deployer, project, listing, over, reason):
    with ape.reverts(reason):
        deployer.deploy(project.PEOracle, *_oracle_args(listing, deployer, **over))


WIRING = ("token", "settlement", "pair", "oracle", "router", "staking", "vesting", "verifier", "fund", "merchant")


def _reserve_args(listing, factory, default_owner, **over):
    wiring = dict(
        token=listing.token.address,
        settlement=listing.settlement.address,
        pair=listing.pair.address,
        oracle=listing.oracle.address,
        router=listing.router.address,
        staking=listing.staking.address,
        vesting=listing.vesting.address,
        verifier=factory.address,
        fund=factory.FUND(),
        merchant=listing.merchant,
    )
    wiring.update({k: v for k, v in over.items() if k in wiring})
    rest = dict(decimals=6, stake=1, stake_bps=500, target=0, owner=default_owner.address, guardian=ZERO)
    rest.update({k: v for k, v in over.items() if k in rest})
    return [tuple(wiring[f] for f in WIRING), *rest.values()]


@pytest.mark.parametrize("field", WIRING)
def test_reserve_constructor_rejects_zero_addresses(deployer, project, listing, factory, field):
    with ape.reverts(f"reserve: {field} is the zero address"):
        deployer.deploy(project.Reserve, *_reserve_args(listing, factory, deployer, **{field: ZERO}))


@pytest.mark.parametrize(
    "over, reason",
    [
        (dict(owner=ZERO), "reserve: owner is the zero address"),
        (dict(decimals=19), "reserve: settlement token has more than 18 decimals"),
        (dict(target=2**128), "reserve: revenue target out of range"),
    ],
)
def test_reserve_constructor_checks_bounds(deployer, project, listing, factory, over, reason):
    with ape.reverts(reason):
        deployer.deploy(project.Reserve, *_reserve_args(listing, factory, deployer, **over))


def _staking_args(listing, **over):
    args = dict(
        token=listing.token,
        settlement=listing.settlement,
        router=listing.router,
        reserve=listing.reserve,
        merchant=listing.merchant,
        payout=listing.merchant,
        merchant_vesting=listing.vesting,
        vesting=7 * 86_400,
    )
    args.update(over)
    return list(args.values())


@pytest.mark.parametrize(
    "field, reason",
    [
        ("token", "staking: token is the zero address"),
        ("settlement", "staking: settlement is the zero address"),
        ("router", "staking: router is the zero address"),
        ("reserve", "staking: reserve is the zero address"),
        ("merchant", "staking: merchant is the zero address"),
        ("payout", "staking: payout is the zero address"),
        ("merchant_vesting", "staking: vesting contract is the zero address"),
    ],
)
def test_staking_constructor_rejects_zero_addresses(deployer, project, listing, field, reason):
    with ape.reverts(reason):
        deployer.deploy(project.RevenueStaking, *_staking_args(listing, **{field: ZERO}))


def test_staking_constructor_rejects_zero_vesting(deployer, project, listing):
    with ape.reverts("staking: zero vesting"):
        deployer.deploy(project.RevenueStaking, *_staking_args(listing, vesting=0))


@pytest.mark.parametrize(
    "slot, reason",
    [
        (0, "vesting: token is the zero address"),
        (1, "vesting: merchant is the zero address"),
        (2, "vesting: reserve is the zero address"),
    ],
)
def test_vesting_constructor_rejects_zero_addresses(deployer, project, listing, slot, reason):
    args = [listing.token.address, listing.merchant, listing.reserve.address, 900_000 * WAD]
    args[slot] = ZERO
    with ape.reverts(reason):
        deployer.deploy(project.MerchantVesting, *args)


@pytest.fixture
def evil_listing(deployer, project, protocol_for, admin, new_merchant, payer, stakers):
    from ape_pst_plugin.deployment import create_listing

    evil = deployer.deploy(project.ReentrantToken)
    evil.faucet(new_merchant, 10**12, sender=new_merchant)
    evil_listed = create_listing(protocol_for(evil), admin, merchant=new_merchant, symbol="EVIL")
    evil.faucet(payer, 10**12, sender=payer)
    evil.approve(evil_listed.router, 2**256 - 1, sender=payer)
    evil_listed.release(new_merchant, stakers[0], 100 * WAD)
    evil_listed.token.approve(evil_listed.staking, 2**256 - 1, sender=stakers[0])
    evil_listed.staking.stake(100 * WAD, sender=stakers[0])
    return evil_listed


def test_reentering_settlement_token_cannot_pay_twice(evil_listing, payer):
    router, evil = evil_listing.router, evil_listing.settlement
    payload = router.pay.as_transaction(b"\x01" * 32, 100 * USDC, sender=payer).data
    evil.faucet(evil, 10**12, sender=payer)  # the token itself can pay: only the lock stops the inner pay()
    evil.arm(router, payload, sender=payer)
    balance = evil.balanceOf(payer)
    with ape.reverts():
        router.pay(b"\x02" * 32, 100 * USDC, sender=payer)
    assert evil.balanceOf(payer) == balance
