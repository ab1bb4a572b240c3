"""MerchantVesting (PROTOCOL.md, contracts): the merchant's 90% allocation;
25% releasable at listing, the rest linearly over 365 days, only the merchant
releases (to any address), vesting stops for good at the reserve's
`defaulted_at`. Tests jump up to a year on their own listings, so this module
runs last (conftest RUN_LAST)."""

import ape
import pytest

USDC = 10**6
WAD = 10**18
DAY = 86_400
YEAR = 365 * DAY
PERIOD = 30 * DAY
ALLOCATION = 900_000 * WAD
INITIAL = 225_000 * WAD
LINEAR = ALLOCATION - INITIAL
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture
def listed(protocol, admin, merchant, usdc):
    """A listing created now, nothing released yet."""
    from ape_pst_plugin.deployment import create_listing

    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    return create_listing(protocol, admin, merchant=merchant, symbol="VST")


def _at(chain, listed, seconds):
    chain.pending_timestamp = listed.vesting.START() + seconds
    chain.mine()


def _next_tx_at_listing(chain, listed):
    """The next transaction lands in the listing's second: nothing of the linear part vested yet."""
    chain.pending_timestamp = listed.vesting.START()


def test_vesting_holds_the_merchant_allocation(listed, merchant):
    vesting = listed.vesting
    assert listed.token.balanceOf(vesting) == vesting.ALLOCATION() == ALLOCATION
    assert (vesting.INITIAL_UNLOCK_BPS(), vesting.DURATION()) == (2_500, YEAR)
    assert vesting.START() == listed.router.START()
    assert listed.token.balanceOf(merchant) == 0


def test_a_quarter_is_releasable_at_listing(listed):
    assert listed.vesting.vested() == listed.vesting.releasable() == INITIAL
    assert listed.vesting.released() == 0


def test_merchant_releases_to_any_address(listed, merchant, attacker, chain):
    _next_tx_at_listing(chain, listed)
    receipt = listed.release(merchant, attacker, 1_000 * WAD)
    [event] = receipt.events.filter(listed.vesting.Released)
    assert (event.to, event.amount) == (attacker.address, 1_000 * WAD)
    assert listed.token.balanceOf(attacker) == 1_000 * WAD
    assert listed.vesting.released() == 1_000 * WAD
    assert listed.vesting.releasable() == INITIAL - 1_000 * WAD
    assert listed.token.balanceOf(listed.vesting) == ALLOCATION - 1_000 * WAD


def test_release_defaults_to_everything_releasable(listed, merchant, chain):
    _next_tx_at_listing(chain, listed)
    listed.release(merchant, merchant)
    assert listed.token.balanceOf(merchant) == INITIAL
    assert listed.vesting.releasable() == 0


@pytest.mark.parametrize("elapsed", [DAY, 100 * DAY, YEAR // 2, YEAR - 1])
def test_the_rest_vests_linearly(listed, chain, elapsed):
    _at(chain, listed, elapsed)
    assert listed.vesting.vested() == INITIAL + LINEAR * elapsed // YEAR


def test_everything_is_vested_after_a_year(listed, chain, merchant):
    _at(chain, listed, YEAR + 10 * DAY)
    assert listed.vesting.vested() == ALLOCATION
    listed.release(merchant, merchant)
    assert listed.token.balanceOf(merchant) == ALLOCATION
    assert listed.token.balanceOf(listed.vesting) == 0


def test_releasable_is_vested_less_released(listed, chain, merchant):
    _next_tx_at_listing(chain, listed)
    listed.release(merchant, merchant)
    _at(chain, listed, 73 * DAY)
    assert listed.vesting.releasable() == LINEAR * (73 * DAY) // YEAR


def test_more_than_releasable_rejected(listed, merchant, chain):
    _next_tx_at_listing(chain, listed)
    with ape.reverts("vesting: amount exceeds the releasable tokens"):
        listed.release(merchant, merchant, INITIAL + 1)
    assert listed.token.balanceOf(merchant) == 0
    assert listed.vesting.released() == 0


def test_only_the_merchant_releases(listed, attacker, payer):
    for caller in (attacker, payer):
        with ape.reverts("vesting: caller is not the merchant"):
            listed.vesting.release(caller, WAD, sender=caller)
        assert listed.token.balanceOf(caller) == 0
    assert listed.vesting.released() == 0


@pytest.mark.parametrize(
    "to, amount, reason", [(ZERO, WAD, "vesting: recipient is the zero address"), (None, 0, "vesting: zero amount")]
)
def test_release_bad_input(listed, merchant, to, amount, reason):
    with ape.reverts(reason):
        listed.vesting.release(to or merchant.address, amount, sender=merchant)
    assert listed.vesting.released() == 0
    assert listed.token.balanceOf(listed.vesting) == ALLOCATION


def test_release_never_moves_circulating_supply(listed, merchant, attacker):
    """Unvested tokens count as circulating (PE never moves with vesting); holder
    supply excludes the vesting contract's tokens."""
    oracle = listed.oracle
    assert (oracle.circulating_supply(), oracle.holder_supply()) == (ALLOCATION, 0)
    listed.release(merchant, attacker, 50_000 * WAD)
    assert (oracle.circulating_supply(), oracle.holder_supply()) == (ALLOCATION, 50_000 * WAD)


def test_vesting_stops_at_default(protocol, admin, merchant, usdc, payer, chain):
    from ape_pst_plugin.deployment import create_listing

    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    listed = create_listing(protocol, admin, merchant=merchant, symbol="DFT")  # nothing paid: three misses
    reserve = listed.reserve
    chain.pending_timestamp = listed.router.START() + 3 * PERIOD + 5 * DAY
    chain.mine()
    for _ in range(3):
        receipt = reserve.assess(sender=payer)
    assert reserve.status() == 2
    defaulted_at = reserve.defaulted_at()
    assert defaulted_at == receipt.timestamp
    frozen = INITIAL + LINEAR * (defaulted_at - listed.vesting.START()) // YEAR
    assert listed.vesting.vested() == frozen
    _at(chain, listed, YEAR + DAY)
    assert listed.vesting.vested() == frozen
    listed.release(merchant, merchant)
    assert listed.token.balanceOf(merchant) == frozen
    with ape.reverts("vesting: amount exceeds the releasable tokens"):
        listed.release(merchant, merchant, 1)
    assert listed.token.balanceOf(merchant) == frozen
