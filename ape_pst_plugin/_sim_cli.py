"""``ape pst fork start|stop|status`` (the mainnet stand-in), ``ape pst
devnet start|stop|status`` (the persistent local chain) and ``ape pst
simulate`` (market scenarios with a report)."""

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from ape.cli import network_option

from ape_pst_plugin._cli import PstAbort, PstCommand, PstGroup, cli, exact, json_option
from ape_pst_plugin.constants import STATUS
from ape_pst_plugin.simulate import SCENARIOS


def _state_record(state) -> dict:
    return {**asdict(state), "uri": state.uri}


def _warn(notes: list[str]) -> None:
    from ape.logging import logger

    for note in notes:
        logger.warning(note)


@click.group(cls=PstGroup)
def fork():
    """Start or stop the local mainnet stand-in (chain id 1)."""


@fork.command(short_help="Start the mainnet stand-in.")
@click.option("--rpc", default=None, help="Fork this network (anvil --fork-url) instead of the offline stand-in.")
@click.option("--block", type=click.IntRange(min=0), default=None, help="Block to fork at (with --rpc).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Loopback port (default: pst.fork_port, 8555)."
)
@json_option
def start(rpc, block, port, as_json):
    """Start the mainnet stand-in: Uniswap V2 (factory, Router02, WETH9) at
    their mainnet addresses and a 6-decimal USDC stand-in at USDC's address.
    With --rpc, fork that network instead. anvil comes from pst.node_modules,
    else the project's node_modules, else PATH."""
    from ape_pst_plugin import fork as standin

    notes: list[str] = []
    state = standin.start(port=port, rpc=rpc, block=block, notes=notes)
    if as_json:
        click.echo(json.dumps({**_state_record(state), "notes": notes}, indent=2))
        return
    _warn(notes)
    what = (
        f"fork of {rpc}" + (f" at block {block}" if block is not None else "")
        if rpc
        else "mainnet stand-in (chain id 1)"
    )
    click.echo(f"{what} on {state.uri}, pid {state.pid}, log {state.log}")
    click.echo("use it with --network ethereum:mainnet-fork:foundry; stop it with `ape pst fork stop`")


@fork.command(short_help="Stop the mainnet stand-in.")
@json_option
def stop(as_json):
    """Stop the stand-in started by `ape pst fork start`. Only a process that
    is an anvil on the recorded port is stopped; a stale record is removed."""
    from ape_pst_plugin import fork as nodes

    _stop(nodes.STANDIN, as_json)


@fork.command(short_help="Say whether the stand-in runs, and where.")
@json_option
def status(as_json):
    """Say whether the stand-in runs, and where (exit code 1 if it does not;
    with --json, ``running`` says so and the exit code is 0)."""
    from ape_pst_plugin import fork as nodes

    _status(nodes.STANDIN, as_json)


def _stop(node, as_json):
    """Stops the recorded node of kind ``node`` (the stand-in or the devnet)."""
    from ape_pst_plugin import fork as nodes

    notes: list[str] = []
    state = nodes.stop(notes=notes, node=node)
    if as_json:
        record = {"stopped": state is not None, **(_state_record(state) if state else {}), "notes": notes}
        click.echo(json.dumps(record, indent=2))
        return
    _warn(notes)
    click.echo(f"stopped the {node.name} (pid {state.pid}, {state.uri})" if state else f"no {node.name} was running")


def _status(node, as_json):
    """Whether the node of kind ``node`` runs, and where (exit code 1 if not, but with --json)."""
    from ape_pst_plugin import fork as nodes

    notes: list[str] = []
    state = nodes.read_state(notes=notes, node=node)
    if as_json:
        record = {"running": state is not None, **(_state_record(state) if state else {}), "notes": notes}
        click.echo(json.dumps(record, indent=2))
        return
    if state is None:
        why = f" ({'; '.join(notes)})" if notes else ""
        raise PstAbort(f"no {node.name} is running{why}: `ape pst {node.command} start`")
    click.echo(
        f"running: pid {state.pid}, {state.uri}, log {state.log}" + (f", forking {state.rpc}" if state.rpc else "")
    )


@click.group(cls=PstGroup, short_help="Start or stop the devnet (chain id 31337).")
def devnet():
    """Start or stop the devnet, the persistent local chain (chain id 31337).

    One anvil that ethereum:local:node reaches, so deploy, listing, pay,
    status, assess and the keeper compose across commands."""


@devnet.command(name="start", short_help="Start the devnet.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Loopback port (default: pst.devnet_port, 8545)."
)
@json_option
def devnet_start(port, as_json):
    """Start the devnet: anvil with chain id 31337 and a block a second (a
    keeper sees time pass), its funded test accounts (`--account TEST::N`),
    Uniswap V2 (factory, Router02, WETH9) and a 6-decimal USDC stand-in at
    their mainnet addresses, seeded as the stand-in is. Its state lasts until
    `ape pst devnet stop`. Use it with --network ethereum:local:node (its
    `node: ethereum: local:` in ape-config.yaml: uri, chain_id 31337, block_time 1)."""
    from ape_pst_plugin import fork as nodes

    notes: list[str] = []
    state = nodes.start(port=port, notes=notes, node=nodes.DEVNET)
    if as_json:
        click.echo(json.dumps({**_state_record(state), "notes": notes}, indent=2))
        return
    _warn(notes)
    click.echo(f"devnet (chain id 31337) on {state.uri}, pid {state.pid}, log {state.log}")
    click.echo("use it with --network ethereum:local:node; stop it with `ape pst devnet stop`")


@devnet.command(name="stop", short_help="Stop the devnet.")
@json_option
def devnet_stop(as_json):
    """Stop the devnet started by `ape pst devnet start` (its state is gone).
    Only an anvil on the recorded port is stopped; a stale record is removed."""
    from ape_pst_plugin import fork as nodes

    _stop(nodes.DEVNET, as_json)


@devnet.command(name="status", short_help="Say whether the devnet runs, and where.")
@json_option
def devnet_status(as_json):
    """Say whether the devnet runs, and where (exit code 1 if it does not;
    with --json, ``running`` says so and the exit code is 0)."""
    from ape_pst_plugin import fork as nodes

    _status(nodes.DEVNET, as_json)


def _report_folder(ctx, param, value: Path | None) -> Path | None:
    """Click callback: an explicit --out must be writable before anything runs."""
    if value is not None:
        from ape_pst_plugin.report import check_writable

        check_writable(value)
    return value


class _Progress:
    """A progress bar on stderr while stderr is a terminal, nothing
    otherwise. It starts at the first simulated step: the set-up before it
    (deployments, the opening of the market) would inflate its estimate."""

    def __init__(self, length: int, label: str):
        self.length, self.label, self.bar = length, label, None

    def __call__(self, hours: int) -> None:
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=self.length, label=self.label, show_pos=True, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(hours)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


def _scenario_help() -> str:
    lines = [f"  {name}: {scenario.description}" for name, scenario in SCENARIOS.items()]
    return "\b\nSCENARIO is one of:\n" + "\n".join(lines)


@click.command(
    cls=PstCommand,
    short_help="Run a market scenario and write its report.",
    epilog=_scenario_help(),
)
@network_option()
@click.argument("scenario", type=click.Choice(tuple(SCENARIOS)), metavar="SCENARIO")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Simulated days.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the traders.")
@click.option(
    "--step-hours",
    type=click.IntRange(1, 24),
    default=1,
    show_default=True,
    help="Simulated hours per step (traders, revenue and keepers act once a step).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=_report_folder,
    help="Report folder (default: reports/SCENARIO); must be writable.",
)
@json_option
def simulate(scenario, days, seed, step_hours, out, as_json):
    """Run SCENARIO on the connected network (the stand-in fork with
    --network ethereum:mainnet-fork:foundry, or local) and write a report:
    report.md, series.csv and PNG plots."""
    from ape.logging import logger

    from ape_pst_plugin.report import check_writable, stress_spells, write_report
    from ape_pst_plugin.simulate import run

    out = check_writable(out or Path("reports") / scenario)
    if not as_json:
        logger.set_level("WARNING")  # a line per set-up transaction would hide the progress bar
    progress = _Progress(days * 24, f"{scenario}, {days} days")
    try:
        result = run(scenario, days=days, seed=seed, hours_per_step=step_hours, progress=progress)
    finally:
        progress.close()
    paths = write_report(result, out)
    if not as_json:
        click.echo(result.summary_line())
        click.echo(f"report: {paths['report']}")
        return
    last = result.rows[-1]
    record = {
        "scenario": scenario,
        "network": result.network,
        "days": days,
        "seed": seed,
        "step_hours": step_hours,
        "buys": sum(t["kind"] == "buy" for t in result.trades),
        "sells": sum(t["kind"] == "sell" for t in result.trades),
        "assessments": len(result.assessments),
        "refusals": len(result.refusals),
        "attacks": len(result.attacks),
        "defaulted": any(a["defaulted"] for a in result.assessments),
        "final_status": STATUS[last.status],
        "attestations": len(result.verifications),
        "attestations_refused": len(result.unattested),
        "verified_revenue_fresh_at_end": last.fresh,
        "final_twap_pe": exact(last.pe, 18),
        "final_spot_price": exact(last.spot, 18),
        "final_reserve_free_balance": exact(last.reserve_stable, result.decimals),
        "final_inventory": exact(last.inventory, 18),
        "start_stake": exact(result.start_stake, result.decimals),
        "final_stake": exact(last.stake, result.decimals),
        "fund_free_before": exact(result.fund_before.get("free"), result.decimals),
        "fund_free_after": exact(result.fund_after.get("free"), result.decimals),
        "pot": {k: v for k, v in result.pot.items() if k != "id"} if result.pot else None,
        "claims": [
            {"day": c["hour"] / 24, "holder": c["who"], "tokens": c["tokens"], "paid": c["paid"]} for c in result.claims
        ],
        "stress_spells": [
            {"from_day": began / 24, "to_day": None if ended is None else ended / 24}
            for began, ended in stress_spells(result)
        ],
        "peers": [
            {"day": p["hour"] / 24, "peer": p["peer"], "period": p["period"], "status": STATUS[p["status"]]}
            for p in result.peers
        ],
        "fund_top_up_during_run": (
            {"day": result.recapitalised["hour"] / 24, "amount": result.recapitalised["amount"]}
            if result.recapitalised
            else None
        ),
        "wall_seconds": round(result.wall_seconds, 3),
        "files": {name: str(path.resolve()) for name, path in paths.items()},
    }
    click.echo(json.dumps(record, indent=2))


cli.add_command(fork)
cli.add_command(devnet)
cli.add_command(simulate)
