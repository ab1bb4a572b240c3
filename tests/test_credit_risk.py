import ape
import pytest

USDC = 10**6
WAD = 10**18
DAY = 86_400
PERIOD = 30 * DAY
TARGET = 10_000 * USDC
ORDER = b"\x05" * 32


@pytest.fixture
def committed(listing, admin, stakers):
    """A listing whose merchant committed to 10,000 USDC gross per period, with a staker."""
    listing.reserve.set_revenue_target(TARGET, sender=admin)
    listing.staking.stake(1_000 * WAD, sender=stakers[0])
    return listing


def _finish_period(chain, listing, payer, gross=0):
    if gross:
        listing.router.pay(ORDER, gross, sender=payer)
    chain.pending_timestamp += PERIOD
    chain.mine()


def test_assess_waits_for_the_period_to_finish(committed):
    with ape.reverts("reserve: period not finished"):
        committed.reserve.assess(sender=committed.merchant)


def test_hit_target_slashes_nothing(committed, chain, payer, usdc):
    _finish_period(chain, committed, payer, gross=TARGET)
    stake = committed.reserve.stake()
    receipt = committed.reserve.assess(sender=payer)
    assert receipt.return_value == 0
    assert committed.reserve.stake() == stake
    assert committed.reserve.next_period() == 1


def test_miss_slashes_twenty_percent_to_stakers(committed, chain, payer, usdc):
    _finish_period(chain, committed, payer, gross=TARGET - 1)
    stake = committed.reserve.stake()
    staking_before = usdc.balanceOf(committed.staking)
    committed.reserve.assess(sender=payer)
    slashed = stake * 2_000 // 10_000
    assert committed.reserve.stake() == stake - slashed
    assert usdc.balanceOf(committed.staking) - staking_before == slashed
    assert committed.reserve.consecutive_misses() == 1


def test_slash_streams_to_stakers(committed, chain, payer, stakers):
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    chain.pending_timestamp += 8 * DAY
    chain.mine()
    assert committed.staking.earned(stakers[0]) == pytest.approx(20_000 * USDC, abs=1)


def test_third_miss_in_a_row_defaults(committed, chain, payer, usdc):
    stake = committed.reserve.stake()
    for _ in range(3):
        _finish_period(chain, committed, payer)
        receipt = committed.reserve.assess(sender=payer)
    assert committed.reserve.defaulted()
    assert committed.reserve.stake() == 0
    assert receipt.events.filter(committed.reserve.Defaulted)
    # 20% + 20% of the rest + everything left: the whole stake went to the stakers
    assert usdc.balanceOf(committed.staking) == stake


def test_hit_resets_the_streak(committed, chain, payer):
    for gross in (0, 0, TARGET):
        _finish_period(chain, committed, payer, gross)
        committed.reserve.assess(sender=payer)
    assert committed.reserve.consecutive_misses() == 0
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    assert not committed.reserve.defaulted()


def test_assess_is_once_per_period(committed, chain, payer):
    _finish_period(chain, committed, payer)
    committed.reserve.assess(sender=payer)
    stake = committed.reserve.stake()
    with ape.reverts("reserve: period not finished"):
        committed.reserve.assess(sender=payer)
    assert committed.reserve.stake() == stake


def test_late_keeper_assesses_one_period_per_call(committed, chain, payer):
    chain.pending_timestamp += 5 * PERIOD
    chain.mine()
    committed.reserve.assess(sender=payer)
    assert committed.reserve.next_period() == 1
    assert committed.reserve.consecutive_misses() == 1


def test_defaulted_listing_cannot_be_assessed_again(committed, chain, payer):
    for _ in range(3):
        _finish_period(chain, committed, payer)
        committed.reserve.assess(sender=payer)
    _finish_period(chain, committed, payer)
    with ape.reverts("reserve: listing defaulted"):
        committed.reserve.assess(sender=payer)


def test_payments_after_default_still_split(committed, chain, payer, usdc, merchant):
    for _ in range(3):
        _finish_period(chain, committed, payer)
        committed.reserve.assess(sender=payer)
    before = usdc.balanceOf(merchant)
    committed.router.pay(ORDER, 1_000 * USDC, sender=payer)
    assert usdc.balanceOf(merchant) - before == 900 * USDC


def test_defaulted_listing_stops_buying(market, admin, payer, keeper, chain):
    reserve, router = market.reserve, market.listing.router
    reserve.set_revenue_target(10**15, sender=admin)
    while not reserve.defaulted():
        if reserve.next_period() >= router.current_period():
            market.sleep(PERIOD)
        reserve.assess(sender=keeper)
    market.sell_tokens(100_000 * WAD)
    market.observe()
    market.settle()
    assert market.oracle.pe() < reserve.pe_low()
    with ape.reverts("reserve: listing defaulted, no buys"):
        reserve.stabilise(sender=keeper)


def test_merchant_withdraws_excess_stake(market, merchant, usdc):
    reserve = market.reserve
    market.sell_tokens(20_000 * WAD)  # a lower market cap needs a smaller stake
    market.settle()
    required = reserve.required_stake()
    excess = reserve.stake() - required
    assert required < 100_000 * USDC
    before = usdc.balanceOf(merchant)
    reserve.withdraw_excess_stake(excess, sender=merchant)
    assert usdc.balanceOf(merchant) - before == excess
    assert reserve.stake() == required


def test_merchant_cannot_go_below_requirement(market, merchant):
    reserve = market.reserve
    excess = reserve.stake() - reserve.required_stake()
    with ape.reverts("reserve: stake would fall below the requirement"):
        reserve.withdraw_excess_stake(excess + 1, sender=merchant)


def test_no_withdrawal_in_a_miss_streak(market, merchant, admin, keeper):
    reserve = market.reserve
    reserve.set_revenue_target(10**15, sender=admin)
    reserve.assess(sender=keeper)
    with ape.reverts("reserve: merchant is in a miss streak"):
        reserve.withdraw_excess_stake(1, sender=merchant)


@pytest.mark.parametrize("who, amount, reason", [("attacker", 1, "reserve: caller is not the merchant"),
                                                 ("merchant", 0, "reserve: zero amount")])
def test_withdraw_excess_bad_input(market, merchant, attacker, who, amount, reason):
    stake = market.reserve.stake()
    with ape.reverts(reason):
        market.reserve.withdraw_excess_stake(amount, sender={"attacker": attacker, "merchant": merchant}[who])
    assert market.reserve.stake() == stake
