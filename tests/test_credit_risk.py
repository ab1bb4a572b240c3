"""Credit risk (PROTOCOL.md, performance stake and status): `assess()` judges
each finished period once, in order, against the target in force when the
period began, pro rata to the unpaused time; a miss slashes 20% of the
remaining stake to the stakers, the third miss in a row defaults and holds the
rest for the protection fund. The listing-time stake is never withdrawable.
These tests jump whole periods, so this module runs last (conftest RUN_LAST);
each lists its own merchant commitment."""

import dataclasses

import ape
import pytest

USDC = 10**6
WAD = 10**18
DAY = 86_400
PERIOD = 30 * DAY
STAKE = 100_000 * USDC
R = 100_000 * USDC  # the attested average monthly revenue
TARGET = 50_000 * USDC  # grade A's ratio at its 50% floor (attested volatility 25%)
ORDER = b"\x05" * 32
SCALE = 10**36
VESTING = 7 * DAY
ACTIVE, LATE, DEFAULTED = 0, 1, 2


@pytest.fixture
def committed(protocol, admin, merchant, usdc, payer, stakers):
    """A listing whose merchant's attestation (R 100,000 USDC, volatility 25%:
    grade A, target ratio 50%) commits it to 50,000 USDC gross per period,
    with one staker of 1,000 tokens."""
    from ape_pst_plugin.deployment import create_listing

    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    listed = create_listing(protocol, admin, merchant=merchant, symbol="CMT", inputs=_inputs(R))
    usdc.faucet(payer, 10**9 * USDC, sender=payer)
    usdc.approve(listed.router, 2**256 - 1, sender=payer)
    listed.release(merchant, stakers[0], 1_000 * WAD)
    listed.token.approve(listed.staking, 2**256 - 1, sender=stakers[0])
    listed.staking.stake(1_000 * WAD, sender=stakers[0])
    return listed


def _inputs(month_revenue):
    from ape_pst_plugin.deployment import default_inputs

    return dataclasses.replace(default_inputs(month_revenue, R), volatility_bps=2_500)


def _finish_period(chain, listing, payer, gross=0):
    """Pays `gross` (a customer) in the running period, then moves to the next one."""
    if gross:
        listing.router.pay(ORDER, gross, sender=payer)
    period = listing.router.current_period()
    chain.pending_timestamp = listing.router.START() + (period + 1) * PERIOD
    chain.mine()


def _streamed(amount, total_staked, stake):
    """What one staker earns once a notified amount has streamed in full."""
    rate = amount * SCALE // VESTING
    return stake * (rate * VESTING // total_staked) // 10**18 // 10**18


def test_listing_starts_active_with_its_stake(committed):
    reserve = committed.reserve
    assert (reserve.status(), reserve.consecutive_misses(), reserve.next_period()) == (ACTIVE, 0, 0)
    assert reserve.stake() == reserve.LISTING_STAKE() == STAKE
    assert reserve.revenue_target_of(0) == reserve.revenue_target() == TARGET


def test_assess_waits_for_the_period_to_finish(committed, payer):
    stake = committed.reserve.stake()
    with ape.reverts("reserve: period not finished"):
        committed.reserve.assess(sender=payer)
    assert committed.reserve.stake() == stake
    assert committed.reserve.next_period() == 0


def test_hit_target_slashes_nothing(committed, chain, payer, usdc):
    _finish_period(chain, committed, payer, gross=TARGET)
    staking_before = usdc.balanceOf(committed.staking)
    receipt = committed.reserve.assess(sender=payer)
    assert receipt.return_value == 0
    [event] = receipt.events.filter(committed.reserve.Assessed)
    assert (event.period, event.counted, event.due, event.slashed, event.misses, event.status) == (
        0,
        TARGET,
        TARGET,
        0,
        0,
        ACTIVE,
    )
    assert committed.reserve.stake() == STAKE
    assert usdc.balanceOf(committed.staking) == staking_before
    assert committed.reserve.next_period() == 1


def test_miss_slashes_twenty_percent_to_stakers(committed, chain, payer, usdc):
    _finish_period(chain, committed, payer, gross=TARGET - 1)
    staking_before = usdc.balanceOf(committed.staking)
    receipt = committed.reserve.assess(sender=payer)
    assert receipt.return_value == 20_000 * USDC
    assert committed.reserve.stake() == 80_000 * USDC
    assert usdc.balanceOf(committed.staking) - staking_before == 20_000 * USDC
    assert committed.reserve.consecutive_misses() == 1
    assert committed.reserve.status() == LATE


def test_slash_streams_to_stakers(committed, chain, payer, stakers):
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    chain.pending_timestamp += 8 * DAY
    chain.mine()
    assert committed.staking.earned(stakers[0]) == _streamed(20_000 * USDC, 1_000 * WAD, 1_000 * WAD)


def test_slash_with_nobody_staked_stays_in_the_reserve(committed, chain, payer, stakers, usdc):
    committed.staking.exit(sender=stakers[0])
    _finish_period(chain, committed, payer)
    balance = usdc.balanceOf(committed.reserve)
    committed.reserve.assess(sender=payer)
    assert usdc.balanceOf(committed.reserve) == balance
    assert committed.reserve.stake() == 80_000 * USDC
    assert committed.reserve.free_balance() == balance - 80_000 * USDC


def test_third_miss_in_a_row_defaults(committed, chain, payer, usdc):
    staking_before = usdc.balanceOf(committed.staking)
    for _ in range(3):
        _finish_period(chain, committed, payer)
        receipt = committed.reserve.assess(sender=payer)
    reserve = committed.reserve
    # 20,000 + 16,000 + 12,800 slashed to the stakers; the remaining 51,200 goes to the listing's pot
    assert receipt.return_value == 12_800 * USDC
    assert usdc.balanceOf(committed.staking) - staking_before == 48_800 * USDC
    assert (reserve.status(), reserve.consecutive_misses(), reserve.stake()) == (DEFAULTED, 3, 0)
    assert reserve.defaulted_at() == receipt.timestamp
    [event] = receipt.events.filter(reserve.Defaulted)
    assert (event.period, event.held_for_fund) == (2, 51_200 * USDC)
    # the fund opened the pot in the same transaction and pulled the held stake
    [released] = receipt.events.filter(reserve.ReleasedToFund)
    assert released.amount == 51_200 * USDC
    assert reserve.held_for_fund() == 0


def test_held_for_fund_is_not_free_balance(committed, chain, payer, usdc, admin, protocol):
    protocol.fund.pause(sender=admin)  # new pots paused: the held stake waits in the reserve
    for _ in range(3):
        _finish_period(chain, committed, payer)
        committed.reserve.assess(sender=payer)
    reserve = committed.reserve
    assert reserve.held_for_fund() == 51_200 * USDC
    assert reserve.free_balance() == usdc.balanceOf(reserve) - 51_200 * USDC
    with ape.reverts("reserve: amount exceeds the free balance"):
        reserve.withdraw(admin, reserve.free_balance() + 1, sender=admin)
    assert reserve.held_for_fund() == 51_200 * USDC


def test_met_period_resets_the_streak(committed, chain, payer, protocol, merchant):
    from ape_pst_plugin.deployment import attest

    for gross in (0, 0, TARGET):
        # a fresh attestation before each period starts (the listing's expires in period 1)
        attest(protocol, merchant, _inputs(R))
        _finish_period(chain, committed, payer, gross)
        committed.reserve.assess(sender=payer)
    assert committed.reserve.consecutive_misses() == 0
    assert committed.reserve.status() == ACTIVE
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    assert (committed.reserve.status(), committed.reserve.consecutive_misses()) == (LATE, 1)


def test_assess_twice_for_a_period_reverts(committed, chain, payer, usdc):
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    stake, staked_cash = committed.reserve.stake(), usdc.balanceOf(committed.staking)
    with ape.reverts("reserve: period already assessed"):
        committed.reserve.assess(sender=payer)
    assert committed.reserve.stake() == stake
    assert usdc.balanceOf(committed.staking) == staked_cash
    assert committed.reserve.next_period() == 1


def test_late_keeper_assesses_one_period_per_call(committed, chain, payer):
    chain.pending_timestamp = committed.router.START() + 5 * PERIOD
    chain.mine()
    committed.reserve.assess(sender=payer)
    assert committed.reserve.next_period() == 1
    assert committed.reserve.consecutive_misses() == 1
    committed.reserve.assess(sender=payer)
    assert committed.reserve.next_period() == 2


def test_defaulted_listing_cannot_be_assessed_again(committed, chain, payer):
    for _ in range(3):
        _finish_period(chain, committed, payer)
        committed.reserve.assess(sender=payer)
    _finish_period(chain, committed, payer)
    with ape.reverts("reserve: listing defaulted"):
        committed.reserve.assess(sender=payer)
    assert committed.reserve.next_period() == 3


def test_payments_after_default_still_split(committed, chain, payer, usdc, merchant):
    for _ in range(3):
        _finish_period(chain, committed, payer)
        committed.reserve.assess(sender=payer)
    before = usdc.balanceOf(merchant)
    committed.router.pay(ORDER, 1_000 * USDC, sender=payer)
    assert usdc.balanceOf(merchant) - before == 900 * USDC - 1_000 * USDC * committed.router.PREMIUM_BPS() // 10_000


# ---------------------------------------------------------------- what counts (W2)


def test_merchant_self_payment_does_not_meet_the_target(committed, chain, payer, merchant, usdc):
    usdc.approve(committed.router, 2 * TARGET, sender=merchant)
    committed.router.pay(ORDER, 2 * TARGET, sender=merchant)
    _finish_period(chain, committed, payer)
    receipt = committed.reserve.assess(sender=payer)
    [event] = receipt.events.filter(committed.reserve.Assessed)
    assert (event.counted, event.due, event.slashed) == (0, TARGET, 20_000 * USDC)


def test_target_above_the_verified_cap_cannot_be_met(protocol, admin, merchant, usdc, payer, chain):
    """W2: an attested last month of 40,000 caps counted revenue at 42,000: the
    target of 50,000 (half the 100,000 average) is missed whatever customers pay."""
    from ape_pst_plugin.deployment import create_listing

    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    listed = create_listing(protocol, admin, merchant=merchant, symbol="CAP", inputs=_inputs(40_000 * USDC))
    usdc.faucet(payer, 500_000 * USDC, sender=payer)
    usdc.approve(listed.router, 2**256 - 1, sender=payer)
    _finish_period(chain, listed, payer, gross=500_000 * USDC)
    receipt = listed.reserve.assess(sender=payer)
    [event] = receipt.events.filter(listed.reserve.Assessed)
    assert (event.counted, event.due, event.misses, event.status) == (42_000 * USDC, TARGET, 1, LATE)


def test_paused_time_pro_rates_the_target(committed, chain, payer, guardian, admin):
    router = committed.router
    chain.pending_timestamp = router.START() + DAY
    router.pause(sender=guardian)
    chain.pending_timestamp = router.START() + DAY + 15 * DAY
    router.unpause(sender=admin)
    router.pay(ORDER, TARGET // 2, sender=payer)
    _finish_period(chain, committed, payer)
    receipt = committed.reserve.assess(sender=payer)
    [event] = receipt.events.filter(committed.reserve.Assessed)
    assert (event.counted, event.due, event.slashed, event.status) == (TARGET // 2, TARGET // 2, 0, ACTIVE)


# ---------------------------------------------------------------- targets per period (C2)


def test_target_set_mid_period_applies_from_the_next_period(committed, admin):
    receipt = committed.reserve.set_revenue_target(3 * TARGET, sender=admin)
    [event] = receipt.events.filter(committed.reserve.RevenueTargetChanged)
    assert (event.revenue_target, event.from_period) == (3 * TARGET, 1)
    assert committed.reserve.revenue_target_of(0) == committed.reserve.revenue_target() == TARGET
    assert committed.reserve.revenue_target_of(1) == committed.reserve.revenue_target_of(7) == 3 * TARGET


def test_running_period_is_judged_by_its_own_target(committed, admin, chain, payer):
    committed.reserve.set_revenue_target(3 * TARGET, sender=admin)
    _finish_period(chain, committed, payer, gross=TARGET)
    receipt = committed.reserve.assess(sender=payer)
    [event] = receipt.events.filter(committed.reserve.Assessed)
    assert (event.due, event.slashed, event.status) == (TARGET, 0, ACTIVE)
    _finish_period(chain, committed, payer, gross=TARGET)
    [event] = committed.reserve.assess(sender=payer).events.filter(committed.reserve.Assessed)
    assert (event.period, event.due, event.status) == (1, 3 * TARGET, LATE)


def test_second_change_in_a_period_replaces_the_first(committed, admin):
    committed.reserve.set_revenue_target(3 * TARGET, sender=admin)
    committed.reserve.set_revenue_target(2 * TARGET, sender=admin)
    assert committed.reserve.revenue_target_of(0) == TARGET
    assert committed.reserve.revenue_target_of(1) == 2 * TARGET


def test_stale_verified_revenue_misses_whatever_is_paid(committed, chain, payer):
    """Period 2 starts 60 days after the listing's record: its cap is 0."""
    _finish_period(chain, committed, payer, gross=TARGET)
    _finish_period(chain, committed, payer, gross=TARGET)
    _finish_period(chain, committed, payer, gross=TARGET)
    results = []
    for _ in range(3):
        [event] = committed.reserve.assess(sender=payer).events.filter(committed.reserve.Assessed)
        results.append((event.period, event.counted, event.status))
    assert results == [(0, TARGET, ACTIVE), (1, TARGET, ACTIVE), (2, 0, LATE)]


def test_targets_of_finished_periods_never_change(committed, admin, chain, payer):
    _finish_period(chain, committed, payer)
    _finish_period(chain, committed, payer)
    committed.reserve.set_revenue_target(0, sender=admin)
    assert [committed.reserve.revenue_target_of(p) for p in range(4)] == [TARGET, TARGET, TARGET, 0]


def test_revenue_target_out_of_range_rejected(committed, admin):
    with ape.reverts("reserve: revenue target out of range"):
        committed.reserve.set_revenue_target(2**128, sender=admin)
    assert committed.reserve.revenue_target_of(1) == TARGET


# ---------------------------------------------------------------- waive


def test_waived_period_is_neither_met_nor_missed(committed, admin, chain, payer, usdc):
    _finish_period(chain, committed, payer)
    receipt = committed.reserve.waive(0, sender=admin)
    assert receipt.events.filter(committed.reserve.Waived)[0].period == 0
    assert committed.reserve.waived(0)
    staked_cash = usdc.balanceOf(committed.staking)
    receipt = committed.reserve.assess(sender=payer)
    [event] = receipt.events.filter(committed.reserve.Assessed)
    assert (event.counted, event.due, event.slashed, event.misses, event.status) == (0, 0, 0, 0, ACTIVE)
    assert committed.reserve.stake() == STAKE
    assert usdc.balanceOf(committed.staking) == staked_cash
    assert committed.reserve.next_period() == 1


def test_waived_period_keeps_the_miss_streak(committed, admin, chain, payer):
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)  # miss 1
    committed.reserve.waive(1, sender=admin)
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    assert (committed.reserve.status(), committed.reserve.consecutive_misses()) == (LATE, 1)


def test_waive_of_an_assessed_period_rejected(committed, admin, chain, payer):
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    with ape.reverts("reserve: period already assessed"):
        committed.reserve.waive(0, sender=admin)
    assert not committed.reserve.waived(0)


def test_only_admin_waives(committed, merchant, guardian):
    for caller in (merchant, guardian):
        with ape.reverts("ownable: caller is not the owner"):
            committed.reserve.waive(0, sender=caller)
    assert not committed.reserve.waived(0)


# ---------------------------------------------------------------- top up


def test_merchant_tops_up_its_stake(committed, merchant, usdc):
    usdc.approve(committed.reserve, 5_000 * USDC, sender=merchant)
    before = usdc.balanceOf(merchant)
    receipt = committed.reserve.top_up_stake(5_000 * USDC, sender=merchant)
    assert receipt.events.filter(committed.reserve.StakeToppedUp)[0].amount == 5_000 * USDC
    assert committed.reserve.stake() == STAKE + 5_000 * USDC
    assert before - usdc.balanceOf(merchant) == 5_000 * USDC
    assert committed.reserve.free_balance() == 0


@pytest.mark.parametrize(
    "who, amount, reason",
    [("attacker", 1, "reserve: caller is not the merchant"), ("merchant", 0, "reserve: zero amount")],
)
def test_top_up_bad_input(committed, merchant, attacker, usdc, who, amount, reason):
    caller = {"attacker": attacker, "merchant": merchant}[who]
    usdc.faucet(caller, 10 * USDC, sender=caller)
    usdc.approve(committed.reserve, 10 * USDC, sender=caller)
    before = usdc.balanceOf(caller)
    with ape.reverts(reason):
        committed.reserve.top_up_stake(amount, sender=caller)
    assert committed.reserve.stake() == STAKE
    assert usdc.balanceOf(caller) == before


def test_no_top_up_after_default(committed, chain, payer, merchant, usdc):
    for _ in range(3):
        _finish_period(chain, committed, payer)
        committed.reserve.assess(sender=payer)
    usdc.approve(committed.reserve, 1_000 * USDC, sender=merchant)
    before = usdc.balanceOf(merchant)
    with ape.reverts("reserve: listing defaulted"):
        committed.reserve.top_up_stake(1_000 * USDC, sender=merchant)
    assert usdc.balanceOf(merchant) == before
    assert committed.reserve.stake() == 0


# ---------------------------------------------------------------- withdrawing stake above the floor


def _assess_all(market):
    """Assesses every finished period (the market has no target: all met)."""
    reserve, router = market.reserve, market.listing.router
    while reserve.next_period() < router.current_period():
        reserve.assess(sender=market.keeper)


@pytest.fixture
def topped_up(market, merchant):
    """The market with every finished period assessed, a fresh TWAP, and 10,000
    USDC of stake above the listing-time stake."""
    market.settle()
    _assess_all(market)
    market.usdc.faucet(merchant, 10_000 * USDC, sender=merchant)
    market.usdc.approve(market.reserve, 10_000 * USDC, sender=merchant)
    market.reserve.top_up_stake(10_000 * USDC, sender=merchant)
    return market


def test_stake_floor_is_the_listing_stake_or_the_twap_requirement(topped_up):
    reserve = topped_up.reserve
    twap = topped_up.oracle.twap_price()
    required = twap * topped_up.token.totalSupply() // WAD * 500 // 10_000 // 10**12
    assert reserve.required_stake() == required
    assert reserve.stake_floor() == max(STAKE, required)


def test_merchant_withdraws_stake_above_the_floor(topped_up, merchant, usdc):
    reserve = topped_up.reserve
    excess = reserve.stake() - reserve.stake_floor()
    assert excess > 0
    before = usdc.balanceOf(merchant)
    receipt = reserve.withdraw_excess_stake(excess, sender=merchant)
    assert receipt.events.filter(reserve.StakeWithdrawn)[0].amount == excess
    assert usdc.balanceOf(merchant) - before == excess
    assert reserve.stake() == reserve.stake_floor()


def test_withdrawal_below_the_floor_rejected(topped_up, merchant, usdc):
    reserve = topped_up.reserve
    stake, excess = reserve.stake(), reserve.stake() - reserve.stake_floor()
    before = usdc.balanceOf(merchant)
    with ape.reverts("reserve: stake would fall below the floor"):
        reserve.withdraw_excess_stake(excess + 1, sender=merchant)
    assert reserve.stake() == stake
    assert usdc.balanceOf(merchant) == before


def test_a_lower_price_never_frees_the_listing_time_stake(topped_up, merchant, usdc):
    """v1's exploit: the price falls, the requirement falls, the merchant withdraws."""
    topped_up.sell_tokens(50_000 * WAD)
    topped_up.settle()
    reserve = topped_up.reserve
    assert reserve.required_stake() < STAKE // 2
    assert reserve.stake_floor() == STAKE
    reserve.withdraw_excess_stake(10_000 * USDC, sender=merchant)
    before = usdc.balanceOf(merchant)
    with ape.reverts("reserve: stake would fall below the floor"):
        reserve.withdraw_excess_stake(1, sender=merchant)
    assert reserve.stake() == STAKE
    assert usdc.balanceOf(merchant) == before


def test_no_withdrawal_with_a_finished_period_unassessed(market, merchant, usdc):
    market.settle()
    _assess_all(market)
    reserve, router = market.reserve, market.listing.router
    market.usdc.faucet(merchant, 10_000 * USDC, sender=merchant)
    market.usdc.approve(reserve, 10_000 * USDC, sender=merchant)
    reserve.top_up_stake(10_000 * USDC, sender=merchant)
    market.sleep(router.START() + (router.current_period() + 1) * PERIOD - market.chain.blocks.head.timestamp)
    market.observe()
    stake, before = reserve.stake(), usdc.balanceOf(merchant)
    with ape.reverts("reserve: a finished period is not assessed yet"):
        reserve.withdraw_excess_stake(1, sender=merchant)
    assert (reserve.stake(), usdc.balanceOf(merchant)) == (stake, before)


def test_no_withdrawal_while_late(market, merchant, admin, usdc):
    reserve, router = market.reserve, market.listing.router
    _assess_all(market)
    reserve.set_revenue_target(10**15, sender=admin)
    market.sleep(router.START() + (router.current_period() + 2) * PERIOD - market.chain.blocks.head.timestamp)
    _assess_all(market)
    assert reserve.status() == LATE
    stake, before = reserve.stake(), usdc.balanceOf(merchant)
    with ape.reverts("reserve: listing is not active"):
        reserve.withdraw_excess_stake(1, sender=merchant)
    assert (reserve.stake(), usdc.balanceOf(merchant)) == (stake, before)


@pytest.mark.parametrize(
    "who, amount, reason",
    [("attacker", 1, "reserve: caller is not the merchant"), ("merchant", 0, "reserve: zero amount")],
)
def test_withdraw_excess_bad_input(topped_up, merchant, attacker, usdc, who, amount, reason):
    caller = {"attacker": attacker, "merchant": merchant}[who]
    stake, before = topped_up.reserve.stake(), usdc.balanceOf(caller)
    with ape.reverts(reason):
        topped_up.reserve.withdraw_excess_stake(amount, sender=caller)
    assert topped_up.reserve.stake() == stake
    assert usdc.balanceOf(caller) == before
