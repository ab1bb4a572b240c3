"""Deploy the PST protocol and create listings from Python (tests, scripts,
the demo and the benchmark all go through here)."""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ape.api import AccountAPI
from ape.contracts import ContractInstance

from ape_pst_plugin.constants import BPS, RESERVE_ALLOCATION_BPS, STAKE_BPS, WAD  # noqa: F401 - re-exported
from ape_pst_plugin.npm import npm_contract
from ape_pst_plugin.uniswap import Uniswap

ZERO = "0x0000000000000000000000000000000000000000"
BLUEPRINTS = ("ListingToken", "RevenueRouter", "RevenueStaking", "PEOracle", "Reserve", "MerchantVesting")


#: The Vyper sources shipped with the plugin (package data).
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"


def _containers():
    """The project whose contract containers deploy the protocol.

    Inside this repository that is ``ape.project`` (its ``contracts_folder``
    is the plugin's contracts folder). In any other Ape project it is the
    plugin package itself, loaded as a second Ape project and compiled by
    ape-vyper with the installed Vyper, offline; its build manifest lives in
    Ape's data folder, not in site-packages (which may be read-only)."""
    from ape import project

    try:
        if Path(project.contracts_folder).resolve() == CONTRACTS_DIR:
            return project
    except Exception:  # noqa: BLE001 - no local project (e.g. a bare script): use the package
        pass
    return _package_project()


@cache
def _package_project():
    from ape import Project, config

    # one manifest per plugin location, so two checkouts never share a stale build
    key = hashlib.sha1(str(CONTRACTS_DIR).encode()).hexdigest()[:12]
    manifest = Path(config.DATA_FOLDER) / "pst" / key / "__local__.json"
    return Project(
        CONTRACTS_DIR.parent,
        manifest_path=manifest,
        config_override={
            "name": "ape-pst-contracts",
            "contracts_folder": "contracts",
            "vyper": {"version": "0.4.3"},
            # modules are imported by the deployables, not compiled on their own
            "compile": {"exclude": ["modules/*"]},
        },
    )


@dataclass
class Protocol:
    """A deployed protocol: the listing factory, its blueprints and the AMM."""

    factory: ContractInstance
    blueprints: dict[str, str]
    uniswap: Uniswap


@dataclass
class Listing:
    """One listing's contracts."""

    id: int
    token: ContractInstance
    router: ContractInstance
    staking: ContractInstance
    oracle: ContractInstance
    reserve: ContractInstance
    vesting: ContractInstance
    pair: ContractInstance
    settlement: ContractInstance
    merchant: str
    stake: int

    def release(self, merchant: AccountAPI, to, amount: int | None = None):
        """Has ``merchant`` release ``amount`` vested tokens (default: all
        releasable now) from its ``MerchantVesting`` to ``to``."""
        amount = self.vesting.releasable() if amount is None else amount
        return self.vesting.release(to, amount, sender=merchant)


def deploy_protocol(deployer: AccountAPI, uniswap: Uniswap, guardian: str | None = None) -> Protocol:
    """Declares the listing blueprints (EIP-5202) and deploys the factory,
    owned by ``deployer`` (governance hands it to the timelock)."""
    return deploy_protocol_with(deployer, uniswap, guardian)


def deploy_protocol_with(
    deployer: AccountAPI, uniswap: Uniswap, guardian: str | None = None, overrides: dict | None = None
) -> Protocol:
    """:func:`deploy_protocol`, with some listing blueprints replaced by
    other containers with the same constructor, e.g.
    ``{"Reserve": project.MyReserve}`` to run the invariant machines
    against a variant of the stabiliser."""
    project = _containers()
    overrides = overrides or {}
    unknown = set(overrides) - set(BLUEPRINTS)
    if unknown:
        raise KeyError(f"not a listing blueprint: {', '.join(sorted(unknown))}; blueprints: {', '.join(BLUEPRINTS)}")
    blueprints = {
        name: deployer.declare(overrides.get(name) or getattr(project, name)).contract_address for name in BLUEPRINTS
    }
    factory = deployer.deploy(
        project.ListingFactory,
        uniswap.factory,
        (
            blueprints["ListingToken"],
            blueprints["RevenueRouter"],
            blueprints["RevenueStaking"],
            blueprints["PEOracle"],
            blueprints["Reserve"],
            blueprints["MerchantVesting"],
        ),
        guardian or ZERO,
    )
    return Protocol(factory=factory, blueprints=blueprints, uniswap=uniswap)


def required_stake(supply: int, initial_price: int, settlement_decimals: int) -> int:
    """The merchant stake, 5% of ``initial_price * supply``, in settlement units
    (the same integer maths as ``ListingFactory``)."""
    market_cap = initial_price * supply // WAD
    return market_cap * STAKE_BPS // BPS // 10 ** (18 - settlement_decimals)


def listing_at(protocol: Protocol, listing_id: int) -> Listing:
    """The contracts of listing ``listing_id`` of ``protocol``'s factory."""
    project = _containers()
    entry = protocol.factory.listings(listing_id)
    reserve = project.Reserve.at(entry.reserve)
    return Listing(
        id=listing_id,
        token=project.ListingToken.at(entry.token),
        router=project.RevenueRouter.at(entry.router),
        staking=project.RevenueStaking.at(entry.staking),
        oracle=project.PEOracle.at(entry.oracle),
        reserve=reserve,
        vesting=project.MerchantVesting.at(entry.vesting),
        pair=npm_contract("UniswapV2Pair").at(entry.pair),
        settlement=_erc20(entry.settlement),
        merchant=entry.merchant,
        stake=reserve.stake(),
    )


def _erc20(address: str) -> ContractInstance:
    # Any ERC-20 will do for the views and transfers the helpers use.
    return npm_contract("ERC20PresetMinterPauser").at(address)


def create_listing(
    protocol: Protocol,
    admin: AccountAPI,
    *,
    merchant: AccountAPI,
    settlement: ContractInstance,
    name: str = "Acme Shop",
    symbol: str = "ACME",
    supply: int = 1_000_000 * WAD,
    initial_price: int = 2 * WAD,
    revenue_target: int = 0,
    month_revenue: int | None = None,
    payout: str | None = None,
) -> Listing:
    """Has ``merchant`` approve the stake and ``admin`` create the listing;
    returns its contracts. ``month_revenue`` is the merchant's verified
    revenue of its last full month (settlement units; default 100,000 whole
    units), which caps its counted revenue."""
    decimals = settlement.decimals()
    stake = required_stake(supply, initial_price, decimals)
    if month_revenue is None:
        month_revenue = 100_000 * 10**decimals
    settlement.approve(protocol.factory, stake, sender=merchant)
    receipt = protocol.factory.create_listing(
        name, symbol, supply, initial_price, merchant, payout or merchant, settlement, revenue_target, month_revenue,
        sender=admin,
    )
    event = receipt.events.filter(protocol.factory.ListingCreated)[0]
    listing = listing_at(protocol, event.id)
    listing.settlement = settlement
    return listing
