"""T1 (docs/PROTOCOL.md "Token faults"): a transfer to one party that fails never blocks
another party and never loses value. Each test lists a merchant on a stablecoin that misbehaves
the way real ones do, switches the fault on after listing, and checks that the call that must
go on goes on and that every unit is at its party or owed, to the wei. The three tokens fail
differently: `BlacklistStablecoin` reverts (USDC), `NoReturnStablecoin` reverts and returns
nothing (USDT), `FalseReturnStablecoin` returns false and moves nothing."""

from dataclasses import dataclass

import ape
import pytest

from ape_pst_plugin.deployment import create_listing
from ape_pst_plugin.testing import fresh_account

UNIT = 10**6
WAD = 10**18
DAY = 86_400
PERIOD = 30 * DAY
ORDER = b"t1".ljust(32, b"\0")
TOKENS = ("BlacklistStablecoin", "NoReturnStablecoin", "FalseReturnStablecoin")


@dataclass
class Faulty:
    token: object
    protocol: object
    listing: object
    merchant: object
    payer: object
    staker: object
    admin: object

    def split(self, gross):
        """(holder share, premium, merchant part) of a payment, as the spec defines them."""
        router = self.listing.router
        holder = gross * router.share_bps() // 10_000
        premium = gross * router.PREMIUM_BPS() // 10_000
        return holder, premium, gross - holder - premium


@pytest.fixture(params=TOKENS)
def faulty(request, project, deployer, protocol_for, admin):
    """A listing whose settlement token can blacklist, pause and charge a fee (all off at listing),
    a payer who approved the router and a staker with 10,000 tokens staked."""
    token = deployer.deploy(getattr(project, request.param))
    protocol = protocol_for(token, 10**13)
    merchant, payer, staker = (fresh_account() for _ in range(3))
    token.faucet(merchant, 10_000_000 * UNIT, sender=merchant)
    listing = create_listing(protocol, admin, merchant=merchant, symbol="FLT")
    token.faucet(payer, 10_000_000 * UNIT, sender=payer)
    token.approve(listing.router, 2**256 - 1, sender=payer)
    listing.release(merchant, staker, 10_000 * WAD)
    listing.token.approve(listing.staking, 2**256 - 1, sender=staker)
    listing.staking.stake(10_000 * WAD, sender=staker)
    return Faulty(token, protocol, listing, merchant, payer, staker, admin)


@pytest.fixture
def blocking(faulty):
    """Only the USDC-like token (the fee switch is the same module in all three)."""
    if faulty.token.symbol() != "BUSD":
        pytest.skip("one token is enough for this path")
    return faulty


def _balances(f, *who):
    return [f.token.balanceOf(w) for w in who]


def test_blacklisted_payout_is_owed_and_the_payment_goes_on(faulty):
    f, router = faulty, faulty.listing.router
    holder, premium, merchant_part = f.split(1_000 * UNIT)
    f.token.blacklist(f.merchant, sender=f.admin)  # the payout address is the merchant here
    before = _balances(f, f.listing.staking, f.protocol.fund, router, f.payer)
    receipt = router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    after = _balances(f, f.listing.staking, f.protocol.fund, router, f.payer)
    assert [a - b for a, b in zip(after, before)] == [holder, premium, merchant_part, -1_000 * UNIT]
    assert router.owed_to_merchant() == merchant_part
    # the payment still counts: the customer paid
    assert receipt.events.filter(router.Payment)[0].counted == 1
    assert router.period_gross(router.current_period()) == 1_000 * UNIT


def test_the_merchant_withdraws_what_it_is_owed_to_any_address(faulty):
    f, router = faulty, faulty.listing.router
    _, _, merchant_part = f.split(1_000 * UNIT)
    f.token.blacklist(f.merchant, sender=f.admin)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    elsewhere = fresh_account()
    router.withdraw_owed(elsewhere, sender=f.merchant)
    assert f.token.balanceOf(elsewhere) == merchant_part
    assert router.owed_to_merchant() == 0 == f.token.balanceOf(router)


def test_only_the_merchant_withdraws_what_it_is_owed(faulty):
    f, router = faulty, faulty.listing.router
    f.token.blacklist(f.merchant, sender=f.admin)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    owed = router.owed_to_merchant()
    with ape.reverts("router: caller is not the merchant"):
        router.withdraw_owed(f.payer, sender=f.payer)
    assert router.owed_to_merchant() == owed


def test_blacklisted_staking_keeps_the_holder_share_for_the_next_payment(faulty):
    f, router, staking = faulty, faulty.listing.router, faulty.listing.staking
    holder, _, merchant_part = f.split(1_000 * UNIT)
    f.token.blacklist(staking, sender=f.admin)
    merchant_before = f.token.balanceOf(f.merchant)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    assert router.undelivered_holder_share() == holder == f.token.balanceOf(router)
    assert f.token.balanceOf(f.merchant) - merchant_before == merchant_part  # the merchant is not held up
    f.token.unblacklist(staking, sender=f.admin)
    staking_before = f.token.balanceOf(staking)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    assert router.undelivered_holder_share() == 0 == f.token.balanceOf(router)
    assert f.token.balanceOf(staking) - staking_before == 2 * holder


def test_the_kept_holder_share_reaches_the_stakers(faulty, chain):
    f, router, staking = faulty, faulty.listing.router, faulty.listing.staking
    holder, _, _ = f.split(1_000 * UNIT)
    f.token.blacklist(staking, sender=f.admin)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    f.token.unblacklist(staking, sender=f.admin)
    router.deliver(sender=f.payer)
    chain.pending_timestamp += 8 * DAY  # the stream of 7 days is over
    chain.mine()
    # the only staker earns all of it, less at most a wei of rounding
    assert holder - 1 <= staking.earned(f.staker) <= holder


def test_blacklisted_fund_is_owed_the_premium(faulty):
    f, router, fund = faulty, faulty.listing.router, faulty.protocol.fund
    _, premium, _ = f.split(1_000 * UNIT)
    f.token.blacklist(fund, sender=f.admin)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    assert router.owed_to_fund() == premium
    f.token.unblacklist(fund, sender=f.admin)
    before = f.token.balanceOf(fund)
    router.deliver(sender=f.payer)
    assert f.token.balanceOf(fund) - before == premium
    assert router.owed_to_fund() == 0 == f.token.balanceOf(router)


def test_deliver_with_nothing_waiting_reverts(faulty):
    with ape.reverts("router: nothing to deliver"):
        faulty.listing.router.deliver(sender=faulty.payer)


def test_paused_token_refuses_the_payment_and_moves_nothing(faulty):
    f, router = faulty, faulty.listing.router
    f.token.pause(sender=f.admin)
    before = _balances(f, f.payer, f.merchant, f.listing.staking, f.protocol.fund, router)
    with ape.reverts("router: payment transfer failed"):
        router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    assert _balances(f, f.payer, f.merchant, f.listing.staking, f.protocol.fund, router) == before


def _miss(f, chain):
    """Period 0 passes without revenue (the listing's target is the grade's, > 0)."""
    router = f.listing.router
    chain.pending_timestamp = max(router.START() + PERIOD + 60, chain.pending_timestamp)
    chain.mine()


def test_assess_with_blacklisted_staking_owes_the_compensation(faulty, chain):
    f, reserve = faulty, faulty.listing.reserve
    stake = reserve.stake()
    f.token.blacklist(f.listing.staking, sender=f.admin)
    _miss(f, chain)
    free_before = reserve.free_balance()
    receipt = reserve.assess(sender=f.payer)
    slashed = stake * 2_000 // 10_000
    assert receipt.return_value == slashed
    assert reserve.owed_to_stakers() == slashed
    assert reserve.free_balance() == free_before  # owed, so not the stabiliser's to spend
    assert f.token.balanceOf(reserve) == reserve.stake() + slashed + free_before


def test_owed_compensation_is_delivered_later(faulty, chain):
    f, reserve, staking = faulty, faulty.listing.reserve, faulty.listing.staking
    f.token.blacklist(staking, sender=f.admin)
    _miss(f, chain)
    reserve.assess(sender=f.payer)
    owed = reserve.owed_to_stakers()
    f.token.unblacklist(staking, sender=f.admin)
    before = f.token.balanceOf(staking)
    reserve.deliver_compensation(sender=f.payer)
    assert f.token.balanceOf(staking) - before == owed > 0
    assert reserve.owed_to_stakers() == 0


def test_blacklisted_staker_claims_to_another_address(faulty, chain):
    f, staking = faulty, faulty.listing.staking
    f.listing.router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    chain.pending_timestamp += 8 * DAY
    chain.mine()
    earned = staking.earned(f.staker)
    f.token.blacklist(f.staker, sender=f.admin)
    with ape.reverts():
        staking.claim(sender=f.staker)
    assert staking.earned(f.staker) == earned  # nothing lost
    elsewhere = fresh_account()
    staking.claim(elsewhere, sender=f.staker)
    assert f.token.balanceOf(elsewhere) == earned


def test_a_fee_switched_on_after_listing_never_leaves_staking_owing_more_than_it_holds(blocking, chain):
    """v1 review: a 1% fee switched on after listing left staking owing 1,000 while holding 990.
    Staking now streams what arrived: 990 of the 1,000 sent, and every staker can claim."""
    f, staking = blocking, blocking.listing.staking
    f.token.set_fee_bps(100, sender=f.admin)
    before = f.token.balanceOf(staking)
    receipt = f.listing.router.pay(ORDER, 10_000 * UNIT, sender=f.payer)
    [payment] = receipt.events.filter(f.listing.router.Payment)
    arrived = f.token.balanceOf(staking) - before
    assert (payment.holder_share, arrived) == (1_000 * UNIT, 990 * UNIT)
    [notified] = receipt.events.filter(staking.RevenueNotified)
    assert notified.amount == 990 * UNIT
    chain.pending_timestamp += 8 * DAY
    chain.mine()
    earned = staking.earned(f.staker)
    assert earned <= f.token.balanceOf(staking)
    assert 990 * UNIT - 1 <= earned
    staking.claim(sender=f.staker)  # it can pay out what it owes


def test_a_paused_token_at_default_leaves_the_pot_to_open_later(faulty, chain):
    f, reserve, fund = faulty, faulty.listing.reserve, faulty.protocol.fund
    router = f.listing.router
    for period in (1, 2):
        chain.pending_timestamp = max(router.START() + period * PERIOD + 60, chain.pending_timestamp)
        chain.mine()
        reserve.assess(sender=f.payer)
    chain.pending_timestamp = router.START() + 3 * PERIOD + 60
    chain.mine()
    f.token.pause(sender=f.admin)
    stake = reserve.stake()
    receipt = reserve.assess(sender=f.payer)  # the third miss: the default goes through
    assert reserve.status() == 2
    assert not receipt.events.filter(fund.PotOpened)
    slashed = stake * 2_000 // 10_000
    assert reserve.held_for_fund() == stake - slashed
    assert reserve.owed_to_stakers() == slashed
    with ape.reverts():
        fund.open_pot(f.listing.id, sender=f.payer)
    f.token.unpause(sender=f.admin)
    held = reserve.held_for_fund()
    agent_slash = f.protocol.registry.held_for_pot(reserve)
    receipt = fund.open_pot(f.listing.id, sender=f.payer)
    [opened] = receipt.events.filter(fund.PotOpened)
    assert opened.earmarked + opened.earmarks_to_fund == held + agent_slash  # all arrived; the pot keeps its caps
    assert reserve.held_for_fund() == 0


def test_the_payout_address_changes_through_the_owner_and_the_old_one_stays_an_insider(faulty):
    f, router = faulty, faulty.listing.router
    _, _, merchant_part = f.split(1_000 * UNIT)
    new_payout = fresh_account()
    with ape.reverts("ownable: caller is not the owner"):
        router.set_payout(new_payout, sender=f.merchant)
    router.set_payout(new_payout, sender=f.admin)
    router.pay(ORDER, 1_000 * UNIT, sender=f.payer)
    assert f.token.balanceOf(new_payout) == merchant_part
    assert router.is_insider(new_payout) and router.is_insider(f.merchant)
    # the new payout cannot stake either
    f.listing.release(f.merchant, new_payout, WAD)
    f.listing.token.approve(f.listing.staking, WAD, sender=new_payout)
    with ape.reverts("staking: insiders cannot stake"):
        f.listing.staking.stake(WAD, sender=new_payout)
