"""The ``pst`` section of ``ape-config.yaml``."""

import warnings

from ape.api import PluginConfig
from pydantic import Field
from pydantic_settings import SettingsConfigDict

# pydantic-settings warns about ape-vyper's `import_remapping` field (a
# forward reference it cannot resolve) whenever the vyper config loads, i.e.
# on most `ape pst` commands in a project that compiles; nothing is wrong.
warnings.filterwarnings("ignore", message=r"Field 'import_remapping' has an incomplete definition")

#: The key of the plugin's section in ``ape-config.yaml``
#: (``ape.config.get_config(CONFIG_KEY)``).
CONFIG_KEY = "pst"


class NetworkAddresses(PluginConfig):
    """Addresses on one network. Any left empty is taken from the record
    ``ape pst deploy`` writes (``.build/pst/deployments.json``) or, for
    Uniswap, deployed by ``ape pst deploy``."""

    uniswap_factory: str | None = None
    uniswap_router: str | None = None
    settlement: str | None = None
    """The default settlement token for new listings (e.g. USDC)."""
    factory: str | None = None
    """A deployed ``ListingFactory``."""
    timelock: str | None = None
    safe: str | None = None


class PstConfig(PluginConfig):
    """Where the plugin finds things. Every field can also be set from the
    environment with the ``APE_PST_`` prefix, e.g. ``APE_PST_FORK_PORT=8556``.

    The protocol's parameters (holder share, merchant stake, reserve
    allocation, band, ...) are not here: they are in the contracts, set at
    deployment and changed through the timelock."""

    node_modules: str = "node_modules"
    """Where the npm packages are (the peer contracts' build artifacts and
    anvil): absolute, or relative to the project root."""

    deployments: dict[str, dict[str, NetworkAddresses]] = Field(default_factory=dict)
    """Per ecosystem and network, e.g. ``deployments.ethereum.mainnet.uniswap_factory``."""

    fork_port: int | None = None
    """Loopback port of the mainnet stand-in (``ape pst fork start``). By
    default the port of ``node: ethereum: mainnet: uri`` in ape-config.yaml
    (8555), which is what ape-foundry's ``ethereum:mainnet-fork:foundry``
    forks; set both if you change one."""

    devnet_port: int | None = None
    """Loopback port of the devnet (``ape pst devnet start``). By default the
    port of ``node: ethereum: local: uri`` (8545), which ``ethereum:local:node``
    reaches; set both if you change one."""

    # a key nothing reads (a typo, or a field an older version advertised) is an error, not a silent no-op
    model_config = SettingsConfigDict(extra="forbid", env_prefix="APE_PST_")
