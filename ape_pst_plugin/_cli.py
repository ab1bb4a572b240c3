"""``ape pst``: deploy, inspect and drive the PST protocol from the command line.

Every command takes ``--network`` (Ape's network choice) and prints a table,
or JSON with ``--json`` (snake_case keys; amounts as exact decimal strings in
whole units, counts and timestamps as integers, flags as booleans, an
undefined value as ``null`` with its reason under ``"undefined"``).
Anything that goes wrong (a usage error, no deployment here, an unknown
listing or account, a bad amount, a revert) is one line on stderr and exit
code 1, never a traceback: :class:`PstGroup` turns click's usage errors,
:class:`~ape_pst_plugin.exceptions.PstError` and Ape's errors into an
:class:`~ape.exceptions.Abort`."""

import json
import secrets
import string
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import click
from ape.cli import ConnectedProviderCommand
from ape.exceptions import Abort

from ape_pst_plugin.constants import DAY, STATUS
from ape_pst_plugin.exceptions import BadAmount, BadInput, PstError, TwinMismatch, UnknownAccount

WAD_DECIMALS = 18


# --- one-line errors -------------------------------------------------------------------------


def _on_one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (its lines joined), at most ``limit`` characters."""
    line = " ".join(part.strip() for part in text.strip().splitlines() if part.strip())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class PstAbort(Abort):
    """Ape's :class:`~ape.exceptions.Abort`, printed straight to stderr as
    ``ERROR: <message>`` (Ape would log it, and a log can be redirected or
    captured away)."""

    def show(self, file=None):
        click.echo(f"{click.style('ERROR', fg='red', bold=True)}: {self.format_message()}", err=True)


@contextmanager
def one_line_errors():
    """Re-raises every expected failure as a one-line :class:`~ape.exceptions.Abort`
    (exit code 1): click's usage errors (instead of its usage block and exit
    code 2), the plugin's errors, reverts and Ape's own errors."""
    from ape.exceptions import ApeException, ContractLogicError

    from ape_pst_plugin.npm import ArtifactNotFound
    from ape_pst_plugin.simulate import SimulationError

    # click >= 8.2 shows a group's help for no arguments by raising this usage error
    passed_on = (Abort, *filter(None, [getattr(click.exceptions, "NoArgsIsHelpError", None)]))
    try:
        yield
    except passed_on:
        raise
    except click.UsageError as err:
        where = f" (`{err.ctx.command_path} --help`)" if err.ctx is not None else ""
        raise PstAbort(_on_one_line(err.format_message()) + where) from None
    except click.ClickException as err:
        raise PstAbort(_on_one_line(err.format_message())) from None
    except ContractLogicError as err:
        raise PstAbort(f"transaction reverted: {err.message or 'no reason given'}") from None
    except (PstError, ArtifactNotFound, SimulationError) as err:
        raise PstAbort(_on_one_line(str(err))) from None
    except ApeException as err:
        raise PstAbort(_on_one_line(str(err)) or type(err).__name__) from None
    except ConnectionError as err:  # e.g. ape-node's "No node found" when nothing answers at the URI
        raise PstAbort(f"cannot reach the network's node: {_on_one_line(str(err))}") from None


class PstGroup(click.Group):
    """A command group whose failures are one line on stderr and exit code 1."""

    def parse_args(self, ctx, args):
        with one_line_errors():
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        with one_line_errors():
            return super().invoke(ctx)


def network_choice(ctx) -> str:
    """The ``--network`` choice of a :class:`ConnectedProviderCommand`, e.g.
    ``ethereum:local:foundry`` (before ape connects)."""
    from ape.cli.options import NETWORK_META_KEY

    provider = (
        (ctx.meta.get(NETWORK_META_KEY) or {}).get("provider")
        or ctx.params.get("network")
        or (ctx.obj or {}).get("provider")
    )
    return str(getattr(provider, "network_choice", provider or ""))


class PstCommand(ConnectedProviderCommand):
    """A connected command that refuses a fork of the mainnet stand-in (or
    ``ethereum:mainnet`` when its node is the stand-in on loopback) while the
    stand-in is down, before ape tries (and fails, with anvil's long debug
    text) to reach it."""

    # one line also where the command runs on its own (`ape run deploy`), outside PstGroup
    def parse_args(self, ctx, args):
        with one_line_errors():
            return super().parse_args(ctx, args)

    def invoke(self, ctx):
        from ape_pst_plugin import fork

        with one_line_errors():
            choice = network_choice(ctx)
            if "mainnet-fork" in choice or (choice.startswith("ethereum:mainnet:") and fork.upstream_is_local()):
                fork.require_standin(choice)
            if choice.startswith("ethereum:local:") and choice.split(":", 2)[2] not in ("foundry", "test"):
                fork.require_devnet(choice.split(":", 2)[2])
            return super().invoke(ctx)


# --- output ----------------------------------------------------------------------------------


@dataclass
class Field:
    """One output value: ``key`` (snake_case) and the exact ``value`` for
    JSON, ``shown`` for the table; ``why`` says why a ``None`` is undefined."""

    key: str
    value: object
    shown: str | None = None
    why: str | None = None

    @property
    def text(self) -> str:
        if self.shown is not None:
            return self.shown
        if self.value is None:
            return f"undefined ({self.why})" if self.why else "undefined"
        return str(self.value)


def exact(raw: int | None, decimals: int) -> str | None:
    """``raw`` base units as an exact decimal string in whole units (no rounding, no separators)."""
    if raw is None:
        return None
    return f"{Decimal(raw).scaleb(-decimals):f}"


def _shown(raw: int, decimals: int) -> str:
    return f"{Decimal(raw).scaleb(-decimals):,.{min(decimals, 6)}f}"


def amount(key: str, raw: int | None, decimals: int, why: str | None = None) -> Field:
    """A token amount or an 18-decimal fixed-point value."""
    return Field(key, exact(raw, decimals), None if raw is None else _shown(raw, decimals), why)


def wad(key: str, raw: int | None, why: str | None = None) -> Field:
    return amount(key, raw, WAD_DECIMALS, why)


def print_table(table) -> None:
    """Prints a rich table at its natural width, wider than the terminal if
    need be, so addresses are never cut."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console()
    width = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if width > console.width:
        console = Console(width=width)
    console.print(table)


_WORDS = {"pe": "PE", "eps": "EPS", "twap": "TWAP"}


def label(key: str) -> str:
    """A table's name for a JSON key: ``pe_at_twap`` -> ``PE at TWAP``, ``p_low`` -> ``P_low``."""
    if key in ("p_low", "p_high"):
        return key.replace("p_", "P_")
    return " ".join(_WORDS.get(word, word) for word in key.split("_"))


def emit(title: str, fields: list[Field], as_json: bool) -> None:
    if as_json:
        record = {f.key: f.value for f in fields}
        undefined = {f.key: f.why for f in fields if f.value is None and f.why}
        if undefined:
            record["undefined"] = undefined
        click.echo(json.dumps(record, indent=2))
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    for f in fields:
        table.add_row(label(f.key), f.text)
    print_table(table)


def _quiet_for_json(ctx, param, value):
    # ape logs to stdout (even "Starting 'anvil' process" while connecting,
    # before the command runs): with --json, stdout must be JSON alone
    if value:
        from ape.logging import logger

        logger.set_level("ERROR")
    return value


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    is_eager=True,
    callback=_quiet_for_json,
    help="Print JSON (exact values, snake_case keys) instead of a table.",
)


# --- inputs ----------------------------------------------------------------------------------


def _account(alias: str | None):
    from ape import accounts, networks

    if alias:
        if alias.upper().startswith("TEST::"):
            index, count = alias.split("::", 1)[1], len(accounts.test_accounts)
            if not index.isdigit() or int(index) >= count:
                raise UnknownAccount(f"no test account {alias}: there are {count}, TEST::0 to TEST::{count - 1}")
            return accounts.test_accounts[int(index)]
        try:
            return accounts.load(alias)
        except (KeyError, IndexError, ValueError):
            raise UnknownAccount(f"no Ape account with alias {alias!r}: see `ape accounts list`") from None
    if networks.provider.network.is_dev:
        return accounts.test_accounts[0]
    raise click.UsageError("give --account ALIAS on a live network")


account_option = click.option(
    "--account",
    "account_alias",
    default=None,
    help="Ape account alias (or TEST::N) that signs (default on the local network: the first test account).",
)


def _address(ctx, param, value):
    """Click callback: a checksummed address (or a tuple of them), else a one-line error."""
    from eth_utils import is_hex_address, to_checksum_address

    def check(text):
        if not is_hex_address(text):
            raise BadInput(
                f"--{param.name.replace('_', '-').removesuffix('s')}: {text!r} is not an address (0x and 40 hex digits)"
            )
        return to_checksum_address(text)

    if value is None:
        return None
    return tuple(check(v) for v in value) if isinstance(value, tuple) else check(value)


def _order_id(ctx, param, value) -> bytes | None:
    """Click callback: ``--order-id`` as 32 bytes (left-padded), at most 32 bytes of hex."""
    if value is None:
        return None
    digits = value[2:] if value[:2].lower() == "0x" else value
    if not digits or any(c not in string.hexdigits for c in digits):
        raise BadInput(f"--order-id {value!r} is not hexadecimal (like 0x1f2e)")
    if len(digits) > 64:
        raise BadInput(
            f"--order-id is {(len(digits) + 1) // 2} bytes long; an order id is at most 32 bytes (64 hex digits)"
        )
    return bytes.fromhex(digits.rjust(64, "0"))


def _positive_number(ctx, param, value: str) -> str:
    """Click callback: AMOUNT must be a positive number (its decimals are checked against the token later)."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BadAmount(f"AMOUNT {value!r} is not a number") from None
    if not number.is_finite() or number <= 0:
        raise BadAmount(f"AMOUNT must be positive, got {value}")
    return value


def _parse_amount(text: str, decimals: int) -> int:
    """``text`` whole units as base units; a one-line error if it is not a
    positive number or has more than ``decimals`` decimals."""
    _positive_number(None, None, text)
    raw = Decimal(text).scaleb(decimals)
    if raw != raw.to_integral_value():
        raise BadAmount(f"AMOUNT {text} has more than {decimals} decimals")
    return int(raw)


def _listing(key: str):
    from ape_pst_plugin.registry import find_listing, load_deployment

    return find_listing(load_deployment(), key)


# --- the group -------------------------------------------------------------------------------


@click.group(name="pst", cls=PstGroup)
def cli():
    """PST protocol: deploy, inspect listings, pay, stabilise, assess, underwrite, the protection fund
    (fund, claim), fork and simulate."""


# --- deploy ----------------------------------------------------------------------------------


@cli.command(cls=PstCommand, short_help="Deploy the protocol with its governance.")
@account_option
@click.option(
    "--owner",
    "owners",
    multiple=True,
    callback=_address,
    help="A DAO Safe owner (repeat). Default on local: test accounts 0-2.",
)
@click.option("--threshold", type=int, default=None, help="Safe signatures needed. Default: a majority of owners.")
@click.option("--min-delay", type=int, default=2 * DAY, show_default=True, help="Timelock delay, seconds.")
@click.option("--guardian", default=None, callback=_address, help="May pause routers and stabilisers (default: none).")
@click.option(
    "--settlement",
    default=None,
    callback=_address,
    help="The protocol's settlement token (bonds, attested revenue, payments; like USDC). "
    "Default: pst.deployments' settlement, or on a dev network a new test stablecoin.",
)
@click.option(
    "--replace",
    is_flag=True,
    default=False,
    help="Deploy even though this network's recorded deployment still exists (the record then points at the new one).",
)
@json_option
def deploy(network, account_alias, owners, threshold, min_delay, guardian, settlement, replace, as_json):
    """Deploy the whole protocol: a DAO Safe, the timelock, the listing factory
    (Uniswap V2: the configured one, else the one at its mainnet addresses on
    the stand-in or the devnet, else from npm on a dev network); the timelock
    ends up the only admin and the deployer keeps no role. The addresses go to
    .build/pst/deployments.json, which must be writable; every argument is
    checked before anything is sent, and a recorded deployment that still
    exists is never replaced without --replace."""
    from ape import accounts

    from ape_pst_plugin import fork
    from ape_pst_plugin.governance import check_min_delay, deploy_governed_protocol
    from ape_pst_plugin.registry import (
        _has_code,
        check_record_writable,
        configured_addresses,
        save_record,
    )
    from ape_pst_plugin.uniswap import connect_uniswap, deploy_uniswap

    try:
        check_min_delay(min_delay, network)
    except ValueError as err:
        raise BadInput(str(err)) from None
    check_record_writable()
    deployer = _account(account_alias)
    if not owners:
        if not network.is_dev:
            raise click.UsageError("give the DAO Safe's owners with --owner on a live network")
        owners = tuple(a.address for a in list(accounts.test_accounts)[:3])
    threshold = threshold if threshold is not None else len(owners) // 2 + 1
    if not 1 <= threshold <= len(owners):
        raise BadInput(f"--threshold {threshold} must be between 1 and the number of owners ({len(owners)})")
    known = configured_addresses()
    if _has_code(known["factory"]) and not replace:
        raise BadInput(
            f"this network's recorded PST deployment still exists (factory {known['factory']}): "
            "pass --replace to deploy another and record it instead"
        )
    if settlement and not _has_code(settlement):
        raise BadInput(f"--settlement {settlement} has no code on {network.name}")
    seeded = fork.has_seeded_uniswap()
    if _has_code(known["uniswap_factory"]) and _has_code(known["uniswap_router"]):
        uniswap = connect_uniswap(known["uniswap_factory"], known["uniswap_router"])
    elif seeded:
        uniswap = fork.mainnet_uniswap()
    elif network.is_dev:
        uniswap = None  # deployed below, once every argument has passed
    else:
        raise BadInput(f"no Uniswap V2 configured for {network.name}: set pst.deployments in ape-config.yaml")
    settlement = settlement or known["settlement"]
    if not _has_code(settlement):
        if seeded and fork.is_standin_usdc(fork.mainnet_usdc()):
            settlement = fork.USDC
        elif not network.is_dev:
            raise BadInput(f"no settlement token for {network.name}: give --settlement or set pst.deployments")
    if uniswap is None:
        uniswap = deploy_uniswap(deployer)
    if not _has_code(settlement):
        from ape_pst_plugin.deployment import _containers

        settlement = deployer.deploy(_containers().TestStablecoin, "Test USD Coin", "USDC", 6).address
    protocol, governance = deploy_governed_protocol(
        deployer,
        uniswap,
        settlement,
        owners=list(owners),
        threshold=threshold,
        min_delay=min_delay,
        guardian=guardian,
    )
    addresses = {
        "factory": protocol.factory.address,
        "timelock": governance.timelock.address,
        "safe": governance.safe.address,
        "uniswap_factory": uniswap.factory.address,
        "uniswap_router": uniswap.router.address,
        "settlement": settlement,
    }
    path = save_record(addresses)
    fields = [Field(k, v) for k, v in addresses.items()]
    fields += [
        Field("registry", protocol.registry.address),
        Field("safe_owners", list(owners), "\n".join(owners)),
        Field("threshold", threshold),
        Field("min_delay", min_delay, f"{min_delay} s"),
        Field("record", str(path)),
    ]
    emit(f"PST protocol on {network.ecosystem.name}:{network.name}", fields, as_json)


# --- read-only views -------------------------------------------------------------------------


@cli.command(name="list", cls=PstCommand, short_help="List the factory's listings.")
@json_option
def list_(as_json):
    """List the listings of this network's factory, each with its grade, the
    age of its merchant's newest attestation (seconds since the registry
    recorded it), whether that attestation is fresh, and the verified cap on
    the running period's counted revenue."""
    from ape_pst_plugin.deployment import listing_at
    from ape_pst_plugin.registry import load_deployment

    deployment = load_deployment()
    listings = [listing_at(deployment.protocol, i) for i in range(deployment.protocol.factory.listing_count())]
    records = [
        {
            "id": listing.id,
            "symbol": listing.token.symbol(),
            "token": listing.token.address,
            "merchant": listing.merchant,
            "settlement": listing.settlement.address,
            "status": STATUS[listing.reserve.status()],
            **{f.key: f.value for f in _underwriting_fields(deployment.protocol, listing, short=True)},
        }
        for listing in listings
    ]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("no listings yet")
        return
    from rich.table import Table

    table = Table(title="PST listings")
    for column in records[0]:
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(*(str(v) for v in record.values()))
    print_table(table)


def _view(view):
    """(value, None) or (None, the revert reason): an oracle view reverts
    while its input is undefined (empty pool, short history, no update yet)."""
    from ape.exceptions import ContractLogicError

    try:
        return view(), None
    except ContractLogicError as error:
        return None, (error.message or "reverted").removeprefix("oracle: ")


def _pe_fields(listing) -> list[Field]:
    from ape_pst_plugin import pe as pem

    oracle, reserve = listing.oracle, listing.reserve
    spot, spot_why = _view(oracle.spot_price)
    eps, eps_why = _view(oracle.eps)
    twap, twap_why = _view(oracle.twap_snapshot)
    pe_low, pe_high = reserve.pe_low(), reserve.pe_high()
    p_low = p_high = None
    if eps:
        p_low, p_high = pem.target_prices(eps, pe_low, pe_high)
    no_eps = eps_why or "EPS is zero"
    return [
        wad("spot_price", spot, spot_why),
        wad("twap", twap, twap_why),
        wad("eps", eps, eps_why),
        wad("pe_at_spot", pem.pe(spot, eps) if spot and eps else None, spot_why or no_eps),
        wad("pe_at_twap", pem.pe(twap, eps) if twap and eps else None, twap_why or no_eps),
        wad("pe_low", pe_low),
        wad("pe_high", pe_high),
        wad("p_low", p_low, no_eps),
        wad("p_high", p_high, no_eps),
    ]


@cli.command(cls=PstCommand, short_help="Price, EPS, PE and the band of a listing.")
@click.argument("listing_key", metavar="LISTING")
@json_option
def pe(listing_key, as_json):
    """Price, TWAP, EPS, PE and the band's target prices of LISTING (id, token address or symbol)."""
    listing = _listing(listing_key)
    emit(f"{listing.token.symbol()} PE", _pe_fields(listing), as_json)


def _underwriting_fields(protocol, listing, short: bool = False) -> list[Field]:
    """A listing's grade (the factory's record), its merchant's newest
    attestation (``registry.latest``) and the registry's cap on the running
    period's counted revenue. The age counts from ``recorded_at`` (when the
    registry accepted it), not from ``issued_at``."""
    from ape import chain

    from ape_pst_plugin.underwriting import GRADES

    registry, merchant = protocol.registry, listing.merchant
    entry = protocol.factory.listings(listing.id)
    latest = registry.latest(merchant)
    router = listing.router
    period_start = router.START() + router.current_period() * router.PERIOD()
    decimals = registry.DECIMALS()
    age = chain.blocks.head.timestamp - latest.recorded_at if latest.recorded_at else None
    fields = [
        Field("grade", GRADES[entry.grade]),
        Field("attestation_age", age, None if age is None else f"{age} s since recorded", "never attested"),
        Field("verified_revenue_fresh", registry.is_fresh(merchant)),
        amount("verified_cap", registry.verified_cap(merchant, period_start), decimals),
    ]
    if short:
        return fields
    return [
        *fields,
        Field("premium_bps", entry.premium_bps),
        Field("attestation_agent", latest.agent),
        Field("attestation_issued_at", latest.issued_at),
        Field("attestation_recorded_at", latest.recorded_at),
        Field("attestation_expires_at", latest.expires_at),
        amount("verified_month_revenue", latest.month_revenue, decimals),
    ]


@cli.command(cls=PstCommand, short_help="Everything about a listing.")
@click.argument("listing_key", metavar="LISTING")
@json_option
def status(listing_key, as_json):
    """Everything about LISTING (id, token address or symbol): prices and PE,
    the band, reserve balances, the merchant stake, staking, the last trade,
    the period's performance, and underwriting: the listing's grade, the
    merchant's newest attestation (its age is the time since the registry
    recorded it) and the verified cap on the running period."""
    from ape import chain

    from ape_pst_plugin.registry import load_deployment

    listing = _listing(listing_key)
    reserve, router, staking = listing.reserve, listing.router, listing.staking
    protocol = load_deployment().protocol
    decimals = listing.settlement.decimals()
    last_trade = reserve.last_trade()
    period = router.current_period()
    now = chain.blocks.head.timestamp
    fields = [
        Field("listing", listing.id),
        Field("token", listing.token.address),
        Field("merchant", listing.merchant),
        Field("settlement", listing.settlement.address),
        Field("settlement_decimals", decimals),
        *_pe_fields(listing),
        amount("reserve_free_balance", reserve.free_balance(), decimals),
        wad("reserve_inventory", reserve.inventory()),
        amount("merchant_stake", reserve.stake(), decimals),
        wad("staked", staking.total_staked()),
        Field("share_bps", router.share_bps()),
        Field("capacity_bps", reserve.capacity_bps()),
        Field("cooldown", reserve.cooldown(), f"{reserve.cooldown()} s"),
        Field("last_trade", last_trade or None, f"{now - last_trade} s ago" if last_trade else "never", "never traded"),
        amount("stake_held_for_fund", reserve.held_for_fund(), decimals),
        amount("net_spent", reserve.net_spent(), decimals),
        Field("max_exposure_bps", reserve.max_exposure_bps()),
        Field("period", period),
        amount("period_gross", router.period_gross(period), decimals),
        amount("period_counted", router.counted(period), decimals),
        *_underwriting_fields(protocol, listing),
        amount("revenue_target", reserve.revenue_target(), decimals),
        Field("consecutive_misses", reserve.consecutive_misses()),
        Field("status", STATUS[reserve.status()]),
        Field("router_paused", router.paused()),
        Field("stabiliser_paused", reserve.paused()),
    ]
    emit(f"{listing.token.symbol()} status", fields, as_json)


# --- transactions ----------------------------------------------------------------------------


@cli.command(
    cls=PstCommand,
    short_help="Pay a listing's merchant through its revenue router.",
    # a negative AMOUNT is an amount (refused as such), not an unknown option
    context_settings={"ignore_unknown_options": True},
)
@click.argument("listing_key", metavar="LISTING")
@click.argument("amount_text", metavar="AMOUNT", callback=_positive_number)
@click.option(
    "--order-id", default=None, callback=_order_id, help="Order id, at most 32 bytes of hex; random by default."
)
@account_option
@json_option
def pay(listing_key, amount_text, order_id, account_alias, as_json):
    """Pay AMOUNT to LISTING's merchant through its revenue router, approving
    it first if needed; the holders' share and the protection premium are split
    off. AMOUNT is in whole units of the settlement token, like 12.50."""
    listing = _listing(listing_key)
    decimals = listing.settlement.decimals()
    raw = _parse_amount(amount_text, decimals)
    payer = _account(account_alias)
    if listing.settlement.balanceOf(payer) < raw:
        raise BadAmount(f"{payer.address} holds less than {amount_text} of the settlement token")
    order = order_id if order_id is not None else secrets.token_bytes(32)
    if listing.settlement.allowance(payer, listing.router) < raw:
        listing.settlement.approve(listing.router, raw, sender=payer)
    receipt = listing.router.pay(order, raw, sender=payer)
    event = receipt.events.filter(listing.router.Payment)[0]
    fields = [
        Field("order_id", "0x" + order.hex()),
        amount("gross", event.gross, decimals),
        amount("holders", event.holder_share, decimals),
        amount("protection_premium", event.premium, decimals),
        amount("merchant", event.gross - event.holder_share - event.premium, decimals),
        Field("transaction", str(receipt.txn_hash)),
    ]
    emit(f"paid {listing.token.symbol()}", fields, as_json)


@cli.command(cls=PstCommand, short_help="Run a listing's stabiliser once.")
@click.argument("listing_key", metavar="LISTING")
@click.option("--update/--no-update", default=True, show_default=True, help="Call the oracle's update() first.")
@account_option
@json_option
def stabilise(listing_key, update, account_alias, as_json):
    """Run LISTING's stabiliser once: buy below the band, sell above it, nothing inside."""
    listing = _listing(listing_key)
    keeper = _account(account_alias)
    if update:
        listing.oracle.update(sender=keeper)
    inventory, free = listing.reserve.inventory(), listing.reserve.free_balance()
    receipt = listing.reserve.stabilise(sender=keeper)
    decimals = listing.settlement.decimals()
    bought = listing.reserve.inventory() - inventory
    spent = free - listing.reserve.free_balance()
    action = "buy" if bought > 0 else "sell" if bought < 0 else "none"
    fields = [
        Field("action", action, "none (PE inside the band)" if action == "none" else action),
        wad("tokens", abs(bought)),
        amount("settlement", abs(spent), decimals),
        wad("spot_price_after", listing.oracle.spot_price()),
        Field("gas_used", receipt.gas_used),
    ]
    emit(f"{listing.token.symbol()} stabilise", fields, as_json)


@cli.command(cls=PstCommand, short_help="Assess a listing's oldest finished period.")
@click.argument("listing_key", metavar="LISTING")
@account_option
@json_option
def assess(listing_key, account_alias, as_json):
    """Assess LISTING's oldest unassessed period: its counted revenue against
    its revenue target (a miss slashes 20% of the stake and makes the listing
    late; the third miss in a row defaults)."""
    listing = _listing(listing_key)
    reserve = listing.reserve
    receipt = reserve.assess(sender=_account(account_alias))
    [event] = receipt.events.filter(reserve.Assessed)
    decimals = listing.settlement.decimals()
    fields = [
        Field("period", event.period),
        amount("counted", event.counted, decimals),
        amount("target_due", event.due, decimals),
        amount("slashed", event.slashed, decimals),
        Field("consecutive_misses", event.misses),
        Field("status", STATUS[event.status]),
    ]
    emit(f"{listing.token.symbol()} assess", fields, as_json)


# --- faucet ----------------------------------------------------------------------------------


@cli.command(cls=PstCommand, short_help="Settlement tokens for an address, on dev networks.")
@click.argument("amount_text", metavar="AMOUNT", callback=_positive_number)
@click.option("--to", "to", default=None, callback=_address, help="Who gets them (default: the signer).")
@account_option
@json_option
def faucet(network, amount_text, to, account_alias, as_json):
    """Give AMOUNT whole settlement tokens (e.g. 1000.5) to --to (default the
    signer), on a dev network only (the local network, the devnet, a fork):
    the recorded settlement token, else the USDC stand-in the stand-in and
    the devnet are seeded with. A test stablecoin mints with its faucet;
    another token (a real one on a fork) gets its balance slot written."""
    from ape_pst_plugin import fork
    from ape_pst_plugin.deployment import _containers, _erc20
    from ape_pst_plugin.registry import _has_code, configured_addresses

    if not network.is_dev:
        raise BadInput(f"no faucet on {network.name}: only on the local network, the devnet or a fork")
    signer = _account(account_alias)
    recorded = configured_addresses()["settlement"]
    if _has_code(recorded):
        address = recorded
    elif fork.has_seeded_uniswap() and _has_code(fork.USDC):
        address = fork.USDC
    else:
        raise BadInput(f"no settlement token on {network.name}: `ape pst deploy` first")
    token = _erc20(address)
    decimals = token.decimals()
    amount_raw = _parse_amount(amount_text, decimals)
    receiver = to or signer.address
    before = token.balanceOf(receiver)
    if bytes(network.provider.get_code(address)).startswith(fork.project_runtime_code()):
        _containers().TestStablecoin.at(address).faucet(receiver, amount_raw, sender=signer)
    else:
        fork.write_balance(token, receiver, amount_raw)
    fields = [
        Field("token", address),
        Field("to", receiver),
        amount("amount", amount_raw, decimals),
        amount("balance", token.balanceOf(receiver), decimals),
    ]
    if token.balanceOf(receiver) - before != amount_raw:
        raise PstError(f"the faucet gave {token.balanceOf(receiver) - before} base units, not {amount_raw}")
    emit(f"{token.symbol()} faucet", fields, as_json)


# --- keeper ----------------------------------------------------------------------------------


@cli.command(cls=PstCommand, short_help="Keep every listing alive: the Silverback keeper bot.")
@account_option
@click.option(
    "--max-gas-price",
    "max_gas_price",
    type=click.IntRange(min=1),
    default=None,
    help="Send nothing while the gas price is above this (wei); the work waits for the next block.",
)
@click.option("-x", "--max-exceptions", "max_exceptions", type=click.IntRange(min=1), default=3, show_default=True)
def keeper(network, account_alias, max_gas_price, max_exceptions):
    """Run the keeper bot (`ape_pst_plugin.bot`, on ApeWorX's Silverback) on
    the connected network for every listing of this network's factory:
    assess() finished periods, update() stale oracles, stabilise() when the
    TWAP PE is out of band and an eth_call says it would trade. Runs until
    stopped (Ctrl-C); each action is one log line, and a node that goes away
    and comes back is waited for. The same as `PST_FACTORY=<factory>
    silverback run ape_pst_plugin.bot:bot --runner ape_pst_plugin.bot:KeeperRunner`."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from ape_pst_plugin.registry import load_deployment

    signer = _account(account_alias)
    factory = load_deployment().protocol.factory.address
    alias = account_alias or "TEST::0"  # what _account(None) chose: the first test account
    env = dict(os.environ, PST_FACTORY=factory)
    if max_gas_price is not None:
        env["PST_MAX_GAS_PRICE"] = str(max_gas_price)
    silverback = Path(sys.executable).with_name("silverback")
    from ape import networks

    choice = networks.provider.network_choice  # as silverback's --network takes it
    command = [str(silverback), "run", "ape_pst_plugin.bot:bot", "--network", choice]
    command += ["--account", alias, "--max-exceptions", str(max_exceptions)]
    command += ["--runner", "ape_pst_plugin.bot:KeeperRunner"]
    click.echo(f"keeping the listings of factory {factory} as {signer.address} (Ctrl-C stops)", err=True)
    try:
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return
    if code not in (0, -2, 130):
        raise PstError(f"the keeper bot stopped with exit code {code} (its log is above)")


# --- protection fund -------------------------------------------------------------------------

MAX_UINT = 2**256 - 1


def _pot_record(pot, listing_id: int, symbol: str, decimals: int, window: int) -> list[Field]:
    """One pot's fields (``pot``: the fund's ``pots(id)``); the rate as settlement per whole token (exact)."""
    return [
        Field("listing", listing_id),
        Field("symbol", symbol),
        amount("pot", pot.amount, decimals),
        amount("earmarked", pot.earmarked, decimals),
        amount("from_fund", pot.from_fund, decimals),
        amount("loss_base", pot.loss_base, decimals),
        wad("covered_tokens", pot.covered_tokens),
        # settlement units per token wei times 1e36 -> whole settlement per whole token
        amount("rate_per_token", pot.rate, 18 + decimals),
        wad("claimed_tokens", pot.claimed_tokens),
        amount("paid", pot.paid, decimals),
        Field("opened_at", pot.opened_at),
        Field("window_ends_at", pot.opened_at + window),
        Field("closed", bool(pot.closed)),
    ]


@cli.command(name="fund", cls=PstCommand, short_help="The protection fund: free fund, coverage, stress, pots.")
@json_option
def fund_(as_json):
    """Show the holders' protection fund: its balance, the free fund (balance
    less what open pots owe), coverage (free fund over cover_bps of the live
    listings' market caps; under the minimum nothing is listed), stress (late
    listings' loss bases against the free fund; in stress no reserve buys),
    its parameters and every defaulted listing's pot."""
    from ape_pst_plugin.deployment import listing_at
    from ape_pst_plugin.registry import load_deployment

    protocol = load_deployment().protocol
    fund, settlement = protocol.fund, protocol.settlement
    decimals = settlement.decimals()
    params = fund.params()
    coverage = fund.coverage_bps()
    fields = [
        Field("address", fund.address),
        amount("balance", settlement.balanceOf(fund), decimals),
        amount("free_fund", fund.free_fund(), decimals),
        amount("owed_by_open_pots", fund.locked(), decimals),
        amount("committed_from_fund", fund.committed(), decimals),
        amount("covered_market_cap", fund.covered_market_cap(), decimals),
        Field("coverage_bps", None if coverage == MAX_UINT else coverage, why="no live listing"),
        Field("min_coverage_bps", params.min_coverage_bps),
        Field("listing_allowed", bool(fund.can_list())),
        amount("late_loss_total", fund.late_loss_total(), decimals),
        Field("stress_bps", params.stress_bps),
        Field("in_stress", bool(fund.in_stress())),
        Field("cover_bps", params.cover_bps),
        Field("max_payout_bps", params.max_payout_bps),
        Field("per_listing_cap_bps", params.per_listing_cap_bps),
        Field("claim_window_days", params.claim_window // DAY),
        Field("paused", bool(fund.paused())),
    ]
    pots = []
    for listing_id in range(protocol.factory.listing_count()):
        pot = fund.pots(listing_id)
        if pot.opened_at:
            symbol = listing_at(protocol, listing_id).token.symbol()
            pots.append(_pot_record(pot, listing_id, symbol, decimals, params.claim_window))
    if as_json:
        fields.append(Field("pots", [{f.key: f.value for f in pot} for pot in pots]))
        emit("protection fund", fields, as_json)
        return
    fields.append(Field("open_pots", fund.open_pot_count()))
    emit("protection fund", fields, as_json)
    for pot in pots:
        emit(f"pot of listing {pot[0].value} ({pot[1].value})", pot[2:], as_json)


@cli.command(cls=PstCommand, short_help="Hand in a defaulted listing's tokens for its pot's rate.")
@click.argument("listing_key", metavar="LISTING")
@click.argument("amount_text", metavar="AMOUNT", callback=_positive_number)
@click.option("--receiver", default=None, callback=_address, help="Who is paid (default: the signer).")
@account_option
@json_option
def claim(listing_key, amount_text, receiver, account_alias, as_json):
    """Hand in AMOUNT tokens (whole tokens, like 12.5) of the defaulted
    LISTING to the protection fund, approving it first if needed, and receive
    AMOUNT times the pot's fixed rate in the settlement token. The tokens stay
    in the fund for good."""
    from ape_pst_plugin.deployment import _containers

    listing = _listing(listing_key)
    fund = _containers().ProtectionFund.at(listing.reserve.FUND())
    symbol, decimals = listing.token.symbol(), listing.settlement.decimals()
    raw = _parse_amount(amount_text, 18)
    holder = _account(account_alias)
    pot = fund.pots(listing.id)  # its rate is fixed once open
    if not pot.opened_at:
        raise BadInput(f"{symbol} has no open pot: only a defaulted listing's holders claim (see `ape pst fund`)")
    if listing.token.balanceOf(holder) < raw:
        raise BadAmount(f"{holder.address} holds less than {amount_text} {symbol}")
    if listing.token.allowance(holder, fund) < raw:
        listing.token.approve(fund, raw, sender=holder)
    receipt = fund.claim(listing.id, raw, receiver or holder.address, sender=holder)
    [event] = receipt.events.filter(fund.Claimed)
    fields = [
        wad("tokens_handed_in", event.tokens),
        amount("paid", event.paid, decimals),
        Field("receiver", event.receiver),
        amount("rate_per_token", pot.rate, 18 + decimals),
        Field("transaction", str(receipt.txn_hash)),
    ]
    emit(f"{symbol} claim", fields, as_json)


# --- underwriting ----------------------------------------------------------------------------


def _validity(ctx, param, value: int) -> int:
    """Click callback: ``--validity`` in days, at most the registry's ``MAX_VALIDITY``."""
    from ape_pst_plugin.underwriting import MAX_VALIDITY

    if not 1 <= value <= MAX_VALIDITY // DAY:
        raise BadInput(f"--validity {value}: an attestation is valid for 1 to {MAX_VALIDITY // DAY} days")
    return value


def _settlement_decimals(asked: int | None, need_deployment: bool) -> tuple[int, object]:
    """The settlement token's decimals and the deployment (or ``None``): the
    registry's on a network with a deployment (``--decimals`` must agree),
    else ``--decimals``, 6 by default."""
    from ape_pst_plugin.exceptions import NoDeployment
    from ape_pst_plugin.registry import load_deployment

    try:
        deployment = load_deployment()
    except NoDeployment:
        if need_deployment:
            raise
        if asked is not None and not 0 <= asked <= 18:
            raise BadInput(f"--decimals {asked}: a settlement token has 0 to 18 decimals") from None
        return (6 if asked is None else asked), None
    decimals = deployment.protocol.registry.DECIMALS()
    if asked is not None and asked != decimals:
        raise BadInput(f"--decimals {asked}: the registry's settlement token here has {decimals}")
    return decimals, deployment


def _bps(key: str, value: int) -> Field:
    return Field(key, value, f"{value} bps ({Decimal(value).scaleb(-2)}%)")


@cli.command(cls=PstCommand, short_help="Score a merchant's monthly data and attest it.")
@click.argument("data", metavar="DATA")
@click.option(
    "--merchant", required=True, callback=_address, help="The merchant's address (what the attestation is about)."
)
@account_option
@click.option(
    "--submit",
    is_flag=True,
    help="Sign the attestation with --account (a bonded risk agent) and submit it to the registry.",
)
@click.option(
    "--validity",
    type=int,
    default=30,
    show_default=True,
    callback=_validity,
    help="Days the attestation is valid from the chain's latest block (at most 35).",
)
@click.option(
    "--merchant-id",
    "merchant_id_text",
    default=None,
    help="The agent's own reference for the merchant; merchant_id is its keccak-256 (default: of the merchant's address).",
)
@click.option(
    "--decimals",
    type=int,
    default=None,
    help="Settlement token decimals without a deployment here (default 6); with one, the registry's.",
)
@json_option
def underwrite(data, merchant, account_alias, submit, validity, merchant_id_text, decimals, as_json):
    """Underwrite a merchant from DATA, its monthly export (CSV or JSON: month,
    gross, refunds, orders, top_channel_share; see the README): prints the
    attested inputs computed from it, the model's points per criterion, the
    grade and the grade's terms. With --submit, the agent (--account) signs the
    EIP-712 attestation (issued at the latest block, the merchant's next
    nonce) and submits it; the registry's grade must equal the one printed."""
    from ape_pst_plugin import merchant_data as md
    from ape_pst_plugin import underwriting as uw

    decimals, deployment = _settlement_decimals(decimals, need_deployment=submit)
    loaded = md.load(data, decimals)
    inputs = loaded.inputs
    try:
        score = uw.score(inputs, decimals)
    except uw.ScoringError as err:
        raise uw.ScoringError(f"{data}: not underwritable: {err}") from None
    terms = uw.terms(score.grade, inputs.volatility_bps)
    listable = score.grade != uw.GRADE_NONE
    why = "not listable (grade none)"
    merchant_id = md.merchant_id(merchant, merchant_id_text)
    fields = [
        Field("data", str(loaded.path)),
        Field("first_month", loaded.months[0].month),
        Field("last_month", loaded.months[-1].month),
        Field("merchant", merchant),
        Field("merchant_id", "0x" + merchant_id.hex()),
        Field("evidence_hash", "0x" + loaded.evidence_hash.hex()),
        Field("settlement_decimals", decimals),
        Field("history_months", inputs.history_months),
        amount("avg_monthly_revenue", inputs.avg_monthly_revenue, decimals),
        amount("month_revenue", inputs.month_revenue, decimals),
        _bps("volatility_bps", inputs.volatility_bps),
        _bps("growth_bps", inputs.growth_bps),
        _bps("refund_bps", inputs.refund_bps),
        _bps("top_channel_bps", inputs.top_channel_bps),
        *(Field(f"points_{name}", points) for name, points in score.points().items()),
        Field("points_total", score.total, f"{score.total} of 100"),
        Field("grade", uw.GRADES[score.grade], None if listable else why),
        *(
            [
                _bps("stake_bps", terms.stake_bps),
                _bps("target_ratio_bps", terms.target_ratio_bps),
                wad("max_listing_pe", terms.max_listing_pe),
                _bps("premium_bps", terms.premium_bps),
                amount("revenue_target", terms.revenue_target(inputs.avg_monthly_revenue), decimals),
            ]
            if listable
            else [
                Field(key, None, why=why)
                for key in ("stake_bps", "target_ratio_bps", "max_listing_pe", "premium_bps", "revenue_target")
            ]
        ),
    ]
    mismatch = None
    if submit:
        from ape_pst_plugin.deployment import sign_attestation

        registry = deployment.protocol.registry
        agent = _account(account_alias)
        message, signature = sign_attestation(
            registry,
            agent,
            merchant,
            inputs,
            validity=validity * DAY,
            merchant_id=merchant_id,
            evidence_hash=loaded.evidence_hash,
        )
        receipt = registry.submit(message.as_tuple(), signature, sender=agent)
        [event] = receipt.events.filter(registry.Attested)
        fields += [
            Field("agent", agent.address),
            Field("nonce", message.nonce),
            Field("issued_at", message.issued_at),
            Field("expires_at", message.expires_at),
            Field("transaction", str(receipt.txn_hash)),
            Field("registry_grade", uw.GRADES[event.grade]),
            Field("registry_points_total", event.score),
        ]
        if (event.grade, event.score) != (score.grade, score.total):
            mismatch = (
                f"the registry graded {uw.GRADES[event.grade]} ({event.score} points), the Python model "
                f"{uw.GRADES[score.grade]} ({score.total}): the twin disagrees with the contract, report it"
            )
    emit(f"underwriting {merchant}", fields, as_json)
    if mismatch:
        raise TwinMismatch(mismatch)


# `ape pst fork ...`, `ape pst simulate` and the DAO's `propose`, `approve`, `execute`, `queue`
# register themselves on `cli`
import ape_pst_plugin._dao_cli  # noqa: F401, E402
import ape_pst_plugin._sim_cli  # noqa: F401, E402
