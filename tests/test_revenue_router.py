import ape
import pytest

USDC = 10**6
DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"
ORDER = b"order-1".ljust(32, b"\0")


def test_pay_splits_ten_percent_to_holders_and_the_premium_to_the_fund(
    router, usdc, payer, merchant, staking, stakers, protocol
):
    staking.stake(10**18, sender=stakers[0])
    premium = 1_000 * USDC * router.PREMIUM_BPS() // 10_000  # grade A: 25 bps
    before = usdc.balanceOf(merchant), usdc.balanceOf(staking), usdc.balanceOf(protocol.fund)
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    assert usdc.balanceOf(merchant) - before[0] == 900 * USDC - premium
    assert usdc.balanceOf(staking) - before[1] == 100 * USDC
    assert usdc.balanceOf(protocol.fund) - before[2] == premium == 2_500_000


def test_pay_emits_payment_with_order_id(router, payer):
    receipt = router.pay(ORDER, 77 * USDC, sender=payer)
    [event] = receipt.events.filter(router.Payment)
    assert event.order_id == ORDER
    assert event.payer == payer
    assert event.gross == 77 * USDC
    assert event.holder_share == 77 * USDC // 10
    assert event.premium == 77 * USDC * 25 // 10_000
    assert event.counted == 1  # the bool decodes as 1


def test_share_goes_to_reserve_when_nobody_is_staked(router, usdc, payer, reserve):
    before = usdc.balanceOf(reserve)
    router.pay(ORDER, 50 * USDC, sender=payer)
    assert usdc.balanceOf(reserve) - before == 5 * USDC


def test_one_wei_payment_goes_to_merchant(router, usdc, payer, merchant):
    before = usdc.balanceOf(merchant)
    router.pay(ORDER, 1, sender=payer)
    assert usdc.balanceOf(merchant) - before == 1


def test_period_revenue_adds_up_payments(router, payer):
    period = router.current_period()
    before = router.period_gross(period)
    router.pay(ORDER, 300 * USDC, sender=payer)
    router.pay(ORDER, 200 * USDC, sender=payer)
    assert router.period_gross(period) == before + 500 * USDC


def test_merchant_payment_is_split_but_not_counted(router, usdc, merchant, staking, stakers):
    staking.stake(10**18, sender=stakers[0])
    period = router.current_period()
    gross, counted = router.period_gross(period), router.counted(period)
    usdc.approve(router, 1_000 * USDC, sender=merchant)
    before = usdc.balanceOf(merchant), usdc.balanceOf(staking)
    receipt = router.pay(ORDER, 1_000 * USDC, sender=merchant)
    [event] = receipt.events.filter(router.Payment)
    assert event.counted == 0
    assert event.holder_share == 100 * USDC
    # the merchant is its own payout address here: it paid 1,000 and got 900 less the premium back
    assert before[0] - usdc.balanceOf(merchant) == 100 * USDC + event.premium
    assert usdc.balanceOf(staking) - before[1] == 100 * USDC
    assert (router.period_gross(period), router.counted(period)) == (gross, counted)


def test_insiders_are_the_merchant_payout_vesting_and_reserve(listing, router, payer, stakers):
    for insider in (listing.merchant, listing.vesting, listing.reserve):
        assert router.is_insider(insider)
    assert router.payout() == listing.merchant  # the fixture's payout is the merchant
    for outsider in (payer, stakers[0], listing.staking, listing.router):
        assert not router.is_insider(outsider)


def test_parties_are_wired(listing, router, factory, usdc):
    assert router.SETTLEMENT() == usdc.address
    assert router.MERCHANT() == listing.merchant
    assert router.VESTING() == listing.vesting.address
    assert router.RESERVE() == listing.reserve.address
    assert router.VERIFIER() == factory.REGISTRY()
    assert router.PERIOD() == 30 * DAY


def test_admin_sets_share_bps(router, admin, payer, merchant, usdc):
    router.set_share_bps(3000, sender=admin)
    before = usdc.balanceOf(merchant)
    router.pay(ORDER, 100 * USDC, sender=payer)
    assert router.share_bps() == 3000
    assert usdc.balanceOf(merchant) - before == 70 * USDC - 100 * USDC * router.PREMIUM_BPS() // 10_000


@pytest.mark.parametrize("bps", [0, 99, 3001, 10_000])
def test_share_bps_out_of_bounds(router, admin, bps):
    with ape.reverts("router: share_bps out of bounds"):
        router.set_share_bps(bps, sender=admin)
    assert router.share_bps() == 1000


def test_only_admin_sets_share_bps(router, attacker, guardian):
    for caller in (attacker, guardian):
        with ape.reverts("ownable: caller is not the owner"):
            router.set_share_bps(2000, sender=caller)
    assert router.share_bps() == 1000


def test_pay_rejects_zero_amount(router, usdc, payer):
    before = usdc.balanceOf(payer)
    with ape.reverts("router: zero amount"):
        router.pay(ORDER, 0, sender=payer)
    assert usdc.balanceOf(payer) == before


def test_guardian_pauses_payments(router, guardian, payer, usdc):
    router.pause(sender=guardian)
    before = usdc.balanceOf(payer), router.period_gross(router.current_period())
    with ape.reverts("pausable: contract is paused"):
        router.pay(ORDER, 10 * USDC, sender=payer)
    assert (usdc.balanceOf(payer), router.period_gross(router.current_period())) == before


def test_guardian_cannot_unpause(router, guardian):
    router.pause(sender=guardian)
    with ape.reverts("ownable: caller is not the owner"):
        router.unpause(sender=guardian)
    assert router.paused()


def test_admin_unpauses(router, guardian, admin, payer):
    router.pause(sender=guardian)
    router.unpause(sender=admin)
    before = router.period_gross(router.current_period())
    router.pay(ORDER, 10 * USDC, sender=payer)
    assert router.period_gross(router.current_period()) == before + 10 * USDC


def test_stranger_cannot_pause(router, attacker):
    with ape.reverts("router: caller is not the guardian"):
        router.pause(sender=attacker)
    assert not router.paused()


def test_pay_without_allowance_moves_nothing(router, usdc, attacker, merchant):
    usdc.faucet(attacker, 100 * USDC, sender=attacker)
    before = usdc.balanceOf(merchant)
    with ape.reverts():
        router.pay(ORDER, 100 * USDC, sender=attacker)
    assert usdc.balanceOf(attacker) == 100 * USDC
    assert usdc.balanceOf(merchant) == before


PARTY_FIELDS = ("staking", "merchant", "payout", "vesting", "reserve", "verifier", "fund")


def _router_args(admin, usdc, **over):
    parties = {field: admin.address for field in PARTY_FIELDS}
    parties.update({k: v for k, v in over.items() if k in parties})
    args = dict(
        settlement=usdc.address, share_bps=1000, premium_bps=25, period=30 * DAY, owner=admin.address, guardian=ZERO
    )
    args.update({k: v for k, v in over.items() if k in args})
    return [
        args["settlement"],
        tuple(parties[f] for f in PARTY_FIELDS),
        args["share_bps"],
        args["premium_bps"],
        args["period"],
        args["owner"],
        args["guardian"],
    ]


@pytest.mark.parametrize(
    "field, reason",
    [
        ("settlement", "router: settlement is the zero address"),
        ("staking", "router: staking is the zero address"),
        ("merchant", "router: merchant is the zero address"),
        ("payout", "router: payout is the zero address"),
        ("vesting", "router: vesting is the zero address"),
        ("reserve", "router: reserve is the zero address"),
        ("verifier", "router: verifier is the zero address"),
        ("fund", "router: fund is the zero address"),
        ("owner", "router: owner is the zero address"),
    ],
)
def test_constructor_rejects_zero_addresses(deployer, project, admin, usdc, field, reason):
    with ape.reverts(reason):
        deployer.deploy(project.RevenueRouter, *_router_args(admin, usdc, **{field: ZERO}))


def test_constructor_rejects_zero_period(deployer, project, admin, usdc):
    with ape.reverts("router: zero period"):
        deployer.deploy(project.RevenueRouter, *_router_args(admin, usdc, period=0))


def test_constructor_checks_share_bounds_like_the_setter(deployer, project, admin, usdc):
    with ape.reverts("router: share_bps out of bounds"):
        deployer.deploy(project.RevenueRouter, *_router_args(admin, usdc, share_bps=3001))


def test_constructor_checks_premium_bounds(deployer, project, admin, usdc):
    with ape.reverts("router: premium_bps out of bounds"):
        deployer.deploy(project.RevenueRouter, *_router_args(admin, usdc, premium_bps=501))


def test_pause_records_when_it_began(router, guardian):
    receipt = router.pause(sender=guardian)
    assert router.paused_since() == receipt.timestamp
    assert router.pause_count() == 0


def test_unpause_records_the_finished_pause(router, guardian, admin):
    router.pause(sender=guardian)
    router.unpause(sender=admin)
    assert router.paused_since() == 0
    assert router.pause_count() == 1


def test_unpaused_time_is_the_whole_period_without_pauses(router):
    assert router.unpaused_time(router.current_period()) == 30 * DAY


def test_unpaused_time_excludes_a_pause_inside_the_period(router, guardian, admin, chain):
    period = router.current_period()
    start = router.START() + period * router.PERIOD()
    began = router.pause(sender=guardian).timestamp
    chain.pending_timestamp = began + 3_600
    ended = router.unpause(sender=admin).timestamp
    assert start <= began < ended < start + router.PERIOD()
    assert router.unpaused_time(period) == 30 * DAY - (ended - began) == 30 * DAY - 3_600
    assert router.unpaused_time(period + 1) == 30 * DAY


def test_a_running_pause_counts_until_the_period_ends(router, guardian):
    period = router.current_period()
    end = router.START() + (period + 1) * router.PERIOD()
    began = router.pause(sender=guardian).timestamp
    assert router.unpaused_time(period) == 30 * DAY - (end - began)
    assert router.unpaused_time(period + 1) == 0  # still paused: the whole next period so far
