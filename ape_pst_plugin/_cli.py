"""``ape pst``: deploy, inspect and drive the PST protocol from the command line."""

import click

from ape_pst_plugin._sim_cli import fork, simulate


@click.group(name="pst")
def cli():
    """PST protocol: deploy, inspect listings, pay, stabilise, assess, fork and simulate."""


cli.add_command(fork)
cli.add_command(simulate)
