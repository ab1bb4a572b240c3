"""Counted revenue (PROTOCOL.md, units and formulas): per period,
`counted[p] = min(gross paid in p by non-insiders, verified_cap[p])`, the cap
read at the period's first counted payment from the verifier's record in force
at the period's start (0 once that attestation has expired: 35 days after it
was issued by default). Insiders pay like
anyone and count nothing. Each test lists its own listing (`fresh_listing`):
they jump whole periods, so this module runs last (conftest RUN_LAST)."""

import ape
import pytest

USDC = 10**6
WAD = 10**18
DAY = 86_400
PERIOD = 30 * DAY
CAP = 105_000 * USDC  # 100,000 USDC verified month revenue + 5% tolerance
ORDER = b"counted".ljust(32, b"\0")


def _at(chain, listing, period, offset=0):
    """Sets the next block's time to `offset` seconds into `period`."""
    chain.pending_timestamp = listing.router.START() + period * PERIOD + offset


def _attest(protocol, merchant, month_revenue):
    """The risk agent attests `merchant`'s month revenue (its average stays 100,000 USDC)."""
    from ape_pst_plugin.deployment import attest, default_inputs

    return attest(protocol, merchant, default_inputs(month_revenue, 100_000 * USDC))


def _impersonate(accounts, networks, address):
    networks.provider.set_balance(address, 10**20)
    return accounts[address]


def test_non_insider_payment_counts_in_full_below_the_cap(fresh_listing, payer):
    router = fresh_listing.router
    receipt = router.pay(ORDER, 1_000 * USDC, sender=payer)
    [event] = receipt.events.filter(router.Payment)
    assert event.counted == 1
    assert router.counted(0) == router.period_gross(0) == 1_000 * USDC
    assert router.period_cap(0) == CAP


def test_counted_revenue_stops_at_the_verified_cap(fresh_listing, payer):
    router = fresh_listing.router
    router.pay(ORDER, 100_000 * USDC, sender=payer)
    router.pay(ORDER, 50_000 * USDC, sender=payer)
    assert router.period_gross(0) == 150_000 * USDC
    assert router.counted(0) == CAP


def test_sybil_payers_together_stay_under_the_cap(fresh_listing, payer, usdc, accounts, networks):
    router = fresh_listing.router
    for _ in range(3):
        sybil = accounts.generate_test_account()
        networks.provider.set_balance(sybil.address, 10**20)
        usdc.faucet(sybil, 50_000 * USDC, sender=sybil)
        usdc.approve(router, 50_000 * USDC, sender=sybil)
        router.pay(ORDER, 50_000 * USDC, sender=sybil)
    assert router.period_gross(0) == 150_000 * USDC
    assert router.counted(0) == CAP


def test_cap_is_read_at_the_first_counted_payment_only(fresh_listing, payer, factory, admin, merchant, protocol):
    router = fresh_listing.router
    router.pay(ORDER, 1 * USDC, sender=payer)
    _attest(protocol, merchant, 10_000 * USDC)  # verified lower, mid-period
    router.pay(ORDER, 200_000 * USDC, sender=payer)
    assert router.period_cap(0) == CAP
    assert router.counted(0) == CAP


def test_no_counted_payment_leaves_the_cap_unread(fresh_listing):
    assert fresh_listing.router.period_cap(0) == 0
    assert fresh_listing.router.counted(0) == 0


@pytest.mark.parametrize("who", ["merchant", "vesting", "reserve"])
def test_insider_payment_is_split_and_counts_nothing(fresh_listing, payer, usdc, accounts, networks, merchant, who):
    router, staking = fresh_listing.router, fresh_listing.staking
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    insider = {"merchant": merchant}.get(who) or _impersonate(accounts, networks, getattr(fresh_listing, who).address)
    usdc.faucet(insider, 50_000 * USDC, sender=insider)
    usdc.approve(router, 50_000 * USDC, sender=insider)
    reserve_before, payout_before = usdc.balanceOf(fresh_listing.reserve), usdc.balanceOf(merchant)
    receipt = router.pay(ORDER, 50_000 * USDC, sender=insider)
    [event] = receipt.events.filter(router.Payment)
    assert event.counted == 0
    assert event.holder_share == 5_000 * USDC
    # nobody is staked: the holder share reaches the reserve; the payout address gets 45,000 less
    # the premium (25 bps: 125), which insiders pay like anyone
    assert event.premium == 125 * USDC
    reserve_delta = usdc.balanceOf(fresh_listing.reserve) - reserve_before
    payout_delta = usdc.balanceOf(merchant) - payout_before
    paid_by = {"merchant": (0, -50_000 * USDC), "vesting": (0, 0), "reserve": (-50_000 * USDC, 0)}[who]
    assert reserve_delta == 5_000 * USDC + paid_by[0]
    assert payout_delta == 44_875 * USDC + paid_by[1]
    assert usdc.balanceOf(staking) == 0
    assert router.period_gross(0) == router.counted(0) == 1_000 * USDC


def test_payout_address_is_an_insider(protocol, admin, merchant, usdc, accounts, networks):
    from ape_pst_plugin.deployment import create_listing

    payout = accounts.generate_test_account()
    networks.provider.set_balance(payout.address, 10**20)
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    listed = create_listing(protocol, admin, merchant=merchant, symbol="PAY", payout=payout.address)
    router = listed.router
    assert router.is_insider(payout)
    usdc.faucet(payout, 10_000 * USDC, sender=payout)
    usdc.approve(router, 10_000 * USDC, sender=payout)
    receipt = router.pay(ORDER, 10_000 * USDC, sender=payout)
    assert receipt.events.filter(router.Payment)[0].counted == 0
    assert usdc.balanceOf(payout) == 8_975 * USDC  # the merchant part (less the 25 bps premium) comes back
    assert router.period_gross(0) == 0
    assert router.counted(0) == 0


def test_an_insider_first_payment_does_not_read_the_cap(fresh_listing, merchant, usdc, factory, admin, payer):
    router = fresh_listing.router
    usdc.approve(router, 1_000 * USDC, sender=merchant)
    router.pay(ORDER, 1_000 * USDC, sender=merchant)
    assert router.period_cap(0) == 0
    router.pay(ORDER, 10 * USDC, sender=payer)
    assert router.period_cap(0) == CAP


def test_payments_count_in_the_period_they_land_in(fresh_listing, payer, chain):
    router = fresh_listing.router
    _at(chain, fresh_listing, 0, PERIOD - 1)
    router.pay(ORDER, 300 * USDC, sender=payer)
    _at(chain, fresh_listing, 1)
    router.pay(ORDER, 100 * USDC, sender=payer)
    assert router.current_period() == 1
    assert (router.counted(0), router.counted(1)) == (300 * USDC, 100 * USDC)


def test_cap_is_the_record_in_force_at_the_period_start(
    fresh_listing, payer, factory, admin, merchant, chain, protocol
):
    """A record issued during period 1 does not cap period 1; it caps period 2."""
    router = fresh_listing.router
    _at(chain, fresh_listing, 1, 10 * DAY)
    _attest(protocol, merchant, 1_000 * USDC)
    router.pay(ORDER, 200_000 * USDC, sender=payer)
    assert router.period_cap(1) == CAP
    assert router.counted(1) == CAP
    _at(chain, fresh_listing, 2)
    router.pay(ORDER, 200_000 * USDC, sender=payer)
    assert router.period_cap(2) == 1_050 * USDC
    assert router.counted(2) == 1_050 * USDC


def test_cap_is_zero_when_the_record_is_35_days_old_at_the_period_start(fresh_listing, payer, chain):
    """The listing-time record is 30 days old when period 1 starts (fresh) and
    60 days old when period 2 starts (stale): period 2 counts nothing."""
    router = fresh_listing.router
    _at(chain, fresh_listing, 1, DAY)
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    _at(chain, fresh_listing, 2, DAY)
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    assert router.counted(1) == 1_000 * USDC
    assert router.period_gross(2) == 1_000 * USDC
    assert router.period_cap(2) == 0
    assert router.counted(2) == 0


def test_a_new_record_restores_the_cap_from_the_next_period(
    fresh_listing, payer, chain, factory, admin, merchant, protocol
):
    router = fresh_listing.router
    _at(chain, fresh_listing, 2, DAY)
    _attest(protocol, merchant, 20_000 * USDC)
    router.pay(ORDER, 30_000 * USDC, sender=payer)
    _at(chain, fresh_listing, 3, DAY)
    router.pay(ORDER, 30_000 * USDC, sender=payer)
    assert router.counted(2) == 0
    assert router.counted(3) == 21_000 * USDC


def test_verified_revenue_goes_stale_after_35_days(fresh_listing, factory, admin, merchant, chain, protocol, registry):
    issued = registry.verified_at(merchant)
    chain.pending_timestamp = issued + 35 * DAY - 1
    chain.mine()
    assert registry.is_fresh(merchant)
    chain.pending_timestamp = issued + 35 * DAY
    chain.mine()
    assert not registry.is_fresh(merchant)
    _attest(protocol, merchant, 100_000 * USDC)
    assert registry.is_fresh(merchant)


# ---------------------------------------------------------------- trailing_counted


def test_trailing_counted_sums_the_last_finished_periods(fresh_listing, payer, chain):
    router = fresh_listing.router
    router.pay(ORDER, 7_000 * USDC, sender=payer)
    _at(chain, fresh_listing, 1)
    router.pay(ORDER, 200_000 * USDC, sender=payer)  # capped at 105,000
    _at(chain, fresh_listing, 2)
    router.pay(ORDER, 5_000 * USDC, sender=payer)  # the running period: not in any sum (and stale: 0)
    assert router.trailing_counted(1) == CAP
    assert router.trailing_counted(2) == CAP + 7_000 * USDC


@pytest.mark.parametrize("periods", [0, 13])
def test_trailing_counted_bounds(fresh_listing, chain, periods):
    _at(chain, fresh_listing, 13)
    chain.mine()
    with ape.reverts("router: periods out of bounds"):
        fresh_listing.router.trailing_counted(periods)


def test_trailing_counted_needs_finished_periods(fresh_listing, chain):
    with ape.reverts("router: fewer periods finished"):
        fresh_listing.router.trailing_counted(1)
    _at(chain, fresh_listing, 1)
    chain.mine()
    assert fresh_listing.router.trailing_counted(1) == 0
    with ape.reverts("router: fewer periods finished"):
        fresh_listing.router.trailing_counted(2)


# ---------------------------------------------------------------- pauses


def test_unpaused_time_of_a_pause_across_a_period_boundary(fresh_listing, guardian, admin, chain):
    router = fresh_listing.router
    _at(chain, fresh_listing, 1, -DAY)
    router.pause(sender=guardian)
    _at(chain, fresh_listing, 1, 2 * DAY)
    router.unpause(sender=admin)
    assert router.unpaused_time(0) == PERIOD - DAY
    assert router.unpaused_time(1) == PERIOD - 2 * DAY
    assert router.unpaused_time(2) == PERIOD


def test_unpaused_time_adds_up_several_pauses(fresh_listing, guardian, admin, chain):
    router = fresh_listing.router
    for start, length in ((DAY, 3_600), (10 * DAY, DAY), (20 * DAY, 2 * DAY)):
        _at(chain, fresh_listing, 0, start)
        router.pause(sender=guardian)
        _at(chain, fresh_listing, 0, start + length)
        router.unpause(sender=admin)
    assert router.pause_count() == 3
    assert router.unpaused_time(0) == PERIOD - 3_600 - 3 * DAY


def test_pauses_in_earlier_periods_do_not_count(fresh_listing, guardian, admin, chain):
    router = fresh_listing.router
    _at(chain, fresh_listing, 0, DAY)
    router.pause(sender=guardian)
    _at(chain, fresh_listing, 0, 2 * DAY)
    router.unpause(sender=admin)
    _at(chain, fresh_listing, 2, DAY)
    router.pause(sender=guardian)
    _at(chain, fresh_listing, 2, DAY + 600)
    router.unpause(sender=admin)
    assert router.unpaused_time(0) == PERIOD - DAY
    assert router.unpaused_time(1) == PERIOD
    assert router.unpaused_time(2) == PERIOD - 600


# ---------------------------------------------------------------- EPS from finished periods


@pytest.fixture
def priced(fresh_listing, merchant, uniswap):
    """`fresh_listing` with a pool (1,000 tokens / 2,000 USDC) the oracle can observe."""
    from ape_pst_plugin.uniswap import add_liquidity

    fresh_listing.release(merchant, merchant, 1_000 * WAD)
    fresh_listing.settlement.faucet(merchant, 2_000 * USDC, sender=merchant)
    add_liquidity(uniswap, merchant, fresh_listing.token, 1_000 * WAD, fresh_listing.settlement, 2_000 * USDC)
    return fresh_listing


def _eps(counted_sum, n):
    from ape_pst_plugin import pe as pem

    return pem.eps(pem.annual_earnings(counted_sum, n, 1_000), 900_000 * WAD, 6)


def test_eps_counts_a_period_once_it_has_finished(priced, payer, merchant, chain):
    priced.router.pay(ORDER, 50_000 * USDC, sender=payer)
    priced.oracle.update(sender=merchant)
    assert priced.oracle.eps_snapshot() == 0  # period 0 is running
    _at(chain, priced, 1)
    priced.oracle.update(sender=merchant)
    assert priced.oracle.eps_snapshot() == _eps(50_000 * USDC, 1)
    assert priced.oracle.annual_earnings() == 50_000 * USDC // 10 * 365 // 30


def test_eps_uses_counted_not_gross_revenue(priced, payer, merchant, chain):
    priced.router.pay(ORDER, 200_000 * USDC, sender=payer)
    priced.settlement.approve(priced.router, 100_000 * USDC, sender=merchant)
    priced.settlement.faucet(merchant, 100_000 * USDC, sender=merchant)
    priced.router.pay(ORDER, 100_000 * USDC, sender=merchant)  # an insider: counts nothing
    _at(chain, priced, 1)
    priced.oracle.update(sender=merchant)
    assert priced.oracle.eps_snapshot() == _eps(CAP, 1)


def test_eps_averages_the_finished_periods(priced, payer, merchant, chain):
    priced.router.pay(ORDER, 30_000 * USDC, sender=payer)
    _at(chain, priced, 1)
    priced.router.pay(ORDER, 60_000 * USDC, sender=payer)
    priced.oracle.update(sender=merchant)
    assert priced.oracle.eps_snapshot() == _eps(30_000 * USDC, 1)
    _at(chain, priced, 2)
    priced.oracle.update(sender=merchant)
    assert priced.oracle.eps_snapshot() == _eps(90_000 * USDC, 2)


def test_running_period_payment_never_moves_eps_after_update(priced, payer, merchant, chain):
    priced.router.pay(ORDER, 40_000 * USDC, sender=payer)
    _at(chain, priced, 1)
    priced.oracle.update(sender=merchant)
    eps = priced.oracle.eps_snapshot()
    priced.router.pay(ORDER, 100_000 * USDC, sender=payer)
    _at(chain, priced, 1, DAY)
    assert priced.oracle.update(sender=merchant).return_value is True
    assert priced.oracle.eps_snapshot() == eps == _eps(40_000 * USDC, 1)


def test_finished_period_without_counted_revenue_leaves_pe_undefined(priced, payer, merchant, chain):
    priced.settlement.faucet(merchant, 10_000 * USDC, sender=merchant)
    priced.settlement.approve(priced.router, 10_000 * USDC, sender=merchant)
    priced.router.pay(ORDER, 10_000 * USDC, sender=merchant)  # only insider revenue
    _at(chain, priced, 1)
    priced.oracle.update(sender=merchant)
    _at(chain, priced, 1, 3_600)
    priced.oracle.update(sender=merchant)
    assert priced.oracle.eps_snapshot() == 0
    with ape.reverts("oracle: no earnings, PE undefined"):
        priced.oracle.pe()


def test_listings_pay_and_count_in_the_registrys_settlement_token(fresh_listing, registry, usdc):
    """Attested revenue, caps and payments share one unit: the factory takes
    no settlement token, every listing is wired to the registry's."""
    assert registry.SETTLEMENT() == usdc.address
    assert fresh_listing.router.SETTLEMENT() == usdc.address
    assert fresh_listing.router.VERIFIER() == registry.address
