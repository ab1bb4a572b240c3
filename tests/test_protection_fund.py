"""The holder protection fund (PROTOCOL.md, "Holder protection fund"; threat
model: the merchant must not earn slash compensation with its own
allocation). Premiums arrive with every payment; a default opens the
listing's pot within its three caps (expected values from `pe.pot_size`,
the Python twin of `ProtectionFund._open_pot`) at a rate fixed for good;
holders hand in tokens for `amount * rate` inside the claim window; insiders
cannot claim and their tokens are frozen; coverage and stress breakers;
pause; parameters; who may call what; and the merchant's exit scam.

Every test runs on this module's protocol (fund 800,000 USDC, one agent
bonded 200,000 USDC) with two listings on live markets; each test's own
jumps and defaults are undone after it."""

import re

import ape
import pytest

from ape_pst_plugin import constants as k
from ape_pst_plugin import pe
from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.constants import BPS, DAY, DEFAULTED, LATE, PERIOD, WAD, YEAR
from ape_pst_plugin.deployment import (
    CONTRACTS_DIR,
    attest,
    create_listing,
    default_inputs,
    deploy_protocol,
    onboard_agent,
    top_up_fund,
)
from ape_pst_plugin.market import MarketPlan, open_market
from ape_pst_plugin.stabiliser_model import SLASH_BPS
from ape_pst_plugin.testing import fresh_account

USDC = 10**6
DECIMALS = 6
FUND = 800_000 * USDC
BOND = 200_000 * USDC
TARGET = 100_000 * USDC  # per period from period 1 on: nobody pays it, so each period is missed
PARAMS = ("cover_bps", "max_payout_bps", "per_listing_cap_bps", "claim_window", "min_coverage_bps", "stress_bps")
DEFAULTS = (5_000, 3_000, 1_000, YEAR, 1_000, 5_000)


@pytest.fixture(scope="module")
def owner():
    """Deploys and owns this module's protocol (the timelock's role)."""
    return fresh_account()


@pytest.fixture(scope="module")
def fp(owner, guardian, uniswap, usdc):
    """A protocol of this module: fund 800,000 USDC, one agent bonded 200,000 USDC."""
    protocol = deploy_protocol(owner, uniswap, usdc, guardian=guardian)
    onboard_agent(protocol, owner, fresh_account(), BOND)
    top_up_fund(protocol, owner, FUND)
    return protocol


def _open_markets(chain, protocol, owner, payer, trader, keeper, usdc, symbols):
    opened = []
    for symbol in symbols:
        merchant = fresh_account()
        plan = MarketPlan(revenue_target=TARGET)
        market = open_market(chain, protocol, owner, merchant, payer, trader, keeper, usdc, plan, symbol=symbol)
        market.merchant = merchant
        opened.append(market)
    return opened


@pytest.fixture(scope="module")
def markets(chain, fp, owner, payer, trader, keeper, usdc):
    """Two listings on live markets (the second opened 30 days after the
    first): pool 100,000 tokens / 200,000 USDC, the trader holds 100,000
    tokens, the merchant keeps 25,000 released tokens; target 100,000 USDC
    per period from period 1. ``market.merchant`` is the merchant's account."""
    return _open_markets(chain, fp, owner, payer, trader, keeper, usdc, ("PFA", "PFB"))


@pytest.fixture
def m(markets):
    return markets[0]


@pytest.fixture(scope="module")
def small(chain, owner, guardian, uniswap, usdc, payer, trader, keeper):
    """A second protocol whose fund is 250,000 USDC (coverage 12.5% with its
    two listings), for the fund-wide cap: (protocol, fund, markets)."""
    protocol = deploy_protocol(owner, uniswap, usdc, guardian=guardian)
    onboard_agent(protocol, owner, fresh_account(), BOND)
    top_up_fund(protocol, owner, 250_000 * USDC)
    opened = _open_markets(chain, protocol, owner, payer, trader, keeper, usdc, ("SMA", "SMB"))
    return protocol, protocol.fund, opened


@pytest.fixture
def fund(fp):
    return fp.fund


# ---------------------------------------------------------------- helpers


def _jump(m, period):
    """To a minute into the listing's `period` (never back)."""
    chain = m.chain
    chain.pending_timestamp = max(m.listing.router.START() + period * PERIOD + 60, chain.blocks.head.timestamp + 1)
    chain.mine()


def _late(m):
    """Period 0 met (the history), period 1 missed: LATE at the oracle's TWAP."""
    _jump(m, 2)
    m.reserve.assess(sender=m.keeper)
    m.reserve.assess(sender=m.keeper)
    assert m.reserve.status() == LATE


def _brink(m):
    """Two misses in a row: the next assess defaults the listing."""
    _jump(m, 4)
    while m.reserve.consecutive_misses() < 2:
        m.reserve.assess(sender=m.keeper)
    assert m.reserve.status() == LATE


def _default(m):
    """Defaults the listing (third miss); returns the receipt of that assess."""
    _brink(m)
    receipt = m.reserve.assess(sender=m.keeper)
    assert m.reserve.status() == DEFAULTED
    return receipt


def _expected_pot(fp, m):
    """The pot the listing's default opens, from the state just before it
    (at the brink): earmarks (the stake left after the third slash and the
    agent's slash; `kept`: the part the pot keeps), loss base, stake cap,
    the four caps on the fund's part, rate."""
    fund, reserve, registry = fp.fund, m.reserve, fp.registry
    stake = reserve.stake()
    pulled = stake - stake * SLASH_BPS // BPS + registry.bond(fp.agent) * registry.agent_slash_bps() // BPS
    holders = fund.covered_tokens(m.listing.id)
    loss = pe.loss_base(reserve.reference_price(), holders, DECIMALS)
    cap = pe.stake_cap(reserve.LISTING_STAKE(), m.listing.vesting.released(), holders)
    p = fund.params()
    free, committed = fund.free_fund(), fund.committed()
    args = (pulled, loss, free, committed, cap, p.cover_bps, p.max_payout_bps, p.per_listing_cap_bps)
    amount, kept, from_fund = pe.pot_size(*args)
    cover, stake_left, aggregate, per_listing = pe.pot_caps(*args)
    return dict(
        amount=amount,
        pulled=pulled,
        earmarked=kept,
        from_fund=from_fund,
        loss_base=loss,
        covered_tokens=holders,
        rate=pe.pot_rate(amount, holders),
        free_before=free,
        committed=committed,
        stake_cap=cap,
        earmarks_to_fund=pulled - kept,
        cover=cover,
        stake=stake_left,
        aggregate=aggregate,
        per_listing=per_listing,
    )


def _pot(fund, m):
    pot = fund.pots(m.listing.id)
    return {
        name: getattr(pot, name) for name in ("amount", "earmarked", "from_fund", "loss_base", "covered_tokens")
    } | {"rate": pot.rate}


def _set(fund, owner, **changes):
    p = fund.params()
    fund.set_parameters(tuple(changes.get(name, getattr(p, name)) for name in PARAMS), sender=owner)


def _claim(fund, m, holder, amount, *receiver):
    m.token.approve(fund, amount, sender=holder)
    return fund.claim(m.listing.id, amount, *receiver, sender=holder)


def _wants_to_buy(fp, m, owner):
    """Fresh verified revenue and TWAP, and a band above the PE: `stabilise` would buy."""
    attest(fp, m.merchant, default_inputs(100_000 * USDC))
    m.observe()
    price_earnings = m.oracle.pe()
    m.reserve.set_band(price_earnings + WAD, price_earnings + 10 * WAD, sender=owner)


# ---------------------------------------------------------------- constants


def test_python_fund_constants_are_the_contracts():
    source = (CONTRACTS_DIR / "modules" / "constants.vy").read_text()
    section = source[source.index("# holder protection fund") :]
    found = dict(re.findall(r"^([A-Z_]+): constant\(uint256\) = (.+)$", section, re.M))
    assert len(found) == 17
    for name, expression in found.items():
        assert getattr(k, name) == eval(expression, {"DAY": DAY, "YEAR": YEAR}), name


# ---------------------------------------------------------------- premiums


def test_premium_of_each_payment_goes_to_the_fund(fp, fund, m, payer, usdc):
    router = m.listing.router
    premium_bps = router.PREMIUM_BPS()
    assert premium_bps == uw.TERMS_TABLE[1][3]  # the market's merchant is grade A
    gross = 12_345_678_901
    holder = gross * router.share_bps() // BPS
    usdc.faucet(payer, gross, sender=payer)
    fund_before, merchant_before = usdc.balanceOf(fund), usdc.balanceOf(m.merchant)
    receipt = router.pay(b"\x01" * 32, gross, sender=payer)
    premium = pe.premium(gross, premium_bps)
    assert usdc.balanceOf(fund) - fund_before == premium
    assert usdc.balanceOf(m.merchant) - merchant_before == gross - holder - premium
    [event] = receipt.events.filter(router.Payment)
    assert (event.gross, event.holder_share, event.premium) == (gross, holder, premium)


# ---------------------------------------------------------------- opening a pot


def _opens_as_expected(fp, fund, m, binds):
    """Defaults the listing at its brink; the event and the stored pot are
    `_expected_pot`'s, and the cap named `binds` is the fund's part."""
    _brink(m)
    expected = _expected_pot(fp, m)
    others = [expected[name] for name in ("cover", "stake", "aggregate", "per_listing") if name != binds]
    assert expected[binds] < min(others)
    receipt = m.reserve.assess(sender=m.keeper)
    [event] = receipt.events.filter(fund.PotOpened)
    fields = ("amount", "earmarked", "from_fund", "loss_base", "covered_tokens", "rate", "free_before")
    fields += ("stake_cap", "earmarks_to_fund")
    assert event.id == m.listing.id
    assert {name: getattr(event, name) for name in fields} == {name: expected[name] for name in fields}
    assert event.from_fund == expected[binds]
    assert _pot(fund, m) == {name: expected[name] for name in _pot(fund, m)}
    assert fund.pots(m.listing.id).opened_at == receipt.timestamp
    return expected


def test_default_opens_the_pot_held_to_the_stake_cap(fp, fund, m):
    """This module's merchant released more tokens than its holders hold:
    the pot is its listing-time stake, earmarks included."""
    expected = _opens_as_expected(fp, fund, m, "stake")
    assert m.listing.vesting.released() >= expected["covered_tokens"]
    assert expected["amount"] == expected["stake_cap"] == m.reserve.LISTING_STAKE()


def test_pot_held_to_the_per_listing_cap(fp, fund, m, owner):
    _set(fund, owner, per_listing_cap_bps=100)
    _opens_as_expected(fp, fund, m, "per_listing")


def test_pot_held_to_the_cover(fp, fund, m, owner):
    _set(fund, owner, cover_bps=2_400)
    expected = _opens_as_expected(fp, fund, m, "cover")
    assert expected["amount"] == expected["loss_base"] * 2_400 // BPS  # earmarks included


def test_earmarks_above_the_stake_cap_join_the_free_fund(fp, fund, m, owner):
    """An agent slash of 50% makes the earmarks (51,200 of stake + 100,000
    of bond) exceed the stake cap (100,000): the pot keeps the cap, the fund
    adds nothing and the rest of the earmarks becomes free fund, not a
    windfall for the holders."""
    fp.registry.set_agent_slash_bps(5_000, sender=owner)
    _brink(m)
    expected = _expected_pot(fp, m)
    assert expected["pulled"] > expected["stake_cap"]
    free = fund.free_fund()
    [event] = m.reserve.assess(sender=m.keeper).events.filter(fund.PotOpened)
    assert (event.amount, event.earmarked, event.from_fund) == (expected["stake_cap"], expected["stake_cap"], 0)
    assert event.earmarks_to_fund == expected["pulled"] - expected["stake_cap"] > 0
    assert fund.free_fund() - free == event.earmarks_to_fund
    assert fund.locked() == event.amount


def test_earmarks_leave_the_reserve_and_the_registry_for_the_pot(fp, fund, m, usdc):
    _brink(m)
    expected = _expected_pot(fp, m)
    balance = usdc.balanceOf(fund)
    m.reserve.assess(sender=m.keeper)
    assert (m.reserve.held_for_fund(), fp.registry.held_for_pot(m.reserve)) == (0, 0)
    assert usdc.balanceOf(fund) - balance == expected["earmarked"]
    assert fund.locked() == expected["amount"]
    assert fund.free_fund() == expected["free_before"] - expected["from_fund"]


def test_pot_opens_once(fund, m, trader):
    _default(m)
    with ape.reverts("fund: pot already open"):
        fund.open_pot(m.listing.id, sender=trader)


def test_open_pot_refuses_a_live_listing(fund, m, trader):
    with ape.reverts("fund: listing has not defaulted"):
        fund.open_pot(m.listing.id, sender=trader)


# ---------------------------------------------------------------- the rate


def _top_up(fp, markets, owner, trader):
    top_up_fund(fp, owner, 1_000_000 * USDC)


def _claim_some(fp, markets, owner, trader):
    _claim(fp.fund, markets[0], trader, 30_000 * WAD)


def _other_default(fp, markets, owner, trader):
    _default(markets[1])


@pytest.mark.parametrize("event", [_claim_some, _top_up, _other_default], ids=["claim", "top-up", "other default"])
def test_rate_never_changes_after_opening(fp, fund, markets, owner, trader, event):
    _default(markets[0])
    pot = _pot(fund, markets[0])
    event(fp, markets, owner, trader)
    assert _pot(fund, markets[0]) == pot


# ---------------------------------------------------------------- claims


def test_claim_pays_amount_times_rate_and_keeps_the_tokens(fund, m, trader, usdc):
    _default(m)
    rate = fund.pots(m.listing.id).rate
    amount = 12_345 * WAD + 678
    cash, tokens, locked = usdc.balanceOf(trader), m.token.balanceOf(fund), fund.locked()
    receipt = _claim(fund, m, trader, amount)
    paid = pe.claim_payment(amount, rate)
    assert receipt.return_value == paid > 0
    assert usdc.balanceOf(trader) - cash == paid
    assert m.token.balanceOf(fund) - tokens == amount
    assert locked - fund.locked() == paid
    [event] = receipt.events.filter(fund.Claimed)
    assert (event.id, event.holder, event.receiver, event.tokens, event.paid) == (
        m.listing.id,
        trader,
        trader,
        amount,
        paid,
    )


def test_claim_pays_the_receiver_named(fund, m, trader, usdc):
    _default(m)
    receiver = fresh_account()
    receipt = _claim(fund, m, trader, 1_000 * WAD, receiver)
    assert (
        usdc.balanceOf(receiver) == receipt.return_value == pe.claim_payment(1_000 * WAD, fund.pots(m.listing.id).rate)
    )


def test_partial_claims_add_up(fund, m, trader, usdc):
    _default(m)
    rate = fund.pots(m.listing.id).rate
    parts = [1, 7 * WAD + 3, 40_000 * WAD]
    paid = [_claim(fund, m, trader, part).return_value for part in parts]
    assert paid == [pe.claim_payment(part, rate) for part in parts]
    pot = fund.pots(m.listing.id)
    assert (pot.claimed_tokens, pot.paid) == (sum(parts), sum(paid))
    assert fund.locked() == pot.amount - sum(paid)


def test_claims_beyond_the_covered_tokens_revert(fund, m, trader):
    _default(m)
    covered = fund.pots(m.listing.id).covered_tokens
    _claim(fund, m, trader, 10_000 * WAD)
    with ape.reverts("fund: claim exceeds the covered tokens"):
        _claim(fund, m, trader, covered - 10_000 * WAD + 1)
    assert fund.pots(m.listing.id).claimed_tokens == 10_000 * WAD


def test_insiders_cannot_claim(fund, m):
    _default(m)
    with ape.reverts("fund: insiders cannot claim"):
        fund.claim(m.listing.id, 1, sender=m.merchant)


def test_merchant_tokens_are_frozen_after_default(m):
    _default(m)
    assert m.token.balanceOf(m.merchant) > 0
    with ape.reverts("token: account frozen after default"):
        m.token.transfer(fresh_account(), 1, sender=m.merchant)


def test_frozen_tokens_cannot_be_pulled_either(m, trader):
    m.token.approve(trader, 2**256 - 1, sender=m.merchant)
    _default(m)
    with ape.reverts("token: account frozen after default"):
        m.token.transferFrom(m.merchant, trader, 1, sender=trader)


def test_claim_before_default_reverts(fund, m, trader):
    with ape.reverts("fund: no open pot for this listing"):
        _claim(fund, m, trader, WAD)


def test_claim_after_the_window_reverts(fund, m, trader, chain):
    _default(m)
    pot = fund.pots(m.listing.id)
    chain.pending_timestamp = pot.opened_at + fund.params().claim_window
    with ape.reverts("fund: claim window closed"):
        _claim(fund, m, trader, WAD)


def test_claim_in_the_last_second_of_the_window_pays(fund, m, trader, chain):
    _default(m)
    pot = fund.pots(m.listing.id)
    m.token.approve(fund, WAD, sender=trader)
    chain.pending_timestamp = pot.opened_at + fund.params().claim_window - 1
    assert fund.claim(m.listing.id, WAD, sender=trader).return_value == pe.claim_payment(WAD, pot.rate)


# ---------------------------------------------------------------- closing a pot


def test_close_pot_inside_the_window_reverts(fund, m, trader, chain):
    _default(m)
    chain.pending_timestamp = fund.pots(m.listing.id).opened_at + fund.params().claim_window - 1
    with ape.reverts("fund: claim window still open"):
        fund.close_pot(m.listing.id, sender=trader)


def test_close_pot_after_the_window_returns_the_rest_to_the_free_fund(fund, m, trader, chain):
    _default(m)
    paid = _claim(fund, m, trader, 50_000 * WAD).return_value
    pot = fund.pots(m.listing.id)
    free, committed = fund.free_fund(), fund.committed()
    chain.pending_timestamp = pot.opened_at + fund.params().claim_window
    receipt = fund.close_pot(m.listing.id, sender=trader)
    assert receipt.return_value == pot.amount - paid
    assert fund.free_fund() - free == pot.amount - paid
    assert (fund.locked(), committed - fund.committed(), fund.open_pot_count()) == (0, pot.from_fund, 0)
    [event] = receipt.events.filter(fund.PotClosed)
    assert (event.id, event.returned) == (m.listing.id, pot.amount - paid)


def test_close_pot_twice_reverts(fund, m, trader, chain):
    _default(m)
    chain.pending_timestamp = fund.pots(m.listing.id).opened_at + fund.params().claim_window
    fund.close_pot(m.listing.id, sender=trader)
    with ape.reverts("fund: pot already closed"):
        fund.close_pot(m.listing.id, sender=trader)


# ---------------------------------------------------------------- coverage breaker


def _short_coverage(fund, owner):
    """cover_bps 100% and minimum coverage 50%: the fund covers two listings at 20%."""
    _set(fund, owner, cover_bps=10_000, min_coverage_bps=5_000)
    coverage = pe.coverage_bps(fund.free_fund(), fund.covered_market_cap(), 10_000)
    assert fund.coverage_bps() == coverage < 5_000
    # the free fund that makes coverage exactly 50%
    return -(-5_000 * fund.covered_market_cap() * 10_000 // BPS**2) - fund.free_fund()


def test_factory_refuses_listings_under_minimum_coverage(fp, fund, markets, owner, usdc):
    shortfall = _short_coverage(fund, owner)
    top_up_fund(fp, owner, shortfall - 1)
    assert not fund.can_list()
    merchant = fresh_account()
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    with ape.reverts("factory: protection fund under minimum coverage"):
        create_listing(fp, owner, merchant=merchant, symbol="NO")


def test_factory_lists_again_after_a_top_up(fp, fund, markets, owner, usdc):
    shortfall = _short_coverage(fund, owner)
    top_up_fund(fp, owner, shortfall)
    assert fund.coverage_bps() == 5_000 and fund.can_list()
    merchant = fresh_account()
    usdc.faucet(merchant, 1_000_000 * USDC, sender=merchant)
    listed = create_listing(fp, owner, merchant=merchant, symbol="YES")
    assert fund.listings(listed.id).reserve == listed.reserve.address


# ---------------------------------------------------------------- stress breaker


def test_late_listing_counts_its_loss_base_towards_stress(fund, m):
    _late(m)
    loss = pe.loss_base(m.reserve.reference_price(), fund.covered_tokens(m.listing.id), DECIMALS)
    assert 0 < loss < fund.free_fund()
    assert fund.late_loss_total() == fund.listings(m.listing.id).late_loss_base == loss


def test_reserves_refuse_buys_while_the_fund_is_in_stress(fp, fund, markets, owner):
    late, other = markets
    _set(fund, owner, stress_bps=1_000)
    _late(late)
    assert fund.in_stress() == pe.in_stress(fund.late_loss_total(), fund.free_fund(), 5_000, 1_000) is True
    _wants_to_buy(fp, other, owner)
    with ape.reverts("reserve: protection fund in stress, no buys"):
        other.reserve.stabilise(sender=other.keeper)


def test_reserves_buy_again_when_stress_clears(fp, fund, markets, owner):
    late, other = markets
    _set(fund, owner, stress_bps=1_000)
    _late(late)
    # the free fund that just clears stress: cover * loss == stress * free
    needed = -(-fund.late_loss_total() * 5_000 // 1_000)
    top_up_fund(fp, owner, needed - fund.free_fund())
    assert fund.in_stress() == pe.in_stress(fund.late_loss_total(), fund.free_fund(), 5_000, 1_000) is False
    _wants_to_buy(fp, other, owner)
    assert other.reserve.stabilise(sender=other.keeper).events.filter(other.reserve.Bought)


def test_a_met_period_clears_the_late_loss_base(fp, fund, m, payer, usdc):
    _late(m)
    attest(fp, m.merchant, default_inputs(200_000 * USDC))  # caps period 3
    _jump(m, 3)
    usdc.faucet(payer, TARGET, sender=payer)
    m.listing.router.pay(b"\x02" * 32, TARGET, sender=payer)
    _jump(m, 4)
    m.reserve.assess(sender=m.keeper)  # period 2: missed
    m.reserve.assess(sender=m.keeper)  # period 3: met
    assert fund.late_loss_total() == fund.listings(m.listing.id).late_loss_base == 0


# ---------------------------------------------------------------- pause


def test_paused_fund_opens_no_pot_at_default(fund, m, guardian):
    fund.pause(sender=guardian)
    _default(m)
    assert fund.pots(m.listing.id).opened_at == 0
    with ape.reverts("pausable: contract is paused"):
        fund.open_pot(m.listing.id, sender=guardian)


def test_guardian_cannot_unpause(fund, guardian):
    fund.pause(sender=guardian)
    with ape.reverts("ownable: caller is not the owner"):
        fund.unpause(sender=guardian)


def test_open_pot_after_the_owner_unpauses(fp, fund, m, guardian, owner, trader):
    fund.pause(sender=guardian)
    _brink(m)
    expected = _expected_pot(fp, m)
    m.reserve.assess(sender=m.keeper)
    fund.unpause(sender=owner)
    fund.open_pot(m.listing.id, sender=trader)
    assert _pot(fund, m) == {name: expected[name] for name in _pot(fund, m)}


def test_claims_go_on_while_paused(fund, m, guardian, trader):
    _default(m)
    fund.pause(sender=guardian)
    assert _claim(fund, m, trader, WAD).return_value == pe.claim_payment(WAD, fund.pots(m.listing.id).rate)


# ---------------------------------------------------------------- parameters


def test_default_parameters(fund):
    assert tuple(fund.params()) == DEFAULTS


def test_parameters_at_their_bounds_are_accepted(fund, owner):
    lows = (1_000, 500, 100, 30 * DAY, 0, 1_000)
    highs = (10_000, 5_000, 5_000, 3 * YEAR, 5_000, 10_000)
    for bounds in (lows, highs):
        receipt = fund.set_parameters(bounds, sender=owner)
        assert tuple(fund.params()) == bounds
        [event] = receipt.events.filter(fund.ParametersChanged)
        assert tuple(getattr(event, name) for name in PARAMS) == bounds


OUT_OF_BOUNDS = [
    ("cover_bps", 999),
    ("cover_bps", 10_001),
    ("max_payout_bps", 499),
    ("max_payout_bps", 5_001),
    ("per_listing_cap_bps", 99),
    ("per_listing_cap_bps", 3_001),  # above max_payout_bps (3,000)
    ("claim_window", 30 * DAY - 1),
    ("claim_window", 3 * YEAR + 1),
    ("min_coverage_bps", 5_001),
    ("stress_bps", 999),
    ("stress_bps", 10_001),
]


@pytest.mark.parametrize("name, value", OUT_OF_BOUNDS, ids=[f"{n}={v}" for n, v in OUT_OF_BOUNDS])
def test_parameters_out_of_bounds_revert(fund, owner, name, value):
    with ape.reverts(f"fund: {name} out of bounds"):
        _set(fund, owner, **{name: value})
    assert tuple(fund.params()) == DEFAULTS


def test_only_the_owner_sets_parameters(fund, guardian):
    with ape.reverts("ownable: caller is not the owner"):
        fund.set_parameters(DEFAULTS, sender=guardian)


# ---------------------------------------------------------------- access control


def _callers(fp, m):
    zero = "0x" + "00" * 20
    fund = fp.fund
    return {
        "cover_listing": (
            lambda s: fund.cover_listing(9, zero, zero, s, zero, zero, 1, sender=s),
            "fund: caller is not the factory",
        ),
        "report_late": (lambda s: fund.report_late(WAD, sender=s), "fund: caller is not a covered reserve"),
        "report_default": (lambda s: fund.report_default(sender=s), "fund: caller is not a covered reserve"),
        "release_held": (lambda s: fp.registry.release_held(m.reserve, sender=s), "registry: caller is not the fund"),
        "release_to_fund": (lambda s: m.reserve.release_to_fund(sender=s), "reserve: caller is not the fund"),
        "pause": (lambda s: fund.pause(sender=s), "fund: caller is not the guardian"),
    }


@pytest.mark.parametrize(
    "name", ["cover_listing", "report_late", "report_default", "release_held", "release_to_fund", "pause"]
)
def test_outsiders_cannot_call(fp, m, attacker, name):
    call, reason = _callers(fp, m)[name]
    with ape.reverts(reason):
        call(attacker)


def test_the_merchant_is_not_its_reserve(fund, m):
    with ape.reverts("fund: caller is not a covered reserve"):
        fund.report_late(WAD, sender=m.merchant)


# ---------------------------------------------------------------- the merchant's exit scam
# The merchant lists, keeps its released tokens, pays nothing on purpose for three periods and
# tries to be paid out of the pot.


def test_exit_scam_merchant_cannot_claim_directly(fund, m):
    _default(m)
    tokens = m.token.balanceOf(m.merchant)
    m.token.approve(fund, tokens, sender=m.merchant)
    with ape.reverts("fund: insiders cannot claim"):
        fund.claim(m.listing.id, tokens, sender=m.merchant)


def test_exit_scam_merchant_cannot_move_its_tokens_after_default(fund, m):
    _default(m)
    sybil = fresh_account()
    with ape.reverts("token: account frozen after default"):
        m.token.transfer(sybil, m.token.balanceOf(m.merchant), sender=m.merchant)
    assert m.token.balanceOf(sybil) == 0


def test_exit_scam_vested_tokens_cannot_be_released_to_a_fresh_address_after_default(fund, m):
    _default(m)
    assert m.listing.vesting.releasable() > 0
    with ape.reverts("vesting: after default only to the merchant"):
        m.listing.release(m.merchant, fresh_account())


def test_exit_scam_in_numbers(fp, fund, m, trader, usdc):
    """What the merchant loses and what the pot pays the real holders: the
    whole listing-time stake is gone (slashed to stakers or earmarked for the
    pot), the merchant recovers nothing (every route above reverts), and the
    pot pays each real holder its tokens times the rate: all of the covered
    tokens together get the pot (less rounding)."""
    stake = m.reserve.LISTING_STAKE()
    cash = usdc.balanceOf(m.merchant)
    _brink(m)
    expected = _expected_pot(fp, m)
    m.reserve.assess(sender=m.keeper)
    pot = fund.pots(m.listing.id)
    assert m.reserve.stake() == 0 and usdc.balanceOf(m.merchant) == cash
    assert pot.earmarked == expected["earmarked"]
    tokens = m.token.balanceOf(trader)
    paid = _claim(fund, m, trader, tokens).return_value
    assert paid == pe.claim_payment(tokens, pot.rate)
    # all covered tokens together are paid the whole pot, less at most 1 unit of rounding
    assert 0 <= pot.amount - pe.claim_payment(pot.covered_tokens, pot.rate) <= 1
    print(
        f"\nexit scam: stake lost {stake / USDC:,.0f} USDC; pot {pot.amount / USDC:,.2f} USDC "
        f"({pot.earmarked / USDC:,.2f} earmarked, {pot.from_fund / USDC:,.2f} from the fund) over "
        f"{pot.covered_tokens / WAD:,.0f} covered tokens: {pot.rate / 10**24:,.6f} USDC per token; "
        f"the trader's {tokens / WAD:,.0f} tokens paid {paid / USDC:,.2f} USDC; the merchant recovered 0"
    )


def test_exit_scam_tokens_moved_before_default_no_longer_pay(fp, fund, m, trader):
    """The route review found: before the third miss the merchant releases
    everything vested and moves it, with the released tokens it kept, to a
    fresh address, which claims them at the pot's rate as a holder. Before
    the stake cap, with a large fund the merchant netted +146,919.09 USDC
    over the stake it lost. Now the pot is at most `stake * H / min(released,
    H)`: whatever it moved, the merchant claims back at most its listing
    stake (and it also forfeits its unvested tokens). What remains: its
    tokens dilute the real holders' rate."""
    stake = m.reserve.LISTING_STAKE()
    _brink(m)
    honest = _expected_pot(fp, m)  # the pot had the merchant kept its tokens
    sybil = fresh_account()
    m.listing.release(m.merchant, sybil)
    m.token.transfer(sybil, m.token.balanceOf(m.merchant), sender=m.merchant)
    moved = m.token.balanceOf(sybil)
    expected = _expected_pot(fp, m)
    assert expected["covered_tokens"] == honest["covered_tokens"] + moved
    assert moved <= m.listing.vesting.released()  # released tokens, now outside the insiders
    m.reserve.assess(sender=m.keeper)
    pot = fund.pots(m.listing.id)
    assert (pot.amount, pot.rate) == (expected["amount"], expected["rate"])
    recovered = _claim(fund, m, sybil, moved).return_value
    assert recovered == pe.claim_payment(moved, expected["rate"])
    vesting = m.listing.vesting
    forfeited = vesting.ALLOCATION() - vesting.released()
    forfeited_value = pe.loss_base(m.reserve.reference_price(), forfeited, DECIMALS)
    holder_tokens = m.token.balanceOf(trader)
    diluted = pe.claim_payment(holder_tokens, honest["rate"]) - pe.claim_payment(holder_tokens, expected["rate"])
    print(
        f"\nmoved before default: {moved / WAD:,.0f} "
        f"tokens (H {honest['covered_tokens'] / WAD:,.0f} -> {pot.covered_tokens / WAD:,.0f}); pot "
        f"{honest['amount'] / USDC:,.2f} -> {pot.amount / USDC:,.2f} USDC; merchant recovers "
        f"{recovered / USDC:,.2f} USDC of its {stake / USDC:,.0f} stake (net {(recovered - stake) / USDC:+,.2f}) "
        f"and forfeits {forfeited / WAD:,.0f} unvested tokens ({forfeited_value / USDC:,.2f} USDC at the "
        f"reference price); the trader's {holder_tokens / WAD:,.0f} tokens are paid {diluted / USDC:,.2f} USDC less"
    )
    assert recovered <= stake  # the scam never pays back more than the stake lost
    assert expected["stake"] == expected["from_fund"]
    assert diluted > 0  # what is left: the moved tokens share the pot with the real holders


# ---------------------------------------------------------------- a second protocol (last: its fixture)


def test_second_pot_is_held_to_the_aggregate_cap(small, owner):
    """A fund of 250,000 USDC with `max_payout_bps` 5%: after the first
    pot commits the fund's part, the second gets what is left of 5%."""
    fp, fund, (first, second) = small
    _set(fund, owner, max_payout_bps=500, per_listing_cap_bps=500)
    _default(first)
    committed = fund.committed()
    assert committed == fund.pots(first.listing.id).from_fund > 0
    expected = _opens_as_expected(fp, fund, second, "aggregate")
    assert expected["committed"] == committed
    assert fund.committed() == committed + expected["aggregate"]
