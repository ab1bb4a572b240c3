"""Deploy the PST protocol and create listings from Python (tests, scripts,
the demo and the benchmark all go through here)."""

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ape.api import AccountAPI
from ape.contracts import ContractInstance

from ape_pst_plugin import underwriting as uw
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

    # one manifest per plugin location and source text: two checkouts never share a build, and an
    # upgraded plugin never reuses the old one (ape refreshes a cached manifest's source texts
    # without recompiling its contract types, so a changed constructor kept its old ABI)
    digest = hashlib.sha1(str(CONTRACTS_DIR).encode())
    for source in sorted(CONTRACTS_DIR.rglob("*.vy*")):
        digest.update(source.relative_to(CONTRACTS_DIR).as_posix().encode() + b"\0" + source.read_bytes())
    key = digest.hexdigest()[:12]
    manifest = Path(config.DATA_FOLDER) / "pst" / key / "__local__.json"
    return Project(
        CONTRACTS_DIR.parent,
        manifest_path=manifest,
        config_override={
            "name": "ape-pst-contracts",
            "contracts_folder": "contracts",
            "vyper": {"version": "0.4.3"},
            # modules are imported by the deployables, not compiled on their own
            "compile": {"exclude": ["modules/*", "testing/token_faults.vy"]},
        },
    )


@dataclass
class Protocol:
    """A deployed protocol: the listing factory, the underwriting registry,
    the protection fund, the listing blueprints and the AMM. ``agent`` is the risk agent
    :func:`create_listing` attests merchants with when none is named
    (see :func:`onboard_agent`)."""

    factory: ContractInstance
    registry: ContractInstance
    blueprints: dict[str, str]
    uniswap: Uniswap
    settlement: ContractInstance | None = None
    """The protocol's settlement token (bonds, attested revenue, every listing's payments)."""
    agent: AccountAPI | None = None
    fund: ContractInstance | None = None
    """The protection fund (premiums, pots, coverage and stress breakers)."""

    def __post_init__(self):
        if self.settlement is None:
            self.settlement = _erc20(self.registry.SETTLEMENT())
        if self.fund is None:
            self.fund = _containers().ProtectionFund.at(self.factory.FUND())


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


def deploy_protocol(deployer: AccountAPI, uniswap: Uniswap, settlement, guardian: str | None = None) -> Protocol:
    """Deploys the underwriting registry for ``settlement`` (the protocol's
    settlement token), declares the listing blueprints (EIP-5202) and deploys
    the factory; both owned by ``deployer`` (governance hands them to the
    timelock)."""
    return deploy_protocol_with(deployer, uniswap, settlement, guardian)


def deploy_protocol_with(
    deployer: AccountAPI, uniswap: Uniswap, settlement, guardian: str | None = None, overrides: dict | None = None
) -> Protocol:
    """:func:`deploy_protocol`, with some listing blueprints (or the
    ``ProtectionFund``) replaced by other containers with the same
    constructor, e.g. ``{"Reserve": project.MyReserve}`` to run the invariant
    machines against a variant of the stabiliser."""
    project = _containers()
    overrides = overrides or {}
    unknown = set(overrides) - set(BLUEPRINTS) - {"ProtectionFund"}
    if unknown:
        raise KeyError(
            f"not a listing blueprint or the fund: {', '.join(sorted(unknown))}; "
            f"blueprints: {', '.join(BLUEPRINTS)}; ProtectionFund"
        )
    blueprints = {
        name: deployer.declare(overrides.get(name) or getattr(project, name)).contract_address for name in BLUEPRINTS
    }
    registry = deployer.deploy(project.UnderwritingRegistry, settlement)
    fund = deployer.deploy(
        overrides.get("ProtectionFund") or project.ProtectionFund, settlement, registry, guardian or ZERO
    )
    factory = deployer.deploy(
        project.ListingFactory,
        uniswap.factory,
        registry,
        fund,
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
    registry.set_factory(factory, sender=deployer)
    fund.set_factory(factory, sender=deployer)
    return Protocol(
        factory=factory, registry=registry, blueprints=blueprints, uniswap=uniswap, settlement=settlement, fund=fund
    )


def required_stake(supply: int, initial_price: int, settlement_decimals: int, stake_bps: int = STAKE_BPS) -> int:
    """The merchant stake, ``stake_bps`` (the grade's) of ``initial_price * supply``,
    in settlement units (the same integer maths as ``ListingFactory``)."""
    market_cap = initial_price * supply // WAD
    return market_cap * stake_bps // BPS // 10 ** (18 - settlement_decimals)


# ---------------------------------------------------------------- underwriting


def onboard_agent(protocol: Protocol, admin: AccountAPI, agent: AccountAPI, bond: int, fund=None) -> AccountAPI:
    """Allow-lists ``agent`` (``admin`` owns the registry), funds it with
    ``fund(to, amount)`` (default: the test stablecoin's ``faucet``) and has it
    post ``bond`` settlement units; the first agent onboarded becomes
    ``protocol.agent``."""
    registry, settlement = protocol.registry, protocol.settlement
    if not registry.is_agent(agent):
        registry.add_agent(agent, sender=admin)
    if fund is None:
        settlement.faucet(agent, bond, sender=agent)
    else:
        fund(agent, bond)
    settlement.approve(registry, bond, sender=agent)
    registry.post_bond(bond, sender=agent)
    if protocol.agent is None:
        protocol.agent = agent
    return agent


def top_up_fund(protocol: Protocol, sender: AccountAPI, amount: int, fund=None):
    """Adds ``amount`` settlement units to the protection fund's free fund
    from ``sender``, funded first with ``fund(to, amount)`` (default: the test
    stablecoin's ``faucet``; pass ``False`` to spend what ``sender`` has).
    Returns the receipt."""
    settlement = protocol.settlement
    if fund is None:
        settlement.faucet(sender, amount, sender=sender)
    elif fund:
        fund(sender, amount)
    settlement.approve(protocol.fund, amount, sender=sender)
    return protocol.fund.top_up(amount, sender=sender)


def default_inputs(month_revenue: int, avg_monthly_revenue: int | None = None) -> uw.Inputs:
    """A steady merchant (grade A): 24 months of history, CV 5%, growth +5%,
    refunds 1%, largest channel 8%."""
    return uw.Inputs(
        history_months=24,
        avg_monthly_revenue=month_revenue if avg_monthly_revenue is None else avg_monthly_revenue,
        month_revenue=month_revenue,
        volatility_bps=500,
        growth_bps=500,
        refund_bps=100,
        top_channel_bps=800,
    )


def sign_attestation(
    registry: ContractInstance,
    agent: AccountAPI,
    merchant: str,
    inputs: uw.Inputs,
    /,
    *,
    issued_at: int | None = None,
    **fields,
) -> tuple[uw.Attestation, bytes]:
    """``agent``'s signed attestation of ``inputs`` for ``merchant``, with the
    merchant's next nonce, issued at the pending block's time unless told
    otherwise (``fields``: ``validity``, ``nonce``, ``chain_id``, ``registry``,
    ``merchant_id``, ``evidence_hash``, ``model_version``)."""
    from ape import chain

    fields.setdefault("nonce", registry.nonces(merchant))
    fields.setdefault("chain_id", chain.chain_id)
    fields.setdefault("registry", registry.address)
    # the time of the block the attestation will be submitted in (at the latest)
    message = uw.attestation(
        inputs, merchant=str(merchant), issued_at=chain.pending_timestamp if issued_at is None else issued_at, **fields
    )
    return message, uw.signature_bytes(agent.sign_message(message))


def attest(
    protocol: Protocol, merchant: str, inputs: uw.Inputs, *, agent: AccountAPI | None = None, sender=None, **fields
):
    """Signs (``agent``, default ``protocol.agent``) and submits an attestation
    of ``inputs`` for ``merchant``; returns the receipt."""
    agent = agent or protocol.agent
    if agent is None:
        raise ValueError("no risk agent: onboard_agent() first or pass agent=")
    message, signature = sign_attestation(protocol.registry, agent, merchant, inputs, **fields)
    return protocol.registry.submit(message.as_tuple(), signature, sender=sender or agent)


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
    name: str = "Acme Shop",
    symbol: str = "ACME",
    supply: int = 1_000_000 * WAD,
    initial_price: int = 2 * WAD,
    month_revenue: int | None = None,
    inputs: uw.Inputs | None = None,
    payout: str | None = None,
    agent: AccountAPI | None = None,
) -> Listing:
    """Has the risk agent (``agent``, default ``protocol.agent``) attest the
    merchant, ``merchant`` approve the grade's stake and ``admin`` create the
    listing; returns its contracts. ``inputs`` are the attested data (default:
    :func:`default_inputs` of ``month_revenue``, itself 100,000 whole
    settlement units by default: a grade-A merchant at a listing PE of 14.8
    for the default price and supply). With neither, a merchant that already
    has a fresh attestation is listed on it."""
    settlement = protocol.settlement
    decimals = settlement.decimals()
    registry = protocol.registry
    if inputs is not None or month_revenue is not None or not registry.is_fresh(merchant):
        if inputs is None:
            inputs = default_inputs(100_000 * 10**decimals if month_revenue is None else month_revenue)
        attest(protocol, merchant, inputs, agent=agent)
    terms = registry.listing_terms(merchant)
    stake = required_stake(supply, initial_price, decimals, terms.stake_bps)
    settlement.approve(protocol.factory, stake, sender=merchant)
    receipt = protocol.factory.create_listing(
        name,
        symbol,
        supply,
        initial_price,
        merchant,
        payout or merchant,
        sender=admin,
    )
    event = receipt.events.filter(protocol.factory.ListingCreated)[0]
    listing = listing_at(protocol, event.id)
    listing.settlement = settlement
    return listing
