"""The ``pst`` section of ``ape-config.yaml``."""

from ape.api import PluginConfig
from pydantic_settings import SettingsConfigDict

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
    """Protocol defaults. Every field can also be set from the environment
    with the ``APE_PST_`` prefix, e.g. ``APE_PST_SHARE_BPS=1500``."""

    share_bps: int = 1000
    """Holder share of gross revenue, basis points (100..3000)."""

    reserve_allocation_bps: int = 1000
    """Part of a new listing's supply minted to the reserve inventory."""

    stake_bps: int = 500
    """Merchant performance stake, basis points of the listing market cap."""

    settlement_decimals: int = 6
    """Decimals of the settlement token the demo deploys (USDC-like)."""

    node_modules: str = "node_modules"
    """Where the npm build artifacts of the peer contracts are, relative to
    the project root."""

    deployments: dict[str, dict[str, NetworkAddresses]] = {}
    """Per ecosystem and network, e.g. ``deployments.ethereum.mainnet.uniswap_factory``."""

    fork_port: int | None = None
    """Loopback port of the mainnet stand-in (``ape pst fork start``). By
    default the port of ``node: ethereum: mainnet: uri`` in ape-config.yaml
    (8555), which is what ape-foundry's ``ethereum:mainnet-fork:foundry``
    forks; set both if you change one."""

    model_config = SettingsConfigDict(extra="allow", env_prefix="APE_PST_")
