"""Bad input on the entry points issue 12 added (docs/PROTOCOL.md "Bad input"): each gets its
clear revert reason and changes nothing."""

import ape

USDC = 10**6
WAD = 10**18
ZERO = "0x0000000000000000000000000000000000000000"


def test_fund_refuses_a_zero_settlement_or_registry(deployer, project, usdc, registry):
    with ape.reverts("fund: settlement is the zero address"):
        deployer.deploy(project.ProtectionFund, ZERO, registry, ZERO)
    with ape.reverts("fund: registry is the zero address"):
        deployer.deploy(project.ProtectionFund, usdc, ZERO, ZERO)


def test_fund_refuses_a_settlement_token_with_more_than_18_decimals(deployer, project, registry):
    wide = deployer.deploy(project.WideDecimalsToken)
    with ape.reverts("fund: settlement token has more than 18 decimals"):
        deployer.deploy(project.ProtectionFund, wide, registry, ZERO)


def test_fund_factory_is_named_once_and_never_zero(deployer, project, usdc, registry, attacker):
    fund = deployer.deploy(project.ProtectionFund, usdc, registry, ZERO)
    with ape.reverts("fund: factory is the zero address"):
        fund.set_factory(ZERO, sender=deployer)
    fund.set_factory(attacker, sender=deployer)
    with ape.reverts("fund: factory already set"):
        fund.set_factory(deployer, sender=deployer)
    assert fund.factory() == attacker.address


def test_top_up_of_zero_is_refused(protocol, admin, usdc):
    before = usdc.balanceOf(protocol.fund)
    with ape.reverts("fund: zero amount"):
        protocol.fund.top_up(0, sender=admin)
    assert usdc.balanceOf(protocol.fund) == before


def test_open_pot_of_an_unknown_listing_is_refused(protocol, attacker):
    with ape.reverts("fund: unknown listing"):
        protocol.fund.open_pot(10**6, sender=attacker)


def test_claim_of_zero_tokens_is_refused(protocol, defaulted_listing, accounts):
    holder, fund = accounts[0], protocol.fund
    defaulted_listing.token.approve(fund, WAD, sender=holder)
    with ape.reverts("fund: zero amount"):
        fund.claim(defaulted_listing.id, 0, sender=holder)
    assert fund.pots(defaulted_listing.id).claimed_tokens == 0


def test_claim_to_the_zero_address_is_refused(protocol, defaulted_listing, accounts):
    holder, fund = accounts[0], protocol.fund
    defaulted_listing.token.approve(fund, WAD, sender=holder)
    with ape.reverts("fund: receiver is the zero address"):
        fund.claim(defaulted_listing.id, WAD, ZERO, sender=holder)
    assert defaulted_listing.token.balanceOf(holder) == 1_000 * WAD


def test_withdraw_owed_with_nothing_owed_is_refused(router, merchant):
    with ape.reverts("router: nothing owed"):
        router.withdraw_owed(merchant, sender=merchant)


def test_withdraw_owed_to_the_zero_address_is_refused(router, merchant):
    with ape.reverts("router: recipient is the zero address"):
        router.withdraw_owed(ZERO, sender=merchant)


def test_set_payout_refuses_zero_and_the_current_payout(router, admin):
    payout = router.payout()
    with ape.reverts("router: payout is the zero address"):
        router.set_payout(ZERO, sender=admin)
    with ape.reverts("router: payout unchanged"):
        router.set_payout(payout, sender=admin)
    assert router.payout() == payout


def test_staking_claim_to_the_zero_address_is_refused(staking, stakers):
    with ape.reverts("staking: receiver is the zero address"):
        staking.claim(ZERO, sender=stakers[0])


def test_only_the_router_makes_insiders(staking, attacker):
    with ape.reverts("staking: caller is not the router"):
        staking.add_insider(attacker, sender=attacker)
    assert not staking.insider(attacker)


def test_deliver_compensation_with_nothing_owed_is_refused(reserve, attacker):
    with ape.reverts("reserve: nothing owed to stakers"):
        reserve.deliver_compensation(sender=attacker)


def test_only_the_reserve_freezes_tokens(token, attacker, merchant):
    with ape.reverts("token: caller is not the reserve"):
        token.freeze(merchant, sender=attacker)
    assert not token.frozen(merchant)
