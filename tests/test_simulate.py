"""Every `ape pst simulate` scenario, in a short form, on the mainnet stand-in
(marked `fork`: `make test` runs them with --network
ethereum:mainnet-fork:foundry after `ape pst fork start`). Each asserts the
outcome the scenario exists to show, from the chain's own events and views."""

import csv

import pytest

from ape_pst_plugin.constants import ACTIVE, DAY, HOUR, LATE
from ape_pst_plugin.report import COLUMNS, write_report
from ape_pst_plugin.simulate import WAD, run

pytestmark = pytest.mark.fork


def _buys(result):
    return [t for t in result.trades if t["kind"] == "buy"]


def _sells(result):
    return [t for t in result.trades if t["kind"] == "sell"]


def test_selloff_reserve_buys_back_to_pe_low_without_overshoot(tmp_path):
    result = run("selloff", days=4, seed=1)
    rows, pe_low = result.rows, result.pe_low
    # the panic did push the PE down towards 4 (else the test proves nothing)
    assert min(r.pe for r in rows if r.pe) < 5 * WAD
    assert _buys(result) and not _sells(result)
    for buy in _buys(result):
        assert buy["pe"] < pe_low  # S1: buys only below the band
        assert buy["spot_after"] <= buy["target"] + 1  # S2: never lifts the spot above P_low
    # once the panic is over and capacity allows, the PE is back at 8
    assert any(r.pe >= pe_low for r in rows if r.hour > 12 and r.pe)
    # the merchant stake is not the stabiliser's money
    assert all(r.stake == result.start_stake for r in rows)
    # buys stop at capacity: the keeper is refused, the reserve does not overspend
    assert any("capacity" in r["reason"] for r in result.refusals)

    paths = write_report(result, tmp_path)
    with paths["series"].open() as f:
        series = list(csv.DictReader(f))
    assert tuple(series[0]) == COLUMNS
    assert len(series) == 4 * 24 + 1
    assert sum(row["trade"] == "buy" for row in series) == len(_buys(result))
    for name in ("price", "pe", "reserve"):
        assert paths[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = paths["report"].read_text()
    assert f"{len(_buys(result))} buys" in report and "![price](price.png)" in report


def test_mania_reserve_sells_inventory_down_to_pe_high():
    result = run("mania", days=4, seed=1)
    assert max(r.pe for r in result.rows if r.pe) > 25 * WAD
    assert _sells(result) and not _buys(result)
    for sell in _sells(result):
        assert sell["pe"] > result.pe_high  # S1
        assert sell["spot_after"] >= sell["target"] - 1  # S2: never pushes the spot below P_high
    assert result.rows[-1].inventory < result.start_inventory
    assert all(r.stake == result.start_stake for r in result.rows)


def _misses(result):
    return [a for a in result.assessments if a["misses"]]


def test_revenue_collapse_stops_buying_at_the_first_miss_and_defaults():
    # three 30-day periods must pass: daily steps keep the test short
    result = run("revenue-collapse", days=95, seed=1, hours_per_step=24)
    misses = _misses(result)
    assert [a["misses"] for a in misses] == [1, 2, 3]
    stake = result.start_stake
    for miss in misses:  # 20% of what remains, each miss
        assert miss["slashed"] == stake * 2_000 // 10_000
        stake -= miss["slashed"]
    first, _, third = misses
    assert [a["status"] for a in misses] == [1, 1, 2] and third["defaulted"]
    assert result.rows[-1].stake == 0  # the rest is held for the protection fund
    # the reserve bought while the listing was active, never once it was late: with revenue gone
    # from the finished periods the PE rose out of the buy zone, and any buy asked for was refused
    assert _buys(result)
    assert all(b["hour"] < first["hour"] for b in _buys(result))
    asked = [r for r in result.refusals if r["hour"] >= first["hour"] and r["pe"] < result.pe_low]
    assert all(
        r["reason"] in ("reserve: listing is late, no buys", "reserve: listing defaulted, no buys") for r in asked
    )
    # the float it kept
    assert result.rows[-1].reserve_stable > result.start_free // 2


def test_wash_self_payment_counts_nothing_beyond_verified_revenue(tmp_path):
    # the listing-time verification covers the first period; three more must pass
    result = run("wash", days=125, seed=1, hours_per_step=24)
    assert result.self_paid > 0
    verified = {v["period"]: v["month_revenue"] for v in result.verifications}
    for row in result.rows:
        if row.period in verified:  # W1: counted never above the verified revenue plus 5%
            assert row.period_counted <= verified[row.period] * 10_500 // 10_000
    # the merchant's own and fresh-address payments cannot meet the target: three misses, default
    assert [a["misses"] for a in _misses(result)] == [1, 2, 3]
    assert result.rows[-1].status == 2
    assert _buys(result) == []  # the self-payments never made the reserve buy
    report = write_report(result, tmp_path)["report"].read_text()
    assert "Verified revenue and counted revenue" in report and "paid itself" in report


def test_manipulation_same_block_moves_make_no_reserve_trade():
    result = run("manipulation", days=2, seed=1)
    assert len(result.attacks) == 2 * 24
    # stabilise() was really reached inside the manipulated block (a move of a few percent
    # or of half the pool), and did nothing: the TWAP PE was in the band
    assert any(a["stabilise_succeeded"] for a in result.attacks)
    assert all(a["traded"] == 0 and a["reserve_events"] == 0 for a in result.attacks)
    assert result.trades == []


def test_steady_market_stays_in_band_without_reserve_trades():
    result = run("steady", days=3, seed=1)
    assert result.trades == [] and result.refusals == []
    assert all(result.pe_low <= r.pe <= result.pe_high for r in result.rows if r.pe)
    assert result.rows[-1].inventory == result.start_inventory


def test_agent_stops_cap_falls_to_zero_the_merchant_misses_and_the_reserve_stops_buying(tmp_path):
    # the agent's last attestation (the first step's) is valid for 35 days; the first period that
    # starts after it expires is judged when it ends, on day 90: 91 daily steps cover it
    result = run("agent-stops", days=91, seed=1, hours_per_step=24)
    start, rows = result.rows[0].timestamp, result.rows
    stops = result.scenario.agent_stops_day * 24
    listed_on, *attested = result.verifications
    assert attested and all(v["hour"] <= stops for v in attested)  # it attested in the run, then its data stopped
    assert result.unattested == []  # nothing it tried was refused: it simply stopped
    expiry = result.verifications[-1]["expires_at"]
    assert expiry < start + result.days * DAY  # (else the run proves nothing)

    # the newest attestation is fresh until it expires, and stale from then on
    assert [r.fresh for r in rows] == [r.timestamp < expiry for r in rows]
    # the cap in force at a period's start: the attested cap for periods that start before the
    # expiry, 0 for the first that starts after it and every later one
    stale_period = min(r.period for r in rows if result.period_start(r.period) >= expiry)
    for row in rows:
        assert (row.period_cap > 0) == (row.period < stale_period)
        assert row.period_counted <= row.period_cap

    # customers kept paying in that period, but nothing counted: the merchant missed it and is late
    assessed = {a["period"]: a for a in result.assessments}
    miss = assessed[stale_period]
    gross = [r.period_gross for r in rows if r.period == stale_period][-1]
    assert gross >= miss["due"] > 0
    assert miss["counted"] == 0 and miss["misses"] == 1 and miss["slashed"] > 0
    assert miss["status"] == LATE and not miss["defaulted"]
    assert all(a["counted"] >= a["due"] and a["misses"] == 0 for p, a in assessed.items() if p < stale_period)
    assert [r.status for r in rows] == [LATE if r.hour >= miss["hour"] else ACTIVE for r in rows]

    # the reserve bought while the attestation was fresh and never after: between the expiry and
    # the miss every buy the keeper asked for was refused as stale, then as late
    buys = _buys(result)
    assert buys and all(start + b["hour"] * HOUR < expiry for b in buys)
    asked = [r for r in result.refusals if start + r["hour"] * HOUR >= expiry and r["pe"] < result.pe_low]
    stale = [r for r in asked if r["hour"] < miss["hour"]]
    assert stale and all(r["reason"] == "reserve: verified revenue is stale, no buys" for r in stale)
    assert all(r["reason"] == "reserve: listing is late, no buys" for r in asked if r["hour"] >= miss["hour"])

    report = write_report(result, tmp_path)["report"].read_text()
    assert f"{len(stale)} x `reserve: verified revenue is stale, no buys`" in report
    assert "the agent's data stops after day 20" in report and f"late from day {miss['hour'] / 24:.2f}" in report


def test_default_opens_the_pot_within_its_caps_and_holders_are_paid_the_fixed_rate(tmp_path):
    from ape_pst_plugin import pe as pem
    from ape_pst_plugin.constants import DEFAULTED

    result = run("default", days=100, seed=1, hours_per_step=24)
    pot = result.pot
    # no revenue: periods 1, 2 and 3 missed, the third defaults the listing on day 90
    assert [a["misses"] for a in result.assessments if a["misses"]] == [1, 2, 3]
    assert result.rows[-1].status == DEFAULTED and pot["hour"] == 90 * 24
    # the pot is the earmarks it keeps plus the fund's part, the smallest of its four caps
    pulled = pot["earmarked"] + pot["earmarks_to_fund"]
    sized = pem.pot_size(pulled, pot["loss_base"], pot["free_before"], 0, pot["stake_cap"])
    assert (pot["amount"], pot["earmarked"], pot["from_fund"]) == sized
    assert pot["from_fund"] > 0
    # every claim, early or late, is paid the rate fixed at the default
    assert [c["who"] for c in result.claims] == ["holder", "staker", "holder"]
    for claim in result.claims:
        assert claim["paid"] == pem.claim_payment(claim["tokens"], pot["rate"]) > 0
    assert result.claims[0]["paid"] == result.claims[2]["paid"]  # the same tokens, days apart, the same pay
    # nothing else moved the fund: no revenue, no premiums in the run
    assert result.fund_after["free"] == result.fund_before["free"] - pot["from_fund"] + pot["earmarks_to_fund"]
    report = (write_report(result, tmp_path)["report"]).read_text()
    assert "The smallest binds: stake cap" in report


def test_contagion_stress_stops_every_buy_then_lifts_with_the_recapitalisation(tmp_path):
    from ape_pst_plugin import pe as pem
    from ape_pst_plugin.report import stress_spells

    result = run("contagion", days=60, seed=1, hours_per_step=12)
    # both peers miss period 1 on day 30 and go late together; this listing meets every target
    late = [p for p in result.peers if p["period"] == 1]
    assert [(p["hour"], p["status"]) for p in late] == [(30 * 24, LATE)] * 2
    assert all(a["misses"] == 0 for a in result.assessments)
    # the fund is in stress exactly from the peers' miss to the treasury's top-up on day 45
    recap = result.recapitalised
    assert recap == dict(hour=45 * 24, amount=1_000_000 * 10**result.decimals)
    assert stress_spells(result) == [(30 * 24, 45 * 24)]
    # the panic wants buys from day 30: inside the spell every one is refused for stress, after it the reserve buys
    inside = [r for r in result.refusals if 30 * 24 <= r["hour"] < 45 * 24]
    assert inside and all(r["reason"] == "reserve: protection fund in stress, no buys" for r in inside)
    assert all(r.pe is None or r.pe < result.pe_low for r in result.rows if 31 * 24 <= r.hour < 45 * 24)
    assert not [b for b in _buys(result) if b["hour"] < 45 * 24]
    assert [b for b in _buys(result) if b["hour"] >= 45 * 24]
    # with the 1,000,000 in, the late listings' loss bases are within the stress threshold again
    after = result.fund_after
    assert after["late_loss_total"] > 0 and after["in_stress"] is pem.in_stress(after["late_loss_total"], after["free"])
    assert not after["in_stress"]
    report = write_report(result, tmp_path)["report"].read_text()
    assert (
        f"in stress from day 30.00 to day 45.00: {len(inside)} stabilise() calls refused for stress, 0 buys" in report
    )
