"""``ape pst fork`` and ``ape pst simulate`` (issue 6, in progress)."""

import click


@click.group()
def fork():
    """Start or stop the local mainnet stand-in (chain id 1)."""


@click.command()
def simulate():
    """Run a market scenario against the protocol."""
    raise click.ClickException("simulate: not implemented yet")
