"""Where the protocol is on the connected network: the ``pst.deployments``
config section first, then the record ``ape pst deploy`` wrote."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ape_pst_plugin.config import CONFIG_KEY
from ape_pst_plugin.deployment import ZERO, Listing, Protocol, listing_at
from ape_pst_plugin.exceptions import (
    CorruptFile,
    NoDeployment,
    NotWritable,
    UnknownListing,
)
from ape_pst_plugin.governance import Governance
from ape_pst_plugin.uniswap import connect_uniswap

FIELDS = ("uniswap_factory", "uniswap_router", "settlement", "factory", "timelock", "safe")

__all__ = [
    "Deployment",
    "NoDeployment",
    "UnknownListing",
    "check_record_writable",
    "configured_addresses",
    "find_listing",
    "load_deployment",
    "network_key",
    "record_path",
    "save_record",
]


@dataclass
class Deployment:
    protocol: Protocol
    governance: Governance | None
    addresses: dict


def network_key() -> str:
    from ape import networks

    network = networks.provider.network
    return f"{network.ecosystem.name}:{network.name}"


def record_path() -> Path:
    from ape import config

    return Path(config.local_project.path) / ".build" / "pst" / "deployments.json"


def read_network_records(path: Path, entry_ok, what: str) -> dict:
    """A JSON file of one entry per network (``{}`` if there is none); :class:`CorruptFile`
    unless it is a mapping whose every entry passes ``entry_ok`` (``what`` names the shape)."""
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptFile(path, f"not JSON: {err}", "fix or delete it") from None
    if not isinstance(records, dict) or not all(isinstance(v, dict) and entry_ok(v) for v in records.values()):
        raise CorruptFile(path, f"not a mapping of network to {what}", "fix or delete it")
    return records


def _records() -> dict:
    return read_network_records(record_path(), lambda entry: True, "addresses")


def check_record_writable() -> Path:
    """Raises :class:`NotWritable` unless :func:`save_record` can write its
    file (and :class:`CorruptFile` if it could not read the records already
    there): ``ape pst deploy`` checks this before its first transaction."""
    import tempfile

    _records()
    path = record_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
        if path.exists() and (path.is_dir() or not os.access(path, os.W_OK)):
            raise PermissionError(f"{path} cannot be overwritten")
    except OSError as err:
        raise NotWritable(
            f"cannot write the deployment record {path} ({err.strerror or err}): make {path.parent} writable"
        ) from None
    return path


def save_record(addresses: dict) -> Path:
    """Remembers the addresses of a deployment on the connected network."""
    from ape import chain

    records = _records()
    records[network_key()] = {**{k: str(v) for k, v in addresses.items() if v}, "chain_id": chain.chain_id}
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")
    return path


def configured_addresses() -> dict:
    """The addresses for the connected network: config entries win over the record."""
    from ape import config, networks

    network = networks.provider.network
    record = _records().get(network_key(), {})
    section = config.get_config(CONFIG_KEY).deployments.get(network.ecosystem.name, {}).get(network.name)
    configured = section.model_dump() if section else {}
    return {name: configured.get(name) or record.get(name) for name in FIELDS}


def _has_code(address: str | None) -> bool:
    from ape import chain

    return bool(address) and address != ZERO and len(chain.provider.get_code(address)) > 0


def load_deployment() -> Deployment:
    """The protocol on the connected network, or :class:`NoDeployment`."""
    from ape_pst_plugin.deployment import _containers
    from ape_pst_plugin.npm import npm_contract

    addresses = configured_addresses()
    if not _has_code(addresses["factory"]):
        raise NoDeployment(
            f"no PST deployment on {network_key()} (run `ape pst deploy --network {network_key()}` "
            f"or set pst.deployments in ape-config.yaml)"
        )
    factory = _containers().ListingFactory.at(addresses["factory"])
    router = addresses["uniswap_router"]
    uniswap = connect_uniswap(factory.UNISWAP_FACTORY(), router) if _has_code(router) else None
    governance = None
    if _has_code(addresses["timelock"]) and _has_code(addresses["safe"]):
        governance = Governance(
            safe=npm_contract("Safe").at(addresses["safe"]), timelock=_containers().Timelock.at(addresses["timelock"])
        )
    registry = _containers().UnderwritingRegistry.at(factory.REGISTRY())
    protocol = Protocol(factory=factory, registry=registry, blueprints={}, uniswap=uniswap)
    return Deployment(protocol=protocol, governance=governance, addresses=addresses)


def find_listing(deployment: Deployment, key: str) -> Listing:
    """A listing by id (``0``), token address or token symbol."""
    factory = deployment.protocol.factory
    count = factory.listing_count()
    key = key.strip()
    if key.isdigit():
        if int(key) >= count:
            raise UnknownListing(f"no listing {key}: the factory has {count}")
        return listing_at(deployment.protocol, int(key))
    if key.startswith("0x") and len(key) == 42:
        from eth_utils import is_hex_address

        if not is_hex_address(key):
            raise UnknownListing(f"{key!r} is not an address (0x and 40 hex digits)")
        entry = factory.listing_id_of_token(key)
        if entry == 0:
            raise UnknownListing(f"{key} is not a listed token")
        return listing_at(deployment.protocol, entry - 1)
    for listing_id in range(count):
        listing = listing_at(deployment.protocol, listing_id)
        if listing.token.symbol().lower() == key.lower():
            return listing
    raise UnknownListing(f"no listing with id, token address or symbol {key!r}")
