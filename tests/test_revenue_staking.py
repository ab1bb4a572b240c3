import ape
import pytest

USDC = 10**6
WAD = 10**18
DAY = 86_400
ORDER = b"\x01" * 32
SCALE = 10**36
VESTING = 7 * DAY


def _earned(amount, elapsed, total, stake):
    """What `stake` of `total` staked earns `elapsed` seconds into the stream of
    one notified `amount` (the contract's fixed point, rounded the same way)."""
    rate = amount * SCALE // VESTING
    return stake * (min(elapsed, VESTING) * rate // total) // 10**18 // 10**18


def test_stake_moves_tokens(staking, token, stakers):
    staking.stake(100 * WAD, sender=stakers[0])
    assert staking.balanceOf(stakers[0]) == 100 * WAD
    assert staking.total_staked() == 100 * WAD
    assert token.balanceOf(staking) == 100 * WAD


def test_revenue_streams_over_seven_days(staking, router, payer, stakers, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    receipt = router.pay(ORDER, 7_000 * USDC, sender=payer)  # 700 USDC to holders
    chain.pending_timestamp = receipt.timestamp + DAY
    chain.mine()
    assert staking.earned(stakers[0]) == _earned(700 * USDC, DAY, 100 * WAD, 100 * WAD) == 100 * USDC - 1
    chain.pending_timestamp = receipt.timestamp + 8 * DAY  # the stream ended a day ago
    chain.mine()
    assert staking.earned(stakers[0]) == _earned(700 * USDC, VESTING, 100 * WAD, 100 * WAD) == 700 * USDC - 1


def test_rewards_split_pro_rata(staking, router, payer, stakers, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    staking.stake(300 * WAD, sender=stakers[1])
    router.pay(ORDER, 4_000 * USDC, sender=payer)
    chain.pending_timestamp += 8 * DAY
    chain.mine()
    assert staking.earned(stakers[0]) == _earned(400 * USDC, VESTING, 400 * WAD, 100 * WAD)
    assert staking.earned(stakers[1]) == _earned(400 * USDC, VESTING, 400 * WAD, 300 * WAD)
    assert staking.earned(stakers[1]) == 3 * staking.earned(stakers[0]) + 2  # 99.999999 and 299.999999 USDC


def test_claim_pays_settlement_token(staking, router, payer, stakers, usdc, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    chain.pending_timestamp += 8 * DAY
    before = usdc.balanceOf(stakers[0])
    staking.claim(sender=stakers[0])
    assert usdc.balanceOf(stakers[0]) - before == _earned(100 * USDC, VESTING, 100 * WAD, 100 * WAD)
    assert staking.earned(stakers[0]) == 0


def test_unstake_returns_tokens_and_keeps_rewards(staking, router, payer, stakers, token, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    chain.pending_timestamp += 8 * DAY
    before = token.balanceOf(stakers[0])
    staking.unstake(40 * WAD, sender=stakers[0])
    assert token.balanceOf(stakers[0]) - before == 40 * WAD
    assert staking.earned(stakers[0]) == _earned(100 * USDC, VESTING, 100 * WAD, 100 * WAD)


def test_exit_unstakes_all_and_claims(staking, router, payer, stakers, token, usdc, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    chain.pending_timestamp += 8 * DAY
    tokens, cash = token.balanceOf(stakers[0]), usdc.balanceOf(stakers[0])
    staking.exit(sender=stakers[0])
    assert token.balanceOf(stakers[0]) - tokens == 100 * WAD
    assert usdc.balanceOf(stakers[0]) - cash == _earned(100 * USDC, VESTING, 100 * WAD, 100 * WAD)
    assert staking.balanceOf(stakers[0]) == 0


def test_stream_while_nobody_staked_goes_to_reserve(staking, router, payer, stakers, usdc, reserve, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    paid = router.pay(ORDER, 7_000 * USDC, sender=payer)
    left = staking.exit(sender=stakers[0])
    chain.pending_timestamp += 8 * DAY
    chain.mine()
    unallocated = staking.unallocated()
    # what streamed after the exit, to the stream's end
    rate = 700 * USDC * SCALE // VESTING
    assert unallocated == (paid.timestamp + VESTING - left.timestamp) * rate // SCALE
    before = usdc.balanceOf(reserve)
    staking.sweep_to_reserve(sender=stakers[1])
    assert usdc.balanceOf(reserve) - before == unallocated


def test_staking_does_not_change_others_rewards(staking, router, payer, stakers, chain):
    staking.stake(100 * WAD, sender=stakers[0])
    router.pay(ORDER, 1_000 * USDC, sender=payer)
    chain.pending_timestamp += DAY
    chain.mine()
    before = staking.earned(stakers[0])
    staking.stake(500 * WAD, sender=stakers[1])
    assert staking.earned(stakers[0]) == before


def test_zero_stake_rejected(staking, stakers, token):
    before = token.balanceOf(stakers[0])
    with ape.reverts("staking: zero amount"):
        staking.stake(0, sender=stakers[0])
    assert token.balanceOf(stakers[0]) == before


def test_zero_unstake_rejected(staking, stakers):
    staking.stake(WAD, sender=stakers[0])
    with ape.reverts("staking: zero amount"):
        staking.unstake(0, sender=stakers[0])
    assert staking.balanceOf(stakers[0]) == WAD


def test_unstake_more_than_staked_rejected(staking, stakers, token):
    staking.stake(5 * WAD, sender=stakers[0])
    before = token.balanceOf(stakers[0])
    with ape.reverts("staking: unstake exceeds stake"):
        staking.unstake(5 * WAD + 1, sender=stakers[0])
    assert token.balanceOf(stakers[0]) == before
    assert staking.balanceOf(stakers[0]) == 5 * WAD


def test_claim_with_nothing_accrued_rejected(staking, stakers):
    with ape.reverts("staking: nothing to claim"):
        staking.claim(sender=stakers[0])


def test_exit_without_stake_rejected(staking, stakers):
    with ape.reverts("staking: nothing staked"):
        staking.exit(sender=stakers[0])


def test_sweep_with_nothing_rejected(staking, stakers):
    with ape.reverts("staking: nothing to sweep"):
        staking.sweep_to_reserve(sender=stakers[0])


def test_only_router_notifies_revenue(staking, attacker, usdc):
    usdc.faucet(staking, 100 * USDC, sender=attacker)
    with ape.reverts("staking: caller is not the router or the reserve"):
        staking.notify_revenue(100 * USDC, sender=attacker)
    assert staking.reward_rate() == 0


def test_stake_beyond_balance_moves_nothing(staking, token, attacker):
    token.approve(staking, WAD, sender=attacker)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        staking.stake(WAD, sender=attacker)
    assert staking.total_staked() == 0
    assert staking.balanceOf(attacker) == 0


def test_just_in_time_stake_earns_at_most_its_share_of_the_elapsed_stream(staking, router, payer, stakers, usdc, chain):
    staking.stake(1_000 * WAD, sender=stakers[0])
    staking.stake(1_000 * WAD, sender=stakers[1])  # joins right before the payment
    receipt = router.pay(ORDER, 100_000 * USDC, sender=payer)  # 10,000 USDC to holders
    chain.pending_timestamp = receipt.timestamp + 3_600
    before = usdc.balanceOf(stakers[1])
    staking.exit(sender=stakers[1])
    harvested = usdc.balanceOf(stakers[1]) - before
    # half the stake, one hour of a seven-day stream: about 29.76 USDC, not 5,000
    assert harvested <= 10_000 * USDC * 3_600 // (7 * DAY) // 2
    assert harvested > 0


# ---------------------------------------------------------------- insiders (W3)


def test_merchant_cannot_stake_released_tokens(listing, staking, merchant, token):
    listing.release(merchant, merchant, 1_000 * WAD)
    token.approve(staking, 2**256 - 1, sender=merchant)
    with ape.reverts("staking: insiders cannot stake"):
        staking.stake(1_000 * WAD, sender=merchant)
    assert token.balanceOf(merchant) == 1_000 * WAD
    assert staking.balanceOf(merchant) == 0
    assert staking.total_staked() == 0


@pytest.mark.parametrize("who", ["vesting", "reserve"])
def test_insider_contracts_cannot_stake(listing, staking, token, accounts, networks, who):
    address = getattr(listing, who).address
    networks.provider.set_balance(address, 10**20)
    insider = accounts[address]
    token.approve(staking, 2**256 - 1, sender=insider)
    held = token.balanceOf(insider)
    assert held > 0
    with ape.reverts("staking: insiders cannot stake"):
        staking.stake(WAD, sender=insider)
    assert token.balanceOf(insider) == held
    assert staking.total_staked() == 0


def test_payout_address_cannot_stake(protocol, admin, merchant, usdc, accounts, networks):
    from ape_pst_plugin.deployment import create_listing

    payout = accounts.generate_test_account()
    networks.provider.set_balance(payout.address, 10**20)
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    listed = create_listing(protocol, admin, merchant=merchant, symbol="PAY", payout=payout.address)
    listed.release(merchant, payout, 500 * WAD)
    listed.token.approve(listed.staking, 2**256 - 1, sender=payout)
    with ape.reverts("staking: insiders cannot stake"):
        listed.staking.stake(500 * WAD, sender=payout)
    assert listed.token.balanceOf(payout) == 500 * WAD
    assert listed.staking.total_staked() == 0


def test_insiders_are_wired(listing, staking, merchant):
    assert staking.MERCHANT() == merchant.address
    assert staking.PAYOUT() == merchant.address
    assert staking.MERCHANT_VESTING() == listing.vesting.address
    assert staking.RESERVE() == listing.reserve.address


def test_a_holder_who_bought_from_the_merchant_can_stake(listing, staking, merchant, token, attacker):
    listing.release(merchant, attacker, 100 * WAD)
    token.approve(staking, 2**256 - 1, sender=attacker)
    staking.stake(100 * WAD, sender=attacker)
    assert staking.balanceOf(attacker) == 100 * WAD
