"""Deploy the PST protocol and create listings from Python (tests, scripts,
the demo and the benchmark all go through here)."""

from dataclasses import dataclass

from ape.api import AccountAPI
from ape.contracts import ContractInstance

WAD = 10**18
BPS = 10_000
RESERVE_ALLOCATION_BPS = 1_000
STAKE_BPS = 500


def _containers():
    from ape import project

    return project


@dataclass
class Protocol:
    """A deployed protocol: the listing factory and its blueprints."""

    factory: ContractInstance
    blueprints: dict[str, str]


@dataclass
class Listing:
    """One listing's contracts."""

    id: int
    token: ContractInstance
    router: ContractInstance
    staking: ContractInstance
    settlement: ContractInstance
    reserve: str
    merchant: str
    stake: int


def deploy_protocol(deployer: AccountAPI, guardian: str | None = None) -> Protocol:
    """Declares the listing blueprints (EIP-5202) and deploys the factory,
    owned by ``deployer`` (governance hands it to the timelock)."""
    project = _containers()
    blueprints = {
        name: deployer.declare(getattr(project, name)).contract_address
        for name in ("ListingToken", "RevenueRouter", "RevenueStaking")
    }
    factory = deployer.deploy(
        project.ListingFactory,
        blueprints["ListingToken"],
        blueprints["RevenueRouter"],
        blueprints["RevenueStaking"],
        guardian or "0x0000000000000000000000000000000000000000",
    )
    return Protocol(factory=factory, blueprints=blueprints)


def required_stake(supply: int, initial_price: int, settlement_decimals: int) -> int:
    """The merchant stake, 5% of ``initial_price * supply``, in settlement units
    (the same integer maths as ``ListingFactory``)."""
    market_cap = initial_price * supply // WAD
    return market_cap * STAKE_BPS // BPS // 10 ** (18 - settlement_decimals)


def create_listing(
    protocol: Protocol,
    admin: AccountAPI,
    *,
    merchant: AccountAPI,
    settlement: ContractInstance,
    reserve: str,
    name: str = "Acme Shop",
    symbol: str = "ACME",
    supply: int = 1_000_000 * WAD,
    initial_price: int = 2 * WAD,
    payout: str | None = None,
) -> Listing:
    """Has ``merchant`` approve the stake and ``admin`` create the listing;
    returns its contracts."""
    project = _containers()
    stake = required_stake(supply, initial_price, settlement.decimals())
    settlement.approve(protocol.factory, stake, sender=merchant)
    receipt = protocol.factory.create_listing(
        name, symbol, supply, initial_price, merchant, payout or merchant, settlement, reserve, sender=admin
    )
    event = receipt.events.filter(protocol.factory.ListingCreated)[0]
    return Listing(
        id=event.id,
        token=project.ListingToken.at(event.token),
        router=project.RevenueRouter.at(event.router),
        staking=project.RevenueStaking.at(event.staking),
        settlement=settlement,
        reserve=reserve,
        merchant=merchant.address,
        stake=event.stake,
    )
