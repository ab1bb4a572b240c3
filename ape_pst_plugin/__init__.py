"""ape-pst: the PST protocol's Ape plugin."""

from ape import plugins

from ape_pst_plugin.config import CONFIG_KEY, PstConfig


@plugins.register(plugins.Config)
def config_class():
    return PstConfig


__all__ = ["CONFIG_KEY", "PstConfig", "config_class"]
