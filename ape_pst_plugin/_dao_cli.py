"""``ape pst propose create-listing|set``, ``ape pst approve``, ``ape pst
execute`` and ``ape pst queue``: the DAO's workflow (:mod:`ape_pst_plugin.dao`)
on the command line. Pending Safe transactions are kept in
``.build/pst/safe-queue.json``, not in ape-safe (whose local ``MockSafeClient``
forgets them between commands)."""

import json

import click

from ape_pst_plugin._cli import (
    Field,
    PstCommand,
    PstGroup,
    _account,
    _address,
    _parse_amount,
    _positive_number,
    account_option,
    amount,
    cli,
    emit,
    json_option,
    print_table,
)
from ape_pst_plugin.exceptions import BadAmount, BadInput

WAD_DECIMALS = 18


def _whole(ctx, param, value: str) -> int:
    """Click callback: a positive number of whole units (18 decimals) as base units."""
    try:
        return _parse_amount(value, WAD_DECIMALS)
    except BadAmount as err:
        raise BadAmount(str(err).replace("AMOUNT", f"--{param.name}", 1)) from None


def _fields(tx, now) -> list[Field]:
    """A proposal's record and its state on chain (``now``: :class:`ape_pst_plugin.dao.Status`)."""
    from ape_pst_plugin.dao import when

    not_scheduled = "not scheduled on the timelock"
    return [
        Field("id", tx.id),
        Field("description", tx.description),
        Field("state", now.state, now.describe()),
        Field("signatures", now.signed, f"{now.signed}/{now.threshold}"),
        Field("threshold", now.threshold),
        Field("signed_by", now.signed_by, "\n".join(now.signed_by) or "nobody"),
        Field("eta", now.eta, None if now.eta is None else f"{when(now.eta)} ({now.eta})", not_scheduled),
        Field(
            "expires_at",
            now.expires_at,
            None if now.expires_at is None else f"{when(now.expires_at)} ({now.expires_at})",
            not_scheduled,
        ),
        Field("safe_nonce", tx.safe_nonce),
        Field("safe_tx_hash", tx.safe_tx_hash),
        Field("operation_id", tx.operation_id),
        Field("target", tx.target),
        Field("function", tx.function),
        Field("calldata", tx.calldata),
        Field("salt", tx.salt),
        Field("delay", tx.delay, f"{tx.delay} s"),
        Field("proposer", tx.proposer),
        Field("scheduled_tx", tx.scheduled_tx, why="the Safe has not scheduled it through ape pst"),
        Field("executed_tx", tx.executed_tx, why="not executed through ape pst"),
    ]


def _json_record(fields: list[Field]) -> dict:
    """One JSON object of ``fields``, a ``null`` value's reason under ``undefined`` (as ``emit`` does)."""
    record = {f.key: f.value for f in fields}
    undefined = {f.key: f.why for f in fields if f.value is None and f.why}
    if undefined:
        record["undefined"] = undefined
    return record


def _show(title: str, deployment, tx, as_json: bool) -> None:
    from ape_pst_plugin import dao

    emit(title, _fields(tx, dao.status(dao.governance_of(deployment), tx)), as_json)


# --- propose ---------------------------------------------------------------------------------


# --- the agent's and the merchant's own steps before a listing ------------------------------


@cli.command(name="bond", cls=PstCommand, short_help="A risk agent posts bond to the registry.")
@click.argument("amount_text", metavar="AMOUNT", callback=_positive_number)
@account_option
@json_option
def bond(amount_text, account_alias, as_json):
    """The signer, a risk agent the DAO allow-listed (`ape pst propose set
    registry add_agent ADDR`), posts AMOUNT whole settlement units to its bond
    in the UnderwritingRegistry, approving the registry first. Checked before
    anything is sent: an allow-listed agent that holds AMOUNT."""
    from ape_pst_plugin.registry import load_deployment

    protocol = load_deployment().protocol
    registry, settlement = protocol.registry, protocol.settlement
    agent = _account(account_alias)
    decimals = settlement.decimals()
    raw = _parse_amount(amount_text, decimals)
    if not registry.is_agent(agent):
        raise BadInput(
            f"{agent.address} is not an allow-listed risk agent: the DAO adds it "
            f"(`ape pst propose set registry add_agent {agent.address}`)"
        )
    if settlement.balanceOf(agent) < raw:
        raise BadInput(f"{agent.address} holds {settlement.balanceOf(agent)} base units, not {raw} (`ape pst faucet`)")
    if settlement.allowance(agent, registry) < raw:
        settlement.approve(registry, raw, sender=agent)
    registry.post_bond(raw, sender=agent)
    fields = [
        Field("agent", agent.address),
        amount("posted", raw, decimals),
        amount("bond", registry.bond(agent), decimals),
    ]
    emit("risk agent bond", fields, as_json)


@cli.command(name="approve-stake", cls=PstCommand, short_help="A merchant approves the factory for its stake.")
@click.option("--supply", default="1000000", show_default=True, callback=_whole, help="Token supply, whole tokens.")
@click.option(
    "--price", default="2", show_default=True, callback=_whole, help="Initial price: settlement units per token."
)
@account_option
@json_option
def approve_stake(supply, price, account_alias, as_json):
    """The signer, a merchant with a fresh attestation, approves the listing
    factory for the stake its grade asks of a listing of --supply tokens at
    --price (the grade's stake_bps of price times supply): what `ape pst
    propose create-listing` then checks. Checked before anything is sent: a
    fresh attestation with a listable grade, and the merchant holds the stake."""
    from ape_pst_plugin import dao
    from ape_pst_plugin.registry import load_deployment

    protocol = load_deployment().protocol
    settlement, factory = protocol.settlement, protocol.factory
    merchant = _account(account_alias)
    terms, stake = dao.listable_stake(protocol, merchant.address, supply, price)
    decimals = settlement.decimals()
    if settlement.balanceOf(merchant) < stake:
        raise BadInput(f"{merchant.address} holds {settlement.balanceOf(merchant)} of the stake's {stake} base units")
    settlement.approve(factory, stake, sender=merchant)
    fields = [
        Field("merchant", merchant.address),
        Field("stake_bps", terms.stake_bps),
        amount("stake", stake, decimals),
        Field("factory", factory.address),
    ]
    emit("stake approved", fields, as_json)


@click.group(cls=PstGroup, short_help="Propose a governance call to the DAO Safe.")
def propose():
    """Propose a governance call as a DAO Safe transaction that schedules it on
    the timelock (after the timelock's minimum delay), signed by the proposing
    owner (--account). More owners sign with `ape pst approve ID`; at the Safe's
    threshold the Safe schedules it; after the delay anyone runs `ape pst
    execute ID`. The Safe transaction takes the Safe's current nonce: of two
    proposals awaiting signatures at one nonce, the first executed makes the
    other stale."""


@propose.command(name="create-listing", cls=PstCommand, short_help="Propose a new listing.")
@click.option("--merchant", required=True, callback=_address, help="The merchant to list.")
@click.option("--name", required=True, help="The token's name (at most 25 bytes).")
@click.option("--symbol", required=True, help="The token's symbol (at most 5 bytes).")
@click.option("--supply", default="1000000", show_default=True, callback=_whole, help="Token supply, whole tokens.")
@click.option(
    "--price", default="2", show_default=True, callback=_whole, help="Initial price: settlement units per token."
)
@click.option("--payout", default=None, callback=_address, help="Where the merchant's revenue goes (default: it).")
@account_option
@json_option
def create_listing(merchant, name, symbol, supply, price, payout, account_alias, as_json):
    """Propose the factory's create_listing for MERCHANT. Before anything is
    recorded the merchant must already have a fresh attestation from a bonded
    risk agent (`ape pst underwrite DATA --merchant ADDR --submit --account
    AGENT`) that is still fresh when the delay is over, and must have approved
    the factory for its grade's stake and hold it; the call must not revert if
    the timelock made it now. The stake is taken from the merchant when the
    listing is executed."""
    from ape_pst_plugin import dao
    from ape_pst_plugin.registry import load_deployment

    deployment = load_deployment()
    call = dao.listing_call(
        deployment, merchant=merchant, name=name, symbol=symbol, supply=supply, price=price, payout=payout or merchant
    )
    tx, _ = dao.propose(deployment, call, _account(account_alias))
    _show(f"proposed {tx.id}", deployment, tx, as_json)


@propose.command(
    name="set",
    cls=PstCommand,
    short_help="Propose a call of an owner-only function.",
    # a negative integer argument is an argument, not an unknown option
    context_settings={"ignore_unknown_options": True},
)
@click.argument("target")
@click.argument("function")
@click.argument("args", nargs=-1)
@account_option
@json_option
def set_(target, function, args, account_alias, as_json):
    """Propose TARGET.FUNCTION(ARGS...), a function of a contract the timelock
    owns: TARGET is factory, registry, fund, timelock, or reserve:LISTING,
    router:LISTING, oracle:LISTING (LISTING: id, token address or symbol).
    ARGS are converted by the function's ABI types: integers in base units as
    the contract takes them (a wad like a PE of 8 is 8e18, 0.5e18 is half;
    bps as integers), addresses in hex, true/false, bytes in hex, a struct as
    '(a,b,...)' and an array as '[a,b,...]' (quoted for the shell). Refused
    before anything is recorded: an unknown target or function, a view, the
    wrong number or type of arguments, a contract the timelock does not own,
    or a call that would revert if the timelock made it now. Example:
    `ape pst propose set reserve:0 set_band 8e18 15e18 --account OWNER`."""
    from ape_pst_plugin import dao
    from ape_pst_plugin.registry import load_deployment

    deployment = load_deployment()
    call = dao.setter_call(deployment, target, function, args)
    tx, _ = dao.propose(deployment, call, _account(account_alias))
    _show(f"proposed {tx.id}", deployment, tx, as_json)


cli.add_command(propose)


# --- approve, execute, queue -----------------------------------------------------------------


@cli.command(cls=PstCommand, short_help="Sign a proposal; at the threshold the Safe schedules it.")
@click.argument("tx_id", metavar="ID")
@account_option
@json_option
def approve(tx_id, account_alias, as_json):
    """Sign proposal ID (see `ape pst queue`) as a DAO Safe owner (--account).
    The signature that reaches the Safe's threshold also submits the Safe
    transaction (from --account): the Safe schedules the call on the timelock,
    and the output shows its operation id, ETA and expiry."""
    from ape_pst_plugin import dao
    from ape_pst_plugin.registry import load_deployment

    deployment = load_deployment()
    tx, _ = dao.approve(deployment, tx_id, _account(account_alias))
    _show(f"approved {tx.id}", deployment, tx, as_json)


@cli.command(cls=PstCommand, short_help="Execute a scheduled proposal after its delay.")
@click.argument("tx_id", metavar="ID")
@account_option
@json_option
def execute(tx_id, account_alias, as_json):
    """Execute proposal ID on the timelock: anyone may, once its delay is over
    (its ETA) and before it expires (14 days later)."""
    from ape_pst_plugin import dao
    from ape_pst_plugin.registry import load_deployment

    deployment = load_deployment()
    tx, receipt = dao.execute(deployment, tx_id, _account(account_alias))
    fields = [
        Field("id", tx.id),
        Field("description", tx.description),
        Field("state", dao.DONE),
        Field("operation_id", tx.operation_id),
        Field("target", tx.target),
        Field("transaction", str(receipt.txn_hash)),
    ]
    emit(f"executed {tx.id}", fields, as_json)


@cli.command(cls=PstCommand, short_help="Every proposal and its state.")
@json_option
def queue(as_json):
    """Every proposal recorded on this network for the deployment's Safe, with
    its state read from the chain: awaiting signatures (k/threshold),
    scheduled (before its ETA), ready, expired (past the 14-day grace),
    done, stale (the Safe's nonce moved past it) or cancelled; its ETA and
    expiry once scheduled."""
    from ape_pst_plugin import dao
    from ape_pst_plugin.registry import load_deployment

    governance = dao.governance_of(load_deployment())
    rows = []
    for tx in dao.load_queue(governance):
        rows.append(_fields(tx, dao.status(governance, tx)))
    if as_json:
        click.echo(json.dumps([_json_record(row) for row in rows], indent=2))
        return
    if not rows:
        click.echo("no proposals")
        return
    from rich.table import Table

    shown = ("id", "state", "signatures", "safe_nonce", "eta", "expires_at", "description")
    table = Table(title="DAO proposals")
    for key in shown:
        table.add_column(key, no_wrap=key != "description")
    for row in rows:
        by_key = {f.key: f for f in row}
        table.add_row(
            by_key["id"].text,
            by_key["state"].value.replace("_", " "),
            by_key["signatures"].text,
            by_key["safe_nonce"].text,
            *("-" if by_key[key].value is None else dao.when(by_key[key].value) for key in ("eta", "expires_at")),
            by_key["description"].text,
        )
    print_table(table)
