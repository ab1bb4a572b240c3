"""`ape pst` commands, run in-process on the test chain: each command's
success, its JSON for scripts (exact values), and its bad inputs (one line
on stderr, exit code 1, no traceback)."""

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_utils import keccak
from test_merchant_data import claimed_grades

from ape_pst_plugin import registry
from ape_pst_plugin._cli import cli
from ape_pst_plugin.governance import check_min_delay
from ape_pst_plugin.underwriting import GRADES

USDC = 10**6


def run(*args):
    from ape import networks

    # The commands run on the test provider that is already connected (as
    # `network_option` does for a parent command); stderr is kept apart so
    # library warnings do not spoil the JSON on stdout.
    return CliRunner(mix_stderr=False).invoke(
        cli, list(args), catch_exceptions=False, obj={"provider": networks.provider}
    )


def run_json(*args):
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def units(text: str, decimals: int) -> int:
    """A JSON amount (an exact decimal string in whole units) in base units."""
    raw = Decimal(text).scaleb(decimals)
    assert raw == raw.to_integral_value(), text
    return int(raw)


def assert_one_line_error(result, fragment):
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR:"), result.stderr
    assert fragment in lines[0]
    assert not result.stdout


@pytest.mark.parametrize(
    "command",
    ["deploy", "list", "status", "pe", "pay", "stabilise", "assess", "underwrite", "fund", "claim", "fork", "simulate"],
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_deploy_hands_everything_to_the_timelock(record, accounts):
    out = run_json("deploy", "--min-delay", "0")
    from ape_pst_plugin.deployment import _containers

    factory = _containers().ListingFactory.at(out["factory"])
    timelock = _containers().Timelock.at(out["timelock"])
    assert factory.owner() == timelock.address
    assert timelock.hasRole(timelock.PROPOSER_ROLE(), out["safe"])
    assert not timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), accounts[0])
    assert json.loads(record.read_text())["ethereum:local"]["factory"] == out["factory"]
    # the next command finds the deployment through the record
    assert run_json("list") == []


def test_short_delay_refused_off_the_local_network(networks):
    check_min_delay(0, networks.ethereum.local)
    check_min_delay(86_400, networks.ethereum.mainnet)
    for name in ("mainnet", "sepolia", "mainnet-fork"):
        with pytest.raises(ValueError, match="under 1 day"):
            check_min_delay(86_399, networks.ethereum.get_network(name))


def test_list_shows_the_listing(known):
    rows = run_json("list")
    assert {"id": known.id, "symbol": "ACME", "token": known.token.address}.items() <= rows[known.id].items()


@pytest.mark.parametrize("key", ["id", "symbol", "token"])
def test_status_finds_a_listing_by_id_symbol_or_token(known, key):
    value = {"id": str(known.id), "symbol": "acme", "token": known.token.address}[key]
    out = run_json("status", value)
    assert out["token"] == known.token.address
    assert out["listing"] == known.id
    assert out["share_bps"] == known.router.share_bps()
    assert units(out["merchant_stake"], 6) == known.reserve.stake()


@pytest.fixture
def market(pst_listing, record):
    """A listing with a live pool and 30 days of revenue, opened inside the
    test (the plugin's function-scoped fixture), so its time travel is undone
    afterwards; the record points the CLI at its factory."""
    opened = pst_listing()
    registry.save_record({"factory": opened.protocol.factory.address})
    return opened


def test_pe_agrees_with_the_oracle(market):
    from ape_pst_plugin import pe as pem

    listing = market.listing
    out = run_json("pe", str(listing.id))
    eps, spot = listing.oracle.eps(), listing.oracle.spot_price()
    assert units(out["pe_at_spot"], 18) == pem.pe(spot, eps)
    p_low, p_high = pem.target_prices(eps, listing.reserve.pe_low(), listing.reserve.pe_high())
    assert (units(out["p_low"], 18), units(out["p_high"], 18)) == (p_low, p_high)


def test_pay_splits_the_payment(known, usdc, accounts):
    payer = accounts[0]  # the CLI's default signer on the local network
    usdc.faucet(payer, 1_000 * USDC, sender=payer)
    merchant_before, payer_before = usdc.balanceOf(known.merchant), usdc.balanceOf(payer)
    out = run_json("pay", "ACME", "12.5")
    # grade A: 25 bps of gross to the protection fund, from the merchant part
    assert (out["gross"], out["holders"], out["protection_premium"]) == ("12.500000", "1.250000", "0.031250")
    assert out["merchant"] == "11.218750"
    assert usdc.balanceOf(known.merchant) - merchant_before == 11_218_750
    assert payer_before - usdc.balanceOf(payer) == 12_500_000


def test_status_of_a_listing_without_liquidity_says_so(known, chain):
    out = run_json("status", "0")
    assert out["spot_price"] is None and out["eps"] is None and out["pe_at_spot"] is None
    assert out["undefined"]["spot_price"] == "pool has no liquidity"
    assert out["undefined"]["eps"] == "no finished period yet, PE undefined"
    chain.pending_timestamp += 30 * 86_400  # past its first period, still never observed
    chain.mine()
    assert run_json("status", "0")["undefined"]["eps"] == "no observation yet, call update()"


@pytest.mark.parametrize(
    "amount, message",
    [
        ("0", "AMOUNT must be positive, got 0"),
        ("-5", "AMOUNT must be positive, got -5"),
        ("abc", "AMOUNT 'abc' is not a number"),
        ("0.0000001", "more than 6 decimals"),
        ("nan", "AMOUNT must be positive, got nan"),
    ],
)
def test_pay_rejects_bad_amounts(known, amount, message):
    assert_one_line_error(run("pay", "0", amount), message)


def test_pay_without_funds_says_so(known, accounts, usdc):
    poor = usdc.balanceOf(accounts[0]) + 1
    assert_one_line_error(run("pay", "0", str(poor)), "holds less than")


@pytest.mark.parametrize(
    "key, message", [("99", "no listing 99"), ("NOPE", "no listing with id"), ("0x" + "11" * 20, "not a listed token")]
)
def test_unknown_listing_is_one_line(known, key, message):
    assert_one_line_error(run("status", key), message)


def test_no_deployment_is_one_line(record):
    assert_one_line_error(run("list"), "no PST deployment on ethereum:local")


def test_stabilise_inside_the_band_trades_nothing(market):
    before = market.reserve.inventory()
    out = run_json("stabilise", str(market.listing.id))
    assert out["action"] == "none"
    assert market.reserve.inventory() == before


def test_stabilise_buys_after_a_selloff(market):
    market.sell_tokens(40_000 * 10**18)
    market.sleep(3_600)
    market.observe()
    market.sleep(3_600)
    free = market.reserve.free_balance()
    out = run_json("stabilise", str(market.listing.id))
    assert out["action"] == "buy"
    assert market.reserve.free_balance() < free


def test_revert_is_one_line(known):
    # the session listing's pool is empty and its oracle never observed it
    assert_one_line_error(run("stabilise", str(known.id), "--no-update"), "transaction reverted: oracle: ")


def test_paused_router_refuses_payment(known, guardian, protocol, usdc, accounts):
    usdc.faucet(accounts[0], 10 * USDC, sender=accounts[0])
    known.router.pause(sender=guardian)
    assert_one_line_error(run("pay", "0", "1"), "transaction reverted: pausable: contract is paused")


# --- what scripts get from --json ------------------------------------------------------------


def test_status_json_is_exact_and_typed_for_scripts(market):
    listing = market.listing
    out = run_json("status", str(listing.id))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", key) for key in out), list(out)
    # amounts: exact decimal strings in whole units, to the last base unit, no separators
    assert units(out["reserve_free_balance"], 6) == listing.reserve.free_balance()
    assert units(out["reserve_inventory"], 18) == listing.reserve.inventory()
    assert units(out["twap"], 18) == listing.oracle.twap_snapshot()
    assert not any("," in value for value in out.values() if isinstance(value, str))
    # counts are integers, flags are booleans
    assert out["consecutive_misses"] == 0 and out["period"] == listing.router.current_period()
    assert out["status"] == "active" and out["router_paused"] is False and out["stabiliser_paused"] is False


def test_pay_json_gives_the_padded_order_id(known, usdc, accounts):
    usdc.faucet(accounts[0], 10 * USDC, sender=accounts[0])
    out = run_json("pay", "0", "1", "--order-id", "0x1f")
    assert out["order_id"] == "0x" + "00" * 31 + "1f"


# --- one line on stderr, exit code 1 ---------------------------------------------------------


def test_pay_takes_a_negative_amount_for_an_amount_not_an_option(known):
    assert_one_line_error(run("pay", "0", "-5"), "AMOUNT must be positive")


def test_usage_errors_are_one_line_with_exit_code_1(record):
    assert_one_line_error(run("status"), "Missing argument 'LISTING'")


def test_unknown_account_alias_is_one_line(known):
    assert_one_line_error(run("pay", "0", "1", "--account", "nobody"), "no Ape account with alias 'nobody'")


def test_test_account_past_the_last_is_one_line(known, accounts):
    # tests generate test accounts as they go: one past the last there is now
    count = len(accounts)  # the test accounts (ape.accounts.test_accounts)
    assert_one_line_error(
        run("pay", "0", "1", "--account", f"TEST::{count}"),
        f"no test account TEST::{count}: there are {count}, TEST::0 to TEST::{count - 1}",
    )


@pytest.mark.parametrize(
    "order_id, message",
    [("0x" + "ab" * 33, "33 bytes long; an order id is at most 32 bytes"), ("0xzz", "'0xzz' is not hexadecimal")],
)
def test_bad_order_id_is_one_line(known, order_id, message):
    assert_one_line_error(run("pay", "0", "1", "--order-id", order_id), message)


def test_not_an_address_is_said_in_plain_words(record):
    assert_one_line_error(run("deploy", "--guardian", "alice"), "--guardian: 'alice' is not an address")


def test_a_listing_key_that_looks_like_an_address_but_is_not(known):
    assert_one_line_error(run("status", "0x" + "zz" * 20), "is not an address")


def test_corrupt_deployment_record_names_the_file(record):
    record.write_text("{not json")
    assert_one_line_error(run("list"), f"{record} is corrupt")


def test_deploy_checks_the_record_is_writable_before_any_transaction(monkeypatch, tmp_path, chain):
    blocker = tmp_path / "build"
    blocker.write_text("a file where the record's folder should be")
    monkeypatch.setattr(registry, "record_path", lambda: blocker / "pst" / "deployments.json")
    height = chain.blocks.height
    assert_one_line_error(run("deploy", "--min-delay", "0"), "cannot write the deployment record")
    assert chain.blocks.height == height


# --- for people: tables and help -------------------------------------------------------------


def test_tables_keep_whole_addresses(known):
    result = run("list")  # off a terminal rich would lay it out in 80 columns
    assert result.exit_code == 0, result.stderr
    assert known.token.address in result.stdout and known.merchant in result.stdout


def test_every_command_has_a_whole_sentence_in_the_command_list():
    listing = CliRunner().invoke(cli, ["--help"]).output.split("Commands:")[1]
    lines = [line.strip() for line in listing.strip().splitlines()]
    assert {line.split()[0] for line in lines} >= {"deploy", "list", "pay", "simulate", "fork"}
    for line in lines:
        assert line.endswith(".") and not line.endswith("...") and not line.endswith("e.g."), line


def test_simulate_help_lists_the_scenarios():
    from ape_pst_plugin.simulate import SCENARIOS

    text = CliRunner().invoke(cli, ["simulate", "--help"]).output
    for name in SCENARIOS:
        assert f"{name}: " in text, name


def test_simulate_checks_out_is_writable_before_it_runs(monkeypatch, tmp_path):
    from ape_pst_plugin import simulate

    monkeypatch.setattr(simulate, "run", lambda *a, **k: pytest.fail("the simulation ran"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner(mix_stderr=False).invoke(cli, ["simulate", "steady", "--out", str(blocker / "report")])
    assert_one_line_error(result, f"cannot write the report to {blocker / 'report'}")


def test_deploy_refuses_a_corrupt_record_before_any_transaction(record, chain):
    record.write_text("[]")
    height = chain.blocks.height
    assert_one_line_error(run("deploy", "--min-delay", "0"), f"{record} is corrupt")
    assert chain.blocks.height == height


def test_deploy_run_on_its_own_has_one_line_errors_too():
    # `ape run deploy`: the command without the `pst` group
    from scripts.deploy import cli as run_deploy

    result = CliRunner(mix_stderr=False).invoke(run_deploy, ["--guardian", "alice"])
    assert_one_line_error(result, "--guardian: 'alice' is not an address")


def test_the_plugin_errors_share_one_base_under_ape_and_keep_their_old_names():
    from ape.exceptions import ApeException

    from ape_pst_plugin import exceptions, fork

    assert issubclass(exceptions.PstError, ApeException)
    assert all(issubclass(getattr(exceptions, name), exceptions.PstError) for name in exceptions.__all__)
    assert (registry.NoDeployment, registry.UnknownListing, fork.ForkError) == (
        exceptions.NoDeployment,
        exceptions.UnknownListing,
        exceptions.ForkError,
    )


# --- underwriting: from a merchant's data to an attestation ----------------------------------

SAMPLES = Path(__file__).resolve().parent.parent / "docs" / "samples"
MERCHANT = "0x00000000000000000000000000000000000000AA"


def sample(name: str) -> str:
    return str(SAMPLES / name)


@pytest.fixture
def on_protocol(record, protocol):
    """The CLI finds `protocol` (its registry owned by `admin`, `agent` bonded)."""
    registry.save_record({"factory": protocol.factory.address})
    return protocol


def month_rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("name, claimed", sorted((Path(p).name, g) for p, g in claimed_grades().items()))
def test_underwrite_shows_each_samples_claimed_grade(record, name, claimed):
    if claimed == "rejected":
        assert_one_line_error(run("underwrite", sample(name), "--merchant", MERCHANT), "over the model's 15.00% gate")
        return
    table = run("underwrite", sample(name), "--merchant", MERCHANT)
    assert table.exit_code == 0, table.stderr
    assert re.search(rf"│ grade\s+│\s+{claimed} │", table.stdout), table.stdout
    assert run_json("underwrite", sample(name), "--merchant", MERCHANT)["grade"] == claimed


def test_underwrite_json_is_exact_snake_case_and_from_the_data(record):
    path = sample("steady-shop.csv")
    out = run_json("underwrite", path, "--merchant", MERCHANT)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", key) for key in out), list(out)
    # worked out here from the CSV: R = floor(sum of the last 3 nets / 3), the last net, exactly in micro-units
    nets = [Decimal(r["gross"]) - Decimal(r["refunds"]) for r in month_rows(path)]
    assert units(out["avg_monthly_revenue"], 6) == int(sum(nets[-3:]) * USDC) // 3
    assert units(out["month_revenue"], 6) == int(nets[-1] * USDC)
    assert out["history_months"] == len(nets) and out["settlement_decimals"] == 6
    ints = [k for k in out if k.endswith("_bps") or k.startswith("points_")] + ["history_months"]
    assert all(type(out[k]) is int for k in ints), {k: out[k] for k in ints}
    assert sum(out[k] for k in out if k.startswith("points_") and k != "points_total") == out["points_total"]
    # the revenue target is R * the target ratio, to the micro-unit
    assert units(out["revenue_target"], 6) == units(out["avg_monthly_revenue"], 6) * out["target_ratio_bps"] // 10_000
    assert out["evidence_hash"] == "0x" + keccak(Path(path).read_bytes()).hex()
    assert out["merchant_id"] == "0x" + keccak(bytes.fromhex(MERCHANT[2:])).hex()
    named = run_json("underwrite", path, "--merchant", MERCHANT, "--merchant-id", "shop 42")
    assert named["merchant_id"] == "0x" + keccak(b"shop 42").hex()


def test_underwrite_says_why_a_low_score_has_no_terms(record, tmp_path):
    # 6 months (5 points), R about 12,000 (4), CV about 37% (5), growth -45% (0), refunds 12% (0), one channel (0)
    path = tmp_path / "weak.csv"
    rows = ["month,gross,refunds,orders,top_channel_share"]
    rows += [
        f"2024-0{m},{g},{g * 12 // 100},10,1"
        for m, g in zip(range(1, 7), (30_000, 25_000, 20_000, 9_000, 20_000, 12_000))
    ]
    path.write_text("\n".join(rows) + "\n")
    out = run_json("underwrite", str(path), "--merchant", MERCHANT)
    assert out["points_total"] < 40 and out["grade"] == "none"
    assert out["stake_bps"] is None and out["undefined"]["revenue_target"] == "not listable (grade none)"


def test_underwrite_submit_records_the_attestation(on_protocol, agent, chain):
    path = sample("seasonal-shop.csv")
    out = run_json("underwrite", path, "--merchant", MERCHANT, "--account", f"TEST::{agent.index}", "--submit")
    reg = on_protocol.registry
    latest = reg.latest(MERCHANT)
    assert latest.agent == agent.address and out["agent"] == agent.address
    assert out["registry_grade"] == out["grade"] and latest.grade == GRADES.index(out["grade"]) != 0
    assert latest.score == out["points_total"] == out["registry_points_total"]
    assert latest.avg_monthly_revenue == units(out["avg_monthly_revenue"], 6)
    assert latest.month_revenue == units(out["month_revenue"], 6)
    assert latest.volatility_bps == out["volatility_bps"]
    assert latest.issued_at == out["issued_at"] and latest.expires_at == out["issued_at"] + 30 * 86_400
    assert out["nonce"] == 0 and reg.nonces(MERCHANT) == 1 and reg.is_fresh(MERCHANT)
    [event] = chain.get_receipt(out["transaction"]).events.filter(reg.Attested)
    assert event.evidence_hash == keccak(Path(path).read_bytes())
    # the next one takes the next nonce
    again = run_json(
        "underwrite", path, "--merchant", MERCHANT, "--account", f"TEST::{agent.index}", "--submit", "--validity", "7"
    )
    assert again["nonce"] == 1 and reg.latest(MERCHANT).expires_at == again["issued_at"] + 7 * 86_400


def test_underwrite_submit_says_when_the_registry_disagrees_with_the_python_model(on_protocol, agent, monkeypatch):
    from dataclasses import replace

    from ape_pst_plugin import underwriting

    honest = underwriting.score
    monkeypatch.setattr(
        underwriting, "score", lambda inputs, decimals: replace(honest(inputs, decimals), grade=underwriting.GRADE_B)
    )
    result = run(
        "underwrite",
        sample("steady-shop.csv"),
        "--merchant",
        MERCHANT,
        "--account",
        f"TEST::{agent.index}",
        "--submit",
        "--json",
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["registry_grade"] == "A"
    assert result.stderr.strip() == (
        "ERROR: the registry graded A (97 points), the Python model B (97): the twin disagrees with the contract, report it"
    )


def test_a_signature_with_a_short_r_or_s_is_still_65_bytes():
    # Ape drops leading zero bytes of r and s; submit needs 32 + 32 + 1 (one signature in 128 has one)
    from ape.types.signatures import MessageSignature

    from ape_pst_plugin.underwriting import signature_bytes

    signature = signature_bytes(MessageSignature(v=28, r=b"\x01" * 31, s=b"\x02" * 30))
    assert signature == b"\x00" + b"\x01" * 31 + b"\x00\x00" + b"\x02" * 30 + b"\x1c"


def test_underwrite_submit_by_a_non_agent_is_the_revert_reason(on_protocol, attacker):
    result = run(
        "underwrite",
        sample("steady-shop.csv"),
        "--merchant",
        MERCHANT,
        "--account",
        f"TEST::{attacker.index}",
        "--submit",
    )
    assert_one_line_error(result, "transaction reverted: registry: signer is not an agent")
    assert on_protocol.registry.nonces(MERCHANT) == 0


def test_underwrite_submit_by_an_agent_without_bond_is_the_revert_reason(on_protocol, admin, accounts):
    unbonded = accounts[6]
    on_protocol.registry.add_agent(unbonded, sender=admin)
    result = run("underwrite", sample("steady-shop.csv"), "--merchant", MERCHANT, "--account", "TEST::6", "--submit")
    assert_one_line_error(result, "transaction reverted: registry: agent bond below the minimum")


def test_underwrite_bad_data_is_one_line_naming_the_row(on_protocol, agent, tmp_path, chain):
    path = tmp_path / "gap.csv"
    lines = Path(sample("steady-shop.csv")).read_text().splitlines()
    path.write_text("\n".join(lines[:5] + lines[6:]) + "\n")  # drop the 5th month
    height = chain.blocks.height
    result = run("underwrite", str(path), "--merchant", MERCHANT, "--account", f"TEST::{agent.index}", "--submit")
    assert_one_line_error(result, f"{path}: line 6: 1 month missing between 2023-04 (line 5) and 2023-06")
    assert chain.blocks.height == height


@pytest.mark.parametrize(
    "args, message",
    [
        (["--merchant", "shop"], "--merchant: 'shop' is not an address"),
        (["--merchant", MERCHANT, "--validity", "36"], "--validity 36: an attestation is valid for 1 to 35 days"),
        (["--merchant", MERCHANT, "--decimals", "19"], "--decimals 19: a settlement token has 0 to 18 decimals"),
        (["--merchant", MERCHANT, "--submit"], "no PST deployment on ethereum:local"),
        ([], "Missing option '--merchant'"),
    ],
)
def test_underwrite_bad_options_are_one_line(record, args, message):
    assert_one_line_error(run("underwrite", sample("steady-shop.csv"), *args), message)


def test_underwrite_takes_the_registrys_decimals(on_protocol):
    assert run_json("underwrite", sample("steady-shop.csv"), "--merchant", MERCHANT)["settlement_decimals"] == 6
    assert_one_line_error(
        run("underwrite", sample("steady-shop.csv"), "--merchant", MERCHANT, "--decimals", "2"),
        "--decimals 2: the registry's settlement token here has 6",
    )


def test_underwrite_a_merchant_under_the_revenue_floor_is_one_line(record, tmp_path):
    path = tmp_path / "small.csv"
    rows = ["month,gross,refunds,orders,top_channel_share"] + [f"2024-0{m},9000,0,10,0.1" for m in range(1, 7)]
    path.write_text("\n".join(rows) + "\n")
    assert_one_line_error(
        run("underwrite", str(path), "--merchant", MERCHANT),
        f"{path}: not underwritable: scoring: revenue under 10,000 units a month",
    )


def test_list_and_status_show_the_listings_underwriting(record, protocol, fresh_listing, chain):
    registry.save_record({"factory": protocol.factory.address})
    chain.mine(timestamp=chain.blocks.head.timestamp + 600)
    latest = protocol.registry.latest(fresh_listing.merchant)
    age = chain.blocks.head.timestamp - latest.recorded_at
    out = run_json("status", str(fresh_listing.id))
    # the fixture lists a grade-A merchant verified at 100,000 USDC a month: a 105,000 cap on period 0
    assert out["grade"] == "A" and out["premium_bps"] == 25
    assert out["period"] == 0 and units(out["verified_cap"], 6) == 105_000 * USDC
    assert out["attestation_age"] == age >= 600 and out["attestation_recorded_at"] == latest.recorded_at
    assert out["verified_revenue_fresh"] is True and units(out["verified_month_revenue"], 6) == 100_000 * USDC
    row = run_json("list")[fresh_listing.id]
    assert {"grade": "A", "attestation_age": age, "verified_revenue_fresh": True}.items() <= row.items()
    assert units(row["verified_cap"], 6) == 105_000 * USDC
