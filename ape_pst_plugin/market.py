"""A listing with a live market: a seeded Uniswap V2 pool, revenue history, a
fresh TWAP and a funded reserve, plus the moves a scenario needs (time,
trades, keeper rounds). Used by the tests, the demo and the benchmark."""

import dataclasses
from dataclasses import dataclass, field

from ape.api import AccountAPI

from ape_pst_plugin import pe as pem
from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.constants import DAY, INITIAL_UNLOCK_BPS, WAD  # noqa: F401 - re-exported
from ape_pst_plugin.deployment import (
    RESERVE_ALLOCATION_BPS,
    Listing,
    Protocol,
    attest,
    create_listing,
    default_inputs,
    required_stake,
)
from ape_pst_plugin.uniswap import add_liquidity, swap_exact_in


@dataclass
class MarketPlan:
    """How to open a market. Amounts in token / settlement units."""

    pool_tokens: int = 100_000 * WAD
    pool_settlement: int = 200_000  # whole settlement units: spot price 2
    history_days: int = 30  # the first period (30 days) holds the history revenue; PE is defined after it
    target_pe: int = 10  # the history revenue makes the PE this at the pool price
    reserve_float: int = 50_000  # whole settlement units for buy-backs
    trader_tokens: int = 100_000 * WAD
    revenue_target: int | None = None
    """Settlement units per period from period 1 on (governance sets it after
    listing); default: the grade's, half the attested average revenue."""
    month_revenue: int | None = None
    """Attested month revenue, whole settlement units (default: the history's
    gross, so the history counts in full)."""
    volatility_bps: int = 2_500
    """Attested volatility (CV): 2,500 puts the grade-A target ratio at its 50% floor."""
    attestation_validity: int = uw.DEFAULT_VALIDITY
    """Seconds the listing-time attestation stays valid (at most ``uw.MAX_VALIDITY``,
    35 days). The history period lasts 30 days, so only a validity over 30 days
    still caps period 1 (the first after the history) with it."""


@dataclass
class Market:
    chain: object
    listing: Listing
    protocol: Protocol
    trader: AccountAPI
    keeper: AccountAPI
    history: list = field(default_factory=list)

    @property
    def token(self):
        return self.listing.token

    @property
    def usdc(self):
        return self.listing.settlement

    @property
    def oracle(self):
        return self.listing.oracle

    @property
    def reserve(self):
        return self.listing.reserve

    @property
    def pair(self):
        return self.listing.pair

    @property
    def uniswap(self):
        return self.protocol.uniswap

    @property
    def decimals(self) -> int:
        return self.usdc.decimals()

    def sleep(self, seconds: int):
        self.chain.pending_timestamp += seconds
        self.chain.mine()

    def observe(self):
        """Two oracle observations a TWAP window apart, ending now."""
        self.oracle.update(sender=self.keeper)
        self.sleep(self.oracle.twap_window())
        self.oracle.update(sender=self.keeper)

    def settle(self):
        """Lets the TWAP catch up with the spot price: the price holds for a
        window that starts with an observation and ends with one."""
        window = self.oracle.twap_window()
        self.sleep(window)
        self.oracle.update(sender=self.keeper)
        self.sleep(window)
        self.oracle.update(sender=self.keeper)

    def sell_tokens(self, amount: int):
        return swap_exact_in(self.uniswap, self.trader, self.token, amount, self.usdc)

    def buy_tokens(self, amount: int):
        return swap_exact_in(self.uniswap, self.trader, self.usdc, amount, self.token)

    def reserves(self) -> tuple[int, int]:
        r0, r1, _ = self.pair.getReserves()
        return (r0, r1) if self.pair.token0() == self.token.address else (r1, r0)

    def spot(self) -> int:
        r_token, r_settlement = self.reserves()
        return pem.spot_price(r_token, r_settlement, self.decimals)


def history_gross(plan: MarketPlan, circulating: int, decimals: int, share_bps: int = 1_000) -> int:
    """Gross revenue in the listing's first period that puts the PE at `target_pe`."""
    unit = 10**decimals
    price = plan.pool_settlement * unit * WAD // plan.pool_tokens  # settlement units per token
    annual_holder = price * circulating // WAD // plan.target_pe
    # one period of counted revenue: E = counted * share_bps // BPS * YEAR // PERIOD
    return annual_holder * pem.PERIOD // pem.YEAR * pem.BPS // share_bps


def listing_revenue(gross: int, target_pe: int) -> int:
    """The attested average monthly revenue (R) that lists the market inside
    grade A's PE range (8.5 .. 14.5) when the history's ``gross`` puts the
    PE at ``target_pe``: ``gross`` itself when that is already inside."""
    return gross * target_pe * 10 // min(max(target_pe * 10, 85), 145)


def open_market(
    chain,
    protocol: Protocol,
    admin: AccountAPI,
    merchant: AccountAPI,
    payer: AccountAPI,
    trader: AccountAPI,
    keeper: AccountAPI,
    settlement,
    plan: MarketPlan | None = None,
    symbol: str = "ACME",
    fund=None,
) -> Market:
    """Creates a listing and opens its market. `fund(to, amount)` mints
    settlement tokens; by default `settlement.faucet` (the test stablecoin;
    a real stablecoin on a mainnet fork needs another `fund`)."""
    plan = plan or MarketPlan()
    if settlement.address != protocol.settlement.address:
        raise ValueError(f"{settlement.address} is not the protocol's settlement token ({protocol.settlement.address})")
    if fund is None:

        def fund(to, amount):
            # accounts pay their own faucet call, as before `fund` existed
            settlement.faucet(to, amount, sender=to if isinstance(to, AccountAPI) else admin)

    decimals = settlement.decimals()
    unit = 10**decimals
    supply = 1_000_000 * WAD
    price = plan.pool_settlement * unit * WAD // plan.pool_tokens * 10 ** (18 - decimals)
    circulating = supply - supply * RESERVE_ALLOCATION_BPS // pem.BPS
    gross = history_gross(plan, circulating, decimals)
    month_revenue = gross if plan.month_revenue is None else plan.month_revenue * unit
    inputs = dataclasses.replace(
        default_inputs(month_revenue, listing_revenue(gross, plan.target_pe)), volatility_bps=plan.volatility_bps
    )
    # the grade's stake (at most 15% of the market cap) plus the pool's settlement side
    fund(merchant, required_stake(supply, price, decimals, 1_500) + plan.pool_settlement * unit)
    attest(protocol, merchant, inputs, validity=plan.attestation_validity)
    # listed on that fresh attestation
    listing = create_listing(protocol, admin, merchant=merchant, symbol=symbol, supply=supply, initial_price=price)
    if plan.revenue_target is not None:
        listing.reserve.set_revenue_target(plan.revenue_target, sender=admin)
    # the merchant's allocation vests: 25% is releasable at listing (exactly that, however many
    # seconds the listing's transactions took)
    listing.release(merchant, merchant, circulating * INITIAL_UNLOCK_BPS // pem.BPS)
    add_liquidity(protocol.uniswap, merchant, listing.token, plan.pool_tokens, settlement, plan.pool_settlement * unit)
    fund(payer, gross)
    settlement.approve(listing.router, 2**256 - 1, sender=payer)
    receipt = listing.router.pay(b"history".ljust(32, b"\0"), gross, sender=payer)
    chain.pending_timestamp += plan.history_days * DAY
    chain.mine()
    fund(listing.reserve, plan.reserve_float * unit)
    if plan.trader_tokens:
        listing.token.transfer(trader, plan.trader_tokens, sender=merchant)
    fund(trader, 10_000_000 * unit)
    market = Market(chain=chain, listing=listing, protocol=protocol, trader=trader, keeper=keeper)
    market.history = [(receipt.timestamp, gross)]
    market.observe()
    return market
