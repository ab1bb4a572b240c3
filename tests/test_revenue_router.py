import ape
import pytest

USDC = 10**6
DAY = 86_400
ZERO = "0x0000000000000000000000000000000000000000"
ORDER = b"order-1".ljust(32, b"\0")


def test_pay_splits_ten_percent_to_holders(router, usdc, payer, merchant, staking, stakers):
    staking.stake(10**18, sender=stakers[0])
    before = usdc.balanceOf(merchant), usdc.balanceOf(staking)
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    assert usdc.balanceOf(merchant) - before[0] == 900 * USDC
    assert usdc.balanceOf(staking) - before[1] == 100 * USDC


def test_pay_emits_payment_with_order_id(router, payer):
    receipt = router.pay(ORDER, 77 * USDC, sender=payer)
    [event] = receipt.events.filter(router.Payment)
    assert event.order_id == ORDER
    assert event.payer == payer
    assert event.gross == 77 * USDC
    assert event.holder_share == 77 * USDC // 10


def test_share_goes_to_reserve_when_nobody_is_staked(router, usdc, payer, reserve):
    before = usdc.balanceOf(reserve)
    router.pay(ORDER, 50 * USDC, sender=payer)
    assert usdc.balanceOf(reserve) - before == 5 * USDC


def test_one_wei_payment_goes_to_merchant(router, usdc, payer, merchant):
    before = usdc.balanceOf(merchant)
    router.pay(ORDER, 1, sender=payer)
    assert usdc.balanceOf(merchant) - before == 1


def test_cumulative_and_period_revenue(router, payer):
    router.pay(ORDER, 300 * USDC, sender=payer)
    router.pay(ORDER, 200 * USDC, sender=payer)
    assert router.cumulative_gross_revenue() == 500 * USDC
    assert router.cumulative_holder_revenue() == 50 * USDC
    assert router.period_gross(router.current_period()) == 500 * USDC


def test_period_gross_moves_to_next_period(router, payer, chain):
    first = router.current_period()
    before = router.period_gross(first)
    router.pay(ORDER, 300 * USDC, sender=payer)
    chain.pending_timestamp += router.PERIOD()
    router.pay(ORDER, 100 * USDC, sender=payer)
    assert router.current_period() == first + 1
    assert router.period_gross(first) == before + 300 * USDC
    assert router.period_gross(first + 1) == 100 * USDC


def test_trailing_revenue_drops_days_outside_the_window(router, payer, chain):
    router.pay(ORDER, 100 * USDC, sender=payer)  # holder 10
    chain.pending_timestamp += 10 * DAY
    router.pay(ORDER, 200 * USDC, sender=payer)  # holder 20
    chain.mine()
    assert router.trailing_holder_revenue(365 * DAY) == 30 * USDC
    assert router.trailing_holder_revenue(5 * DAY) == 20 * USDC


def test_trailing_revenue_forgets_after_a_year(router, payer, chain):
    router.pay(ORDER, 100 * USDC, sender=payer)
    chain.pending_timestamp += 367 * DAY
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    chain.mine()
    assert router.trailing_holder_revenue(365 * DAY) == 100 * USDC


def test_one_checkpoint_per_day(router, payer, chain):
    router.pay(ORDER, 1 * USDC, sender=payer)
    router.pay(ORDER, 1 * USDC, sender=payer)
    count = router.checkpoint_count()
    chain.pending_timestamp += DAY
    router.pay(ORDER, 1 * USDC, sender=payer)
    assert router.checkpoint_count() == count + 1


def test_admin_sets_share_bps(router, admin, payer, merchant, usdc):
    router.set_share_bps(3000, sender=admin)
    before = usdc.balanceOf(merchant)
    router.pay(ORDER, 100 * USDC, sender=payer)
    assert usdc.balanceOf(merchant) - before == 70 * USDC


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
    before = usdc.balanceOf(payer)
    with ape.reverts("pausable: contract is paused"):
        router.pay(ORDER, 10 * USDC, sender=payer)
    assert usdc.balanceOf(payer) == before
    assert router.cumulative_gross_revenue() == 0


def test_guardian_cannot_unpause(router, guardian):
    router.pause(sender=guardian)
    with ape.reverts("ownable: caller is not the owner"):
        router.unpause(sender=guardian)
    assert router.paused()


def test_admin_unpauses(router, guardian, admin, payer):
    router.pause(sender=guardian)
    router.unpause(sender=admin)
    router.pay(ORDER, 10 * USDC, sender=payer)
    assert router.cumulative_gross_revenue() == 10 * USDC


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


@pytest.mark.parametrize("window, reason", [(0, "router: zero window"), (366 * DAY, "router: window longer than 365 days")])
def test_trailing_window_bounds(router, window, reason):
    with ape.reverts(reason):
        router.trailing_holder_revenue(window)


@pytest.mark.parametrize(
    "slot, reason",
    [
        (0, "router: settlement is the zero address"),
        (1, "router: staking is the zero address"),
        (2, "router: payout is the zero address"),
        (5, "router: owner is the zero address"),
    ],
)
def test_constructor_rejects_zero_addresses(deployer, project, admin, usdc, slot, reason):
    args = [usdc.address, admin.address, admin.address, 1000, 30 * DAY, admin.address, ZERO]
    args[slot] = ZERO
    with ape.reverts(reason):
        deployer.deploy(project.RevenueRouter, *args)


def test_constructor_checks_share_bounds_like_the_setter(deployer, project, admin, usdc):
    with ape.reverts("router: share_bps out of bounds"):
        deployer.deploy(project.RevenueRouter, usdc, admin, admin, 3001, 30 * DAY, admin, ZERO)


def test_trailing_revenue_is_exact_after_the_ring_wraps(router, payer, chain):
    """368 payment days fill the 366-slot ring and overwrite its oldest days."""
    import random

    rng = random.Random(7)
    day = chain.blocks.head.timestamp // DAY + 1
    paid = []  # (timestamp, holder share)
    for _ in range(368):
        day += rng.choice([1, 1, 1, 2])  # some days without payments
        now = day * DAY + rng.randrange(DAY)
        amount = rng.randrange(1, 10_000 * USDC)
        chain.pending_timestamp = now
        router.pay(ORDER, amount, sender=payer)
        paid.append((now, amount // 10))
    assert router.checkpoint_count() == 368
    for window in (1, DAY, 7 * DAY, 30 * DAY, 200 * DAY, 365 * DAY):
        start_day = (now - window) // DAY
        expected = sum(h for ts, h in paid if ts // DAY >= start_day)
        assert router.trailing_holder_revenue(window) == expected
