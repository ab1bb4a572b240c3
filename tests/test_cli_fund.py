"""`ape pst fund` and `ape pst claim` on the test chain: the fund's figures and a defaulted
listing's pot as the contracts hold them (exact, in --json), a claim paid at the pot's rate,
and bad claims as one line on stderr."""

import pytest
from test_cli import assert_one_line_error, run, run_json, units

from ape_pst_plugin import registry

USDC = 10**6
WAD = 10**18
PERIOD = 30 * 86_400
RATE_SCALE = 10**36


@pytest.fixture
def defaulted(record, protocol, defaulted_listing):
    """`defaulted_listing`, with this network's record pointing at its protocol."""
    registry.save_record({"factory": protocol.factory.address, "uniswap_router": protocol.uniswap.router.address})
    return defaulted_listing


def test_fund_shows_the_fund_as_the_contract_holds_it(defaulted, listing, protocol, usdc):
    out = run_json("fund")
    fund = protocol.fund
    assert out["address"] == fund.address
    assert units(out["balance"], 6) == usdc.balanceOf(fund)
    assert units(out["free_fund"], 6) == fund.free_fund()
    assert units(out["owed_by_open_pots"], 6) == fund.locked()
    # the session's listing is live: coverage is defined (the defaulted one no longer counts)
    assert out["coverage_bps"] == fund.coverage_bps() < 2**256 - 1
    assert out["listing_allowed"] is True
    assert out["in_stress"] is False and out["cover_bps"] == 5_000 and out["claim_window_days"] == 365


def test_fund_lists_the_defaulted_listings_pot_with_its_exact_rate(defaulted, protocol):
    [pot] = [p for p in run_json("fund")["pots"] if p["listing"] == defaulted.id]
    onchain = protocol.fund.pots(defaulted.id)
    assert pot["symbol"] == "DFT"
    assert units(pot["pot"], 6) == onchain.amount
    assert units(pot["earmarked"], 6) == onchain.earmarked
    assert units(pot["covered_tokens"], 18) == onchain.covered_tokens == 1_000 * WAD
    # settlement per whole token, exact: the contract's rate is per token wei times 1e36
    assert units(pot["rate_per_token"], 18 + 6) == onchain.rate
    assert pot["window_ends_at"] == onchain.opened_at + 365 * 86_400


def test_claim_pays_the_amount_times_the_rate(defaulted, protocol, usdc, accounts):
    fund, holder = protocol.fund, accounts[0]
    before = usdc.balanceOf(holder), defaulted.token.balanceOf(fund)
    out = run_json("claim", "DFT", "250.5")
    expected = 250_500 * WAD // 1_000 * fund.pots(defaulted.id).rate // RATE_SCALE
    assert units(out["tokens_handed_in"], 18) == 250_500 * WAD // 1_000
    assert units(out["paid"], 6) == expected == usdc.balanceOf(holder) - before[0] > 0
    assert defaulted.token.balanceOf(fund) - before[1] == 250_500 * WAD // 1_000


def test_claim_to_another_receiver(defaulted, protocol, usdc, accounts):
    receiver = accounts[5]
    before = usdc.balanceOf(receiver)
    out = run_json("claim", str(defaulted.id), "10", "--receiver", receiver.address)
    assert out["receiver"] == receiver.address
    assert usdc.balanceOf(receiver) - before == units(out["paid"], 6) > 0


def test_claim_on_a_live_listing_is_one_line(known):
    assert_one_line_error(run("claim", "ACME", "1"), "ACME has no open pot")


def test_claim_above_the_holding_is_one_line(defaulted):
    assert_one_line_error(run("claim", "DFT", "1000.000000000000000001"), "holds less than 1000.000000000000000001 DFT")
