"""`ape run deploy --network ...`: deploy the whole protocol with its
governance (DAO Safe -> timelock -> factory and every listing setter) on any
Ape network. The same command as `ape pst deploy`."""

from ape_pst_plugin._cli import deploy as cli

__all__ = ["cli"]
