"""Bad inputs that span contracts: constructors called directly, and a
settlement token that re-enters."""

import ape
import pytest

USDC = 10**6
WAD = 10**18
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.mark.parametrize(
    "slot, reason",
    [
        (0, "oracle: pair is the zero address"),
        (1, "oracle: token is the zero address"),
        (2, "oracle: router is the zero address"),
        (3, "oracle: reserve is the zero address"),
        (7, "oracle: owner is the zero address"),
    ],
)
def test_oracle_constructor_rejects_zero_addresses(deployer, project, listing, slot, reason):
    args = [listing.pair, listing.token, listing.router, listing.reserve, 6, 1_800, 7_200, deployer]
    args[slot] = ZERO
    with ape.reverts(reason):
        deployer.deploy(project.PEOracle, *args)


@pytest.mark.parametrize(
    "values, reason",
    [((19, 1_800, 7_200), "oracle: settlement token has more than 18 decimals"),
     ((6, 599, 7_200), "oracle: twap_window below 10 minutes"),
     ((6, 1_800, 8 * 86_400), "oracle: max_age above 7 days")],
)
def test_oracle_constructor_checks_bounds(deployer, project, listing, values, reason):
    with ape.reverts(reason):
        deployer.deploy(project.PEOracle, listing.pair, listing.token, listing.router, listing.reserve, *values, deployer)


@pytest.mark.parametrize(
    "slot, reason",
    [
        (0, "reserve: token is the zero address"),
        (1, "reserve: settlement is the zero address"),
        (2, "reserve: pair is the zero address"),
        (3, "reserve: oracle is the zero address"),
        (4, "reserve: router is the zero address"),
        (5, "reserve: staking is the zero address"),
        (6, "reserve: merchant is the zero address"),
        (10, "reserve: owner is the zero address"),
    ],
)
def test_reserve_constructor_rejects_zero_addresses(deployer, project, listing, slot, reason):
    args = [listing.token, listing.settlement, listing.pair, listing.oracle, listing.router, listing.staking,
            listing.merchant, 6, 1, 0, deployer, ZERO]
    args[slot] = ZERO
    with ape.reverts(reason):
        deployer.deploy(project.Reserve, *args)


@pytest.mark.parametrize(
    "slot, reason",
    [(0, "staking: token is the zero address"), (1, "staking: settlement is the zero address"),
     (2, "staking: router is the zero address"), (3, "staking: reserve is the zero address")],
)
def test_staking_constructor_rejects_zero_addresses(deployer, project, listing, slot, reason):
    args = [listing.token, listing.settlement, listing.router, listing.reserve, 7 * 86_400]
    args[slot] = ZERO
    with ape.reverts(reason):
        deployer.deploy(project.RevenueStaking, *args)


def test_staking_constructor_rejects_zero_vesting(deployer, project, listing):
    with ape.reverts("staking: zero vesting"):
        deployer.deploy(project.RevenueStaking, listing.token, listing.settlement, listing.router, listing.reserve, 0)


@pytest.fixture
def evil_listing(deployer, project, protocol, admin, merchant, payer, stakers):
    from ape_pst_plugin.deployment import create_listing

    evil = deployer.deploy(project.ReentrantToken)
    evil.faucet(merchant, 10**12, sender=merchant)
    evil_listed = create_listing(protocol, admin, merchant=merchant, settlement=evil, symbol="EVIL")
    evil.faucet(payer, 10**12, sender=payer)
    evil.approve(evil_listed.router, 2**256 - 1, sender=payer)
    evil_listed.token.transfer(stakers[0], 100 * WAD, sender=merchant)
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
    assert router.cumulative_gross_revenue() == 0
