"""Registration shim: Ape finds plugins by distribution name (``ape-pst`` ->
module ``ape_pst``) and names the config section after it, so the section is
``pst``. The plugin itself lives in :mod:`ape_pst_plugin`."""

from ape_pst_plugin import config_class

__all__ = ["config_class"]
