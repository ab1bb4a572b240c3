"""``ape pst fork start|stop|status`` (the mainnet stand-in) and
``ape pst simulate`` (market scenarios with a report)."""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option

SCENARIOS = ("steady", "selloff", "mania", "revenue-collapse", "manipulation")


@click.group()
def fork():
    """Start or stop the local mainnet stand-in (chain id 1)."""


@fork.command()
@click.option("--rpc", default=None, help="Fork this network (anvil --fork-url) instead of the offline stand-in.")
@click.option("--block", type=click.IntRange(min=0), default=None, help="Block to fork at (with --rpc).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Loopback port (default: pst.fork_port, 8555).")
def start(rpc, block, port):
    """Start the mainnet stand-in: Uniswap V2 (factory, Router02, WETH9) at
    their mainnet addresses and a 6-decimal USDC stand-in at USDC's address.
    With --rpc, fork that network instead."""
    from ape_pst_plugin import fork as standin

    try:
        state = standin.start(port=port, rpc=rpc, block=block)
    except standin.ForkError as err:
        raise click.ClickException(str(err)) from None
    what = f"fork of {rpc}" + (f" at block {block}" if block is not None else "") if rpc else "mainnet stand-in (chain id 1)"
    click.echo(f"{what} on {state.uri}, pid {state.pid}, log {state.log}")
    click.echo("use it with --network ethereum:mainnet-fork:foundry; stop it with `ape pst fork stop`")


@fork.command()
def stop():
    """Stop the stand-in started by `ape pst fork start`."""
    from ape_pst_plugin import fork as standin

    state = standin.stop()
    click.echo(f"stopped the stand-in (pid {state.pid}, {state.uri})" if state else "no stand-in was running")


@fork.command()
def status():
    """Say whether the stand-in runs, and where."""
    from ape_pst_plugin import fork as standin

    state = standin.read_state()
    if state is None:
        raise click.ClickException("no stand-in is running: `ape pst fork start`")
    click.echo(f"running: pid {state.pid}, {state.uri}, log {state.log}" + (f", forking {state.rpc}" if state.rpc else ""))


class _SimulateCommand(ConnectedProviderCommand):
    """Refuses a fork network with no stand-in before ape tries to connect
    (that would end in a traceback), and turns connection errors into one line."""

    def invoke(self, ctx):
        from ape.exceptions import ApeException

        from ape.cli.options import NETWORK_META_KEY

        # network_option parsed --network into a provider (not connected yet)
        provider = (ctx.meta.get(NETWORK_META_KEY) or {}).get("provider") or (ctx.obj or {}).get("provider")
        choice = getattr(provider, "network_choice", "") or ""
        if "-fork" in choice:
            from ape_pst_plugin import fork as standin

            from urllib.parse import urlparse

            upstream = urlparse(standin.upstream_uri())
            if not standin.port_open(upstream.port or 80, upstream.hostname or standin.HOST):
                raise click.ClickException(
                    f"no mainnet stand-in at {standin.upstream_uri()} for {choice}: start it with `ape pst fork start`"
                )
        try:
            return super().invoke(ctx)
        except ApeException as err:
            raise click.ClickException(str(err).splitlines()[0]) from None


@click.command(cls=_SimulateCommand)
@network_option()
@click.argument("scenario", type=click.Choice(SCENARIOS), metavar="SCENARIO")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Simulated days.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the traders.")
@click.option("--step-hours", type=click.IntRange(1, 24), default=1, show_default=True,
              help="Simulated hours per step (traders, revenue and keepers act once a step).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Report folder (default: reports/SCENARIO).")
def simulate(scenario, days, seed, step_hours, out):
    """Run SCENARIO on the connected network (the stand-in fork with
    --network ethereum:mainnet-fork:foundry, or local) and write a report:
    report.md, series.csv and PNG plots."""
    from ape.logging import logger

    from ape_pst_plugin.report import write_report
    from ape_pst_plugin.simulate import SimulationError, run

    out = out or Path("reports") / scenario
    logger.set_level("WARNING")  # a line per set-up transaction would hide the progress bar
    try:
        with click.progressbar(length=days * 24, label=f"{scenario}, {days} days", show_pos=True) as bar:
            result = run(scenario, days=days, seed=seed, hours_per_step=step_hours, progress=bar.update)
    except SimulationError as err:
        raise click.ClickException(str(err)) from None
    paths = write_report(result, out)
    click.echo(result.summary_line())
    click.echo(f"report: {paths['report']}")
