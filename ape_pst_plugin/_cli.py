"""``ape pst``: deploy, inspect and drive the PST protocol from the command line.

Every command takes ``--network`` (Ape's network choice) and prints a table,
or JSON with ``--json``. Anything that goes wrong (no deployment here, an
unknown listing, a bad amount, a revert) is one line on stderr and exit
code 1, never a traceback."""

import functools
import json
import secrets
from decimal import Decimal, InvalidOperation

import click
from ape.cli import ConnectedProviderCommand

from ape_pst_plugin._sim_cli import fork, simulate

DAY = 86_400
WAD = 10**18


@click.group(name="pst")
def cli():
    """PST protocol: deploy, inspect listings, pay, stabilise, assess, fork and simulate."""


cli.add_command(fork)
cli.add_command(simulate)


# --- shared plumbing -------------------------------------------------------------------------


def _one_line_errors(fn):
    """Turns every expected failure into a one-line ClickException."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ape.exceptions import ApeException, ContractLogicError

        from ape_pst_plugin.registry import NoDeployment, UnknownListing

        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except ContractLogicError as error:
            raise click.ClickException(f"transaction reverted: {error.message or 'no reason given'}") from None
        except (NoDeployment, UnknownListing, ValueError) as error:
            raise click.ClickException(str(error)) from None
        except ApeException as error:
            raise click.ClickException(str(error).splitlines()[0]) from None

    return wrapper


def _quiet_for_json(ctx, param, value):
    # ape logs to stdout (even "Starting 'anvil' process" while connecting,
    # before the command runs): with --json, stdout must be JSON alone
    if value:
        from ape.logging import logger

        logger.set_level("ERROR")
    return value


json_option = click.option(
    "--json", "as_json", is_flag=True, is_eager=True, callback=_quiet_for_json, help="Print JSON instead of a table."
)
account_option = click.option(
    "--account",
    "account_alias",
    default=None,
    help="Ape account alias that signs (default on the local network: the first test account).",
)


def _account(alias: str | None):
    from ape import accounts, networks

    if alias:
        if alias.startswith("TEST::"):
            return accounts.test_accounts[int(alias.split("::", 1)[1])]
        return accounts.load(alias)
    if networks.provider.network.is_dev:
        return accounts.test_accounts[0]
    raise click.UsageError("give --account ALIAS on a live network")


def _emit(title: str, rows: list[tuple[str, object]], as_json: bool):
    if as_json:
        click.echo(json.dumps({key: value for key, value in rows}, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, str(value))
    Console().print(table)


def _units(amount: int, decimals: int) -> str:
    return f"{Decimal(amount) / Decimal(10) ** decimals:,.{min(decimals, 6)}f}"


def _wad(value: int) -> str:
    return f"{Decimal(value) / Decimal(WAD):,.6f}"


def _parse_amount(text: str, decimals: int) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise click.BadParameter(f"{text!r} is not a number", param_hint="AMOUNT") from None
    if not value.is_finite() or value <= 0:
        raise click.BadParameter(f"{text} must be greater than zero", param_hint="AMOUNT")
    raw = value * Decimal(10) ** decimals
    if raw != raw.to_integral_value():
        raise click.BadParameter(f"{text} has more than {decimals} decimals", param_hint="AMOUNT")
    return int(raw)


def _listing(key: str):
    from ape_pst_plugin.registry import find_listing, load_deployment

    return find_listing(load_deployment(), key)


# --- deploy ----------------------------------------------------------------------------------


@cli.command(cls=ConnectedProviderCommand)
@account_option
@click.option("--owner", "owners", multiple=True, help="A DAO Safe owner (repeat). Default on local: test accounts 0-2.")
@click.option("--threshold", type=int, default=None, help="Safe signatures needed. Default: a majority of owners.")
@click.option("--min-delay", type=int, default=2 * DAY, show_default=True, help="Timelock delay, seconds.")
@click.option("--guardian", default=None, help="May pause routers and stabilisers (default: none).")
@click.option("--settlement", default=None, help="Default settlement token to record (e.g. USDC).")
@json_option
@_one_line_errors
def deploy(network, account_alias, owners, threshold, min_delay, guardian, settlement, as_json):
    """Deploy the whole protocol: a DAO Safe, the timelock, the listing factory
    (and Uniswap V2 from npm on a dev network without one); the timelock ends
    up the only admin and the deployer keeps no role."""
    from ape import accounts

    from ape_pst_plugin.governance import check_min_delay, deploy_governed_protocol
    from ape_pst_plugin.registry import _has_code, configured_addresses, save_record
    from ape_pst_plugin.uniswap import connect_uniswap, deploy_uniswap

    check_min_delay(min_delay, network)
    deployer = _account(account_alias)
    if not owners:
        if not network.is_dev:
            raise click.UsageError("give the DAO Safe's owners with --owner on a live network")
        owners = tuple(a.address for a in list(accounts.test_accounts)[:3])
    threshold = threshold if threshold is not None else len(owners) // 2 + 1
    known = configured_addresses()
    if _has_code(known["uniswap_factory"]) and _has_code(known["uniswap_router"]):
        uniswap = connect_uniswap(known["uniswap_factory"], known["uniswap_router"])
    elif network.is_dev:
        uniswap = deploy_uniswap(deployer)
    else:
        raise click.UsageError(f"no Uniswap V2 configured for {network.name}: set pst.deployments in ape-config.yaml")
    protocol, governance = deploy_governed_protocol(
        deployer, uniswap, owners=list(owners), threshold=threshold, min_delay=min_delay, guardian=guardian
    )
    addresses = {
        "factory": protocol.factory.address,
        "timelock": governance.timelock.address,
        "safe": governance.safe.address,
        "uniswap_factory": uniswap.factory.address,
        "uniswap_router": uniswap.router.address,
        "settlement": settlement or known["settlement"],
    }
    path = save_record(addresses)
    rows = [(k, v) for k, v in addresses.items() if v]
    rows += [("safe owners", ", ".join(owners)), ("threshold", threshold), ("min_delay", min_delay), ("record", path)]
    _emit(f"PST protocol on {network.ecosystem.name}:{network.name}", rows, as_json)


# --- read-only views -------------------------------------------------------------------------


@cli.command(name="list", cls=ConnectedProviderCommand)
@json_option
@_one_line_errors
def list_(as_json):
    """List the listings of this network's factory."""
    from ape_pst_plugin.deployment import listing_at
    from ape_pst_plugin.registry import load_deployment

    deployment = load_deployment()
    listings = [listing_at(deployment.protocol, i) for i in range(deployment.protocol.factory.listing_count())]
    records = [
        {
            "id": l.id,
            "symbol": l.token.symbol(),
            "token": l.token.address,
            "merchant": l.merchant,
            "settlement": l.settlement.address,
            "defaulted": l.reserve.defaulted(),
        }
        for l in listings
    ]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("no listings yet")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="PST listings")
    for column in records[0]:
        table.add_column(column)
    for record in records:
        table.add_row(*(str(v) for v in record.values()))
    Console().print(table)


def _view(view):
    """(value, None) or (None, the revert reason): an oracle view reverts
    while its input is undefined (empty pool, short history, no update yet)."""
    from ape.exceptions import ContractLogicError

    try:
        return view(), None
    except ContractLogicError as error:
        return None, f"undefined ({(error.message or 'reverted').removeprefix('oracle: ')})"


def _pe_rows(listing) -> list[tuple[str, object]]:
    from ape_pst_plugin import pe as pem

    oracle, reserve = listing.oracle, listing.reserve
    spot, spot_why = _view(oracle.spot_price)
    eps, eps_why = _view(oracle.eps)
    twap, twap_why = _view(oracle.twap_snapshot)
    pe_low, pe_high = reserve.pe_low(), reserve.pe_high()
    rows = [
        ("spot price", spot_why or _wad(spot)),
        ("TWAP (last update)", twap_why or _wad(twap)),
        ("EPS", eps_why or _wad(eps)),
        ("PE at spot", _wad(pem.pe(spot, eps)) if spot and eps else "undefined"),
        ("PE at TWAP", _wad(pem.pe(twap, eps)) if twap and eps else "undefined"),
        ("band (PE)", f"{_wad(pe_low)} .. {_wad(pe_high)}"),
    ]
    if eps:
        p_low, p_high = pem.target_prices(eps, pe_low, pe_high)
        rows.append(("target prices", f"{_wad(p_low)} .. {_wad(p_high)}"))
    else:
        rows.append(("target prices", "undefined"))
    return rows


@cli.command(cls=ConnectedProviderCommand)
@click.argument("listing_key", metavar="LISTING")
@json_option
@_one_line_errors
def pe(listing_key, as_json):
    """Price, TWAP, EPS, PE and the band's target prices of LISTING (id, token address or symbol)."""
    listing = _listing(listing_key)
    _emit(f"{listing.token.symbol()} PE", _pe_rows(listing), as_json)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("listing_key", metavar="LISTING")
@json_option
@_one_line_errors
def status(listing_key, as_json):
    """Everything about LISTING: prices and PE, the band, reserve balances,
    the merchant stake, staking, the last trade and the period's performance."""
    from ape import chain

    listing = _listing(listing_key)
    reserve, router, staking = listing.reserve, listing.router, listing.staking
    decimals = listing.settlement.decimals()
    last_trade = reserve.last_trade()
    period = router.current_period()
    rows = [("listing", listing.id), ("token", listing.token.address), ("merchant", listing.merchant)]
    rows += _pe_rows(listing)
    rows += [
        ("reserve free balance", _units(reserve.free_balance(), decimals)),
        ("reserve inventory (tokens)", _wad(reserve.inventory())),
        ("merchant stake", _units(reserve.stake(), decimals)),
        ("staked (tokens)", _wad(staking.total_staked())),
        ("share_bps", router.share_bps()),
        ("capacity_bps / cooldown", f"{reserve.capacity_bps()} / {reserve.cooldown()} s"),
        ("last trade", f"{chain.blocks.head.timestamp - last_trade} s ago" if last_trade else "never"),
        ("period", period),
        ("period gross", _units(router.period_gross(period), decimals)),
        ("revenue target", _units(reserve.revenue_target(), decimals)),
        ("consecutive misses", reserve.consecutive_misses()),
        ("defaulted", reserve.defaulted()),
        ("paused (router / stabiliser)", f"{router.paused()} / {reserve.paused()}"),
    ]
    _emit(f"{listing.token.symbol()} status", rows, as_json)


# --- transactions ----------------------------------------------------------------------------


@cli.command(cls=ConnectedProviderCommand)
@click.argument("listing_key", metavar="LISTING")
@click.argument("amount")
@click.option("--order-id", default=None, help="Order id (32 bytes hex); random by default.")
@account_option
@json_option
@_one_line_errors
def pay(listing_key, amount, order_id, account_alias, as_json):
    """Pay AMOUNT (settlement token units, e.g. 12.50) to LISTING's merchant
    through its revenue router; the holders' share is split off."""
    listing = _listing(listing_key)
    decimals = listing.settlement.decimals()
    raw = _parse_amount(amount, decimals)
    payer = _account(account_alias)
    if listing.settlement.balanceOf(payer) < raw:
        raise click.ClickException(f"{payer.address} holds less than {amount} of the settlement token")
    order = bytes.fromhex(order_id.removeprefix("0x")).rjust(32, b"\0") if order_id else secrets.token_bytes(32)
    if listing.settlement.allowance(payer, listing.router) < raw:
        listing.settlement.approve(listing.router, raw, sender=payer)
    receipt = listing.router.pay(order, raw, sender=payer)
    event = receipt.events.filter(listing.router.Payment)[0]
    rows = [
        ("order id", "0x" + order.hex()),
        ("gross", _units(event.gross, decimals)),
        ("holders", _units(event.holder_share, decimals)),
        ("merchant", _units(event.gross - event.holder_share, decimals)),
        ("transaction", receipt.txn_hash),
    ]
    _emit(f"paid {listing.token.symbol()}", rows, as_json)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("listing_key", metavar="LISTING")
@click.option("--update/--no-update", default=True, show_default=True, help="Call the oracle's update() first.")
@account_option
@json_option
@_one_line_errors
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
    action = "buy" if bought > 0 else "sell" if bought < 0 else "none (PE inside the band)"
    rows = [
        ("action", action),
        ("tokens", _wad(abs(bought))),
        ("settlement", _units(abs(spent), decimals)),
        ("spot price after", _wad(listing.oracle.spot_price())),
        ("gas", receipt.gas_used),
    ]
    _emit(f"{listing.token.symbol()} stabilise", rows, as_json)


@cli.command(cls=ConnectedProviderCommand)
@click.argument("listing_key", metavar="LISTING")
@account_option
@json_option
@_one_line_errors
def assess(listing_key, account_alias, as_json):
    """Assess LISTING's oldest unassessed period against its revenue target
    (slashes a miss; the third miss in a row defaults)."""
    listing = _listing(listing_key)
    reserve = listing.reserve
    period = reserve.next_period()
    stake_before = reserve.stake()
    reserve.assess(sender=_account(account_alias))
    decimals = listing.settlement.decimals()
    rows = [
        ("period", period),
        ("gross", _units(listing.router.period_gross(period), decimals)),
        ("target", _units(reserve.revenue_target(), decimals)),
        ("slashed", _units(stake_before - reserve.stake(), decimals)),
        ("consecutive misses", reserve.consecutive_misses()),
        ("defaulted", reserve.defaulted()),
    ]
    _emit(f"{listing.token.symbol()} assess", rows, as_json)
