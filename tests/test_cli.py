"""`ape pst` commands, run in-process on the test chain: each command's
success and its bad inputs (one line, exit code 1, no traceback)."""

import json

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


def assert_one_line_error(result, fragment):
    assert result.exit_code != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert fragment in errors[0]
    assert "Traceback" not in result.stderr and not result.stdout


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
    assert out["merchant stake"] == f"{known.reserve.stake() / USDC:,.6f}"


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
    assert out["PE at spot"] == f"{pem.pe(spot, eps) / 10**18:,.6f}"
    p_low, p_high = pem.target_prices(eps, listing.reserve.pe_low(), listing.reserve.pe_high())
    assert out["target prices"] == f"{p_low / 10**18:,.6f} .. {p_high / 10**18:,.6f}"


def test_pay_splits_the_payment(known, usdc, accounts):
    payer = accounts[0]  # the CLI's default signer on the local network
    usdc.faucet(payer, 1_000 * USDC, sender=payer)
    merchant_before, payer_before = usdc.balanceOf(known.merchant), usdc.balanceOf(payer)
    out = run_json("pay", "ACME", "12.5")
    assert out["gross"] == "12.500000" and out["holders"] == "1.250000" and out["merchant"] == "11.250000"
    assert usdc.balanceOf(known.merchant) - merchant_before == 11_250_000
    assert payer_before - usdc.balanceOf(payer) == 12_500_000


def test_status_of_a_listing_without_liquidity_says_so(known):
    out = run_json("status", "0")
    assert out["spot price"] == "undefined (pool has no liquidity)"
    assert out["EPS"] == "undefined (no observation yet, call update())"
    assert out["PE at spot"] == "undefined"


@pytest.mark.parametrize(
    "amount, message",
    [
        ("0", "must be greater than zero"),
        ("-5", "must be greater than zero"),
        ("abc", "is not a number"),
        ("0.0000001", "more than 6 decimals"),
        ("nan", "must be greater than zero"),
    ],
)
def test_pay_rejects_bad_amounts(known, amount, message):
    assert_one_line_error(run("pay", "0", "--", amount), message)


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
    assert out["action"].startswith("none")
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
