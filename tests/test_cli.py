"""`ape pst` commands, run in-process on the test chain: each command's
success, its JSON for scripts (exact values), and its bad inputs (one line
on stderr, exit code 1, no traceback)."""

import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner

from ape_pst_plugin import registry
from ape_pst_plugin._cli import cli
from ape_pst_plugin.governance import check_min_delay

USDC = 10**6


@pytest.fixture
def record(tmp_path, monkeypatch):
    path = tmp_path / "deployments.json"
    monkeypatch.setattr(registry, "record_path", lambda: path)
    return path


@pytest.fixture
def known(record, protocol, listing):
    """This network's record points at the test protocol (which has `listing`)."""
    registry.save_record({"factory": protocol.factory.address, "uniswap_router": protocol.uniswap.router.address})
    return listing


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


@pytest.mark.parametrize("command", ["deploy", "list", "status", "pe", "pay", "stabilise", "assess", "fork", "simulate"])
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
    assert out["gross"] == "12.500000" and out["holders"] == "1.250000" and out["merchant"] == "11.250000"
    assert usdc.balanceOf(known.merchant) - merchant_before == 11_250_000
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


@pytest.mark.parametrize("key, message", [("99", "no listing 99"), ("NOPE", "no listing with id"), ("0x" + "11" * 20, "not a listed token")])
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
        exceptions.NoDeployment, exceptions.UnknownListing, exceptions.ForkError)
