"""Market scenarios against a live listing: a crowd of traders, revenue and
keepers act every simulated step (an hour by default) on the real Uniswap V2
pair; time moves with anvil's time travel. ``ape pst simulate`` runs them and
``report.py`` turns the result into a report.

The crowd is one net trade per step, sized on the pool's reserves to move the
spot price (log) part of the way towards a scenario's "fair" price
(``fair_pe * EPS``) plus noise. The keeper observes the oracle every step,
calls ``stabilise()`` when the TWAP PE is outside the band (and records the
revert reason if the reserve refuses) and ``assess()`` once a period has
finished. A bonded risk agent is the honest verifier: just before each
period starts (and whenever its newest attestation is 30 days old) it signs
an EIP-712 attestation of the merchant's real month revenue (what customers
paid in the last 30 days) and submits it to the ``UnderwritingRegistry``; the
newest attestation recorded at or before a period's start, if unexpired,
caps that period's counted revenue, and the reserve buys only while the
newest one is fresh. Every figure in the result is read from the chain.
"""

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ape_pst_plugin import pe as pem
from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.constants import BPS, DAY, HOUR, PERIOD, WAD  # noqa: F401 - re-exported (report.py, tests)
from ape_pst_plugin.keeper import ASSESS, STABILISE, UPDATE, ListingView, keep

MAX = 2**256 - 1


class SimulationError(Exception):
    """A scenario cannot run here (one-line message for the CLI)."""


@dataclass(frozen=True)
class Scenario:
    """How the crowd, the revenue and the attacker behave over time.

    ``fair_pe(hour)`` is the PE the crowd pushes the price towards (None: no
    drift); ``pull`` the part of the log gap the crowd closes per hour;
    ``noise`` the standard deviation of its random log-price move per hour;
    ``revenue(hour)`` the revenue as a multiple of the listing's usual rate.
    ``target`` is the merchant's revenue target per period, as a multiple of
    the usual period revenue."""

    name: str
    description: str
    fair_pe: Callable[[float], float | None]
    pull: Callable[[float], float]
    noise: float = 0.004
    revenue: Callable[[float], float] = lambda hour: 1.0
    target: float = 0.5
    attacker: bool = False
    wash: float = 0.0
    """The merchant's self-payments per day, as a multiple of the usual daily
    revenue: half from its own address, half from a fresh address each day."""
    agent_stops_day: float | None = None
    """The risk agent attests nothing after this simulated day (its data
    stops); None: it attests for the whole run."""
    claims: tuple[tuple[float, str, int], ...] = ()
    """Holders' claims on the pot once the listing defaulted: (days after the
    pot opened, "holder" (50,000 tokens, never trades) or "staker", percent
    of its tokens then)."""
    fund_top_up: int = 0
    """Whole settlement units the treasury adds to the protection fund at the start."""
    peers: int = 0
    """Other listings of the same protocol, listed beside this one, whose
    merchants never pay: each misses period 1 and goes late on day 30 (then
    defaults on day 90); the keeper assesses them too."""
    recapitalise: tuple[float, int] | None = None
    """(day, whole settlement units): the treasury tops the fund up then."""


def _always(value):
    return lambda hour: value


def _before(hours, inside, after):
    return lambda hour: inside if hour < hours else after


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "steady",
            "revenue flows at the usual rate, traders hover around PE 10: the reserve never trades",
            fair_pe=_always(10.0),
            pull=_always(0.05),
            noise=0.004,
        ),
        Scenario(
            "selloff",
            "panic selling for 12 hours pushes the PE towards 4, then only noise: the reserve buys back within its capacity",
            fair_pe=_before(12, 3.6, None),
            pull=_before(12, 0.25, 0.0),
            noise=0.003,
        ),
        Scenario(
            "mania",
            "FOMO buying for 12 hours pushes the PE past 25, then only noise: the reserve sells inventory",
            fair_pe=_before(12, 40.0, None),
            pull=_before(12, 0.25, 0.0),
            noise=0.003,
        ),
        Scenario(
            "revenue-collapse",
            "revenue falls to 5% of its usual rate and holders price the listing at PE 5: the reserve buys "
            "while the listing is active, stops at the first missed period (late), keeps the rest of its float; "
            "three misses default the listing",
            fair_pe=_always(5.0),
            pull=_always(0.02),
            noise=0.003,
            revenue=_always(0.05),
            target=0.5,
        ),
        Scenario(
            "wash",
            "real revenue falls to 10% of its usual rate while the merchant pays itself twice the usual revenue "
            "every day from its own and fresh addresses: counted revenue stays at the verified (real) revenue, "
            "the reserve does not buy, the merchant misses three periods and defaults",
            fair_pe=_always(10.0),
            pull=_always(0.02),
            noise=0.003,
            revenue=lambda hour: max(0.1, 1.0 - 0.9 * hour / (20 * 24)),
            target=0.8,
            wash=2.0,
        ),
        Scenario(
            "manipulation",
            "steady market; every hour an attacker dumps or pumps the pool (by a few percent, or by half of it) inside "
            "one transaction and calls stabilise() in between: the reserve decides on the TWAP and never trades "
            "because of it",
            fair_pe=_always(10.0),
            pull=_always(0.05),
            noise=0.003,
            attacker=True,
        ),
        Scenario(
            "agent-stops",
            "the risk agent's data stops after day 20 (no attestation after its first, which expires 35 days "
            "later) while customers keep paying at the usual rate; holders lose confidence and price the listing "
            "at PE 6: the reserve buys while the attestation is fresh and refuses once it is stale, the first "
            "period that starts after the expiry has a verified cap of 0, so the merchant misses it (counted 0) "
            "and the listing goes late (needs ~91 days: --days 91 --step-hours 24)",
            fair_pe=_before(20 * 24, 10.0, 6.0),
            pull=_before(20 * 24, 0.05, 0.02),
            noise=0.003,
            agent_stops_day=20,
        ),
        Scenario(
            "default",
            "the merchant's revenue stops while holders price the listing at PE 6: periods 1, 2 and 3 are missed "
            "and the third miss defaults the listing (day 90); the protection fund (2,000,000 topped up) opens the "
            "listing's pot from the rest of the stake, the agent's slash and its own share within its caps, at one "
            "fixed rate per token; a holder who never trades hands in half its 50,000 tokens a day later and the rest "
            "after a week, the staker leaves staking and hands in all after three days (needs --days 100 "
            "--step-hours 24)",
            fair_pe=_always(6.0),
            pull=_always(0.02),
            noise=0.003,
            revenue=_always(0.0),
            claims=((1, "holder", 50), (3, "staker", 100), (7, "holder", 100)),
            fund_top_up=2_000_000,
        ),
        Scenario(
            "contagion",
            "two other listings of the protocol stop paying and go late together on day 30, and holders of this "
            "healthy listing panic (PE towards 4): the late listings' loss bases put the protection fund (400,000) "
            "in stress, so every reserve refuses to buy, this one included; on day 45 the treasury adds 1,000,000, "
            "the stress clears and the reserve buys back (needs --days 60; --step-hours 6 is quicker)",
            fair_pe=_before(30 * 24, 10.0, 4.0),
            pull=_before(30 * 24, 0.05, 0.02),
            noise=0.003,
            fund_top_up=400_000,
            peers=2,
            recapitalise=(45, 1_000_000),
        ),
    )
}


@dataclass
class Row:
    """One step, read from the chain after the step's transactions."""

    hour: float
    timestamp: int
    spot: int
    twap: int | None
    pe: int | None
    p_low: int | None
    p_high: int | None
    reserve_stable: int
    inventory: int
    staked: int
    stake: int
    period: int = 0  # the running performance period
    period_gross: int = 0  # non-insider gross paid in the running period
    period_counted: int = 0  # of which counted (capped by the verified revenue)
    period_cap: int = 0  # the verified cap in force at the running period's start (registry.verified_cap)
    fresh: bool = True  # registry.is_fresh(merchant): the newest attestation has not expired
    status: int = 0  # 0 active, 1 late, 2 defaulted
    stress: bool = False  # fund.in_stress(): no reserve of the protocol buys
    trade: str = ""  # "buy", "sell", "refused: <reason>" or ""
    spent: int = 0  # buy: settlement given; sell: tokens given
    received: int = 0
    note: str = ""


@dataclass
class Result:
    scenario: Scenario
    days: int
    seed: int
    hours_per_step: int
    network: str
    decimals: int
    pe_low: int
    pe_high: int
    capacity_bps: int
    start_stake: int
    start_inventory: int
    start_free: int
    router_start: int = 0  # the router's START: period p starts at router_start + p * period_length
    period_length: int = PERIOD
    agent: str = ""  # the risk agent's address
    bond: int = 0  # the bond it posted
    rows: list[Row] = field(default_factory=list)
    verifications: list[dict] = field(default_factory=list)
    """The attestations the registry recorded (Attested events), the listing-time one first (negative hour):
    hour, timestamp, period (the first period whose start it caps), month_revenue, avg_monthly_revenue,
    cap, expires_at, grade, score."""
    unattested: list[dict] = field(default_factory=list)  # attestations the registry refused (hour, reason)
    self_paid: int = 0  # the merchant's own payments (wash), insider and sybil
    trades: list[dict] = field(default_factory=list)  # Bought / Sold events
    assessments: list[dict] = field(default_factory=list)  # Assessed events (+ defaulted flag)
    refusals: list[dict] = field(default_factory=list)  # stabilise() reverts the keeper saw
    attacks: list[dict] = field(default_factory=list)  # manipulation attempts
    fund_before: dict = field(
        default_factory=dict
    )  # the fund before the run: free, coverage_bps, late_loss_total, in_stress
    fund_after: dict = field(default_factory=dict)  # and after it
    pot: dict = field(default_factory=dict)  # the PotOpened event of the listing's default (+ hour)
    claims: list[dict] = field(default_factory=list)  # Claimed events (+ hour, holder)
    peers: list[dict] = field(default_factory=list)  # the peer listings' assessments (hour, peer, period, status)
    recapitalised: dict = field(default_factory=dict)  # the treasury's top-up during the run (hour, amount)
    wall_seconds: float = 0.0

    def period_start(self, period: int) -> int:
        return self.router_start + period * self.period_length

    def summary_line(self) -> str:
        buys = sum(t["kind"] == "buy" for t in self.trades)
        sells = sum(t["kind"] == "sell" for t in self.trades)
        last = self.rows[-1] if self.rows else None
        pe = f"{last.pe / WAD:.2f}" if last and last.pe is not None else "undefined"
        line = (
            f"{self.scenario.name}: {self.days} days on {self.network}, {buys} buys, {sells} sells, "
            f"{len(self.assessments)} assessments, final TWAP PE {pe}"
        )
        if self.wall_seconds:
            line += f", {self.days_per_second:.2f} simulated days per second"
        return line

    @property
    def days_per_second(self) -> float:
        """Simulated days per wall-clock second of the scenario loop (set-up excluded)."""
        return self.days / self.wall_seconds if self.wall_seconds else 0.0


def _fresh_accounts(n):
    """Fresh funded accounts: snapshots rewind nonces, and fresh senders keep
    every run's contract addresses new to ape's contract cache."""
    from ape import accounts, chain

    crowd = [accounts.test_accounts.generate_test_account() for _ in range(n)]
    for account in crowd:
        chain.provider.set_balance(account.address, 10**24)
    return crowd


def world():
    """(uniswap, settlement token, fund(to, amount), network label) for the
    connected chain: the mainnet-address Uniswap and USDC on chain id 1
    (stand-in or real fork), freshly deployed ones elsewhere."""
    from ape import chain

    from ape_pst_plugin import fork
    from ape_pst_plugin.deployment import _containers
    from ape_pst_plugin.uniswap import deploy_uniswap

    network = chain.provider.network_choice
    if chain.chain_id == 1:
        if not fork.has_standin():
            raise SimulationError(
                "chain id 1 without Uniswap V2 at its mainnet addresses: start the stand-in with `ape pst fork start`"
            )
        if len(chain.provider.get_code(fork.USDC)) == 0:
            raise SimulationError(
                f"no token at USDC's address {fork.USDC}: start the stand-in with `ape pst fork start`"
            )
        usdc = fork.mainnet_usdc()

        def fund(to, amount):
            fork.fund(usdc, to, amount)

        return fork.mainnet_uniswap(), usdc, fund, network
    [deployer] = _fresh_accounts(1)
    usdc = deployer.deploy(_containers().TestStablecoin, "Test USD Coin", "USDC", 6)

    def fund(to, amount):
        usdc.faucet(to, amount, sender=deployer)

    return deploy_uniswap(deployer), usdc, fund, network


class Simulation:
    """One scenario run; ``run()`` is the short way to use it."""

    def __init__(self, scenario: Scenario, days: int, seed: int = 1, hours_per_step: int = 1):
        from ape import chain

        from ape_pst_plugin.deployment import deploy_protocol, onboard_agent
        from ape_pst_plugin.market import MarketPlan, history_gross, open_market

        if days <= 0:
            raise SimulationError("--days must be at least 1")
        if hours_per_step <= 0:
            raise SimulationError("hours per step must be at least 1")
        self.scenario, self.days, self.seed, self.hours_per_step = scenario, days, seed, hours_per_step
        self.random = random.Random(seed)
        self.chain = chain
        uniswap, usdc, fund, network = world()
        admin, merchant, payer, trader, keeper, staker, attacker, sybil, agent, holder = _fresh_accounts(10)
        self.admin, self.payer, self.trader, self.keeper, self.attacker = admin, payer, trader, keeper, attacker
        self.staker, self.holder = staker, holder
        self.merchant, self.sybil, self.agent = merchant, sybil, agent
        protocol = deploy_protocol(admin, uniswap, usdc, guardian=admin)
        self.factory, self.registry = protocol.factory, protocol.registry
        # attestations of the listing (and the agent's re-attestations) are valid for 35 days,
        # so the listing-time one still caps period 1, the first after the 30-day history
        plan = MarketPlan(reserve_float=250_000, trader_tokens=0, attestation_validity=uw.MAX_VALIDITY)
        unit = 10 ** usdc.decimals()
        circulating = 900_000 * WAD  # supply less the reserve's 10%
        usual_period = history_gross(plan, circulating, usdc.decimals())
        # governance sets the scenario's target right after listing: it applies from period 1 on
        # (period 0 holds the history revenue, with the grade's target: half the attested average)
        plan.revenue_target = int(usual_period * scenario.target)
        # the risk agent's bond: twice the registry's minimum for the listings (1,000,000 tokens at the pool price)
        market_cap = plan.pool_settlement * WAD * WAD // plan.pool_tokens * 1_000_000
        self.bond = 2 * protocol.registry.required_bond(agent, market_cap * (1 + scenario.peers))
        onboard_agent(protocol, admin, agent, self.bond, fund=fund)
        self.fund = protocol.fund
        if scenario.fund_top_up:
            from ape_pst_plugin.deployment import top_up_fund

            top_up_fund(protocol, admin, scenario.fund_top_up * 10 ** usdc.decimals(), fund=fund)
        # peers are listed first, without a history period of their own: their periods start with this
        # listing's (a few seconds earlier) and their period 0 holds the listing payment
        self.peers = [
            open_market(
                chain,
                protocol,
                admin,
                peer,
                payer,
                trader,
                keeper,
                usdc,
                plan=MarketPlan(history_days=0, reserve_float=10_000),
                symbol=f"PEER{i}",
                fund=fund,
            )
            for i, peer in enumerate(_fresh_accounts(scenario.peers))
        ]
        self.market = m = open_market(
            chain, protocol, admin, merchant, payer, trader, keeper, usdc, plan=plan, symbol="SIM", fund=fund
        )
        self.top_up = fund
        self.volatility_bps = plan.volatility_bps
        self.usual_hourly = usual_period * HOUR // PERIOD
        self.decimals = usdc.decimals()
        self.token, self.usdc, self.pair = m.token, m.usdc, m.pair
        self.reserve, self.oracle, self.router = m.reserve, m.oracle, m.listing.router
        self.staking = m.listing.staking
        self.swap_router = uniswap.router
        # holders stake, so revenue and slashed stake have somewhere to go
        m.token.transfer(staker, 100_000 * WAD, sender=merchant)
        m.token.approve(self.staking, MAX, sender=staker)
        self.staking.stake(100_000 * WAD, sender=staker)
        # the crowd gets the rest of the merchant's unlocked tokens (the allocation vests), but for a
        # holder who never trades when the scenario has holders claim
        m.listing.release(merchant, merchant)
        if scenario.claims:
            m.token.transfer(holder, 50_000 * WAD, sender=merchant)
        crowd_tokens = m.token.balanceOf(merchant)
        if scenario.attacker:
            from ape_pst_plugin.deployment import _containers

            self.manipulator = attacker.deploy(_containers().SpotManipulator, m.pair, m.reserve)
            m.token.transfer(self.manipulator, crowd_tokens // 2, sender=merchant)
            fund(self.manipulator, 10_000_000 * unit)
        m.token.transfer(trader, m.token.balanceOf(merchant), sender=merchant)
        # the crowd and the payers approve once: one transaction per trade or payment afterwards
        m.token.approve(self.swap_router, MAX, sender=trader)
        usdc.approve(self.swap_router, MAX, sender=trader)
        fund(payer, usual_period * 12)
        if scenario.wash:
            for washer in (merchant, sybil):
                fund(washer, int(usual_period * scenario.wash * 10))
                usdc.approve(self.router, MAX, sender=washer)
        self.real_paid: list[tuple[float, int]] = []  # (hour, amount) paid by customers
        self.pe_low, self.pe_high = self.reserve.pe_low(), self.reserve.pe_high()
        self.token_is_0 = m.pair.token0() == m.token.address
        self.result = Result(
            scenario=scenario,
            days=days,
            seed=seed,
            hours_per_step=hours_per_step,
            network=str(network),
            decimals=self.decimals,
            pe_low=self.pe_low,
            pe_high=self.pe_high,
            capacity_bps=self.reserve.capacity_bps(),
            start_stake=self.reserve.stake(),
            start_inventory=self.reserve.inventory(),
            start_free=self.reserve.free_balance(),
        )
        self.start = chain.blocks.head.timestamp
        self.chain_id = chain.chain_id
        self._fast()
        self.result.router_start, self.result.period_length = self.router_start, self.period_length
        self.result.agent, self.result.bond = agent.address, self.bond
        self._listing_attestation()
        self.result.rows.append(self._row(0.0))
        self.result.fund_before = self._fund_state()
        self.claimed: set[int] = set()

    def _fund_state(self) -> dict:
        free, coverage, late_loss, stress = self.rpc.calls(
            [
                self.c_fund.call("free_fund"),
                self.c_fund.call("coverage_bps"),
                self.c_fund.call("late_loss_total"),
                self.c_fund.call("in_stress"),
            ]
        )
        return dict(
            free=free, coverage_bps=None if coverage == MAX else coverage, late_loss_total=late_loss, in_stress=stress
        )

    # ------------------------------------------------------ fast chain access
    # The loop talks JSON-RPC to the node directly (see `Rpc`): ape's and
    # web3's per-call checks cost ~50-70 round trips per simulated hour; this
    # way it is about 12, and the reads of a step share one batch request.
    # The actors are impersonated on anvil, so nothing needs signing.
    def _fast(self):
        self.rpc = rpc = Rpc(self.chain.provider.uri)
        self.c_pair, self.c_token = rpc.contract(self.pair), rpc.contract(self.token)
        self.c_reserve, self.c_oracle, self.c_router = (
            rpc.contract(self.reserve),
            rpc.contract(self.oracle),
            rpc.contract(self.router),
        )
        self.c_staking, self.c_swap = rpc.contract(self.staking), rpc.contract(self.swap_router)
        self.c_registry = rpc.contract(self.registry)
        self.c_fund, self.c_usdc = rpc.contract(self.fund), rpc.contract(self.usdc)
        self.c_manipulator = rpc.contract(self.manipulator) if self.scenario.attacker else None
        for account in self._actors():
            rpc.request("anvil_impersonateAccount", [account.address])
        self.period_length, self.router_start = rpc.calls([self.c_router.call("PERIOD"), self.c_router.call("START")])
        self.io = _KeeperIO(self, self.c_oracle, self.c_reserve, self.c_router)
        self.peer_ios = [
            _KeeperIO(self, rpc.contract(p.oracle), rpc.contract(p.reserve), rpc.contract(p.listing.router))
            for p in self.peers
        ]
        self.verified_period = (self.start - self.router_start) // self.period_length
        [self.last_verified] = rpc.calls([self.c_registry.call("verified_at", self.merchant.address)])

    def _listing_attestation(self):
        """The attestation the merchant was listed on, first in the verification timeline."""
        latest = self.registry.latest(self.merchant)
        cap = self.registry.verified_cap(self.merchant, latest.recorded_at)
        self.result.verifications.append(
            dict(
                hour=(latest.recorded_at - self.start) / HOUR,
                timestamp=latest.recorded_at,
                period=self._first_capped(latest.recorded_at),
                month_revenue=latest.month_revenue,
                avg_monthly_revenue=latest.avg_monthly_revenue,
                cap=cap,
                expires_at=latest.expires_at,
                grade=latest.grade,
                score=latest.score,
            )
        )

    def _first_capped(self, recorded_at: int) -> int:
        """The first period a record recorded at ``recorded_at`` caps: the first that starts at or after it."""
        return -((self.router_start - recorded_at) // self.period_length)

    def _actors(self):
        return (
            self.payer,
            self.trader,
            self.keeper,
            self.attacker,
            self.admin,
            self.merchant,
            self.sybil,
            self.agent,
            self.staker,
            self.holder,
        )

    def _send(self, call, sender):
        return self.rpc.send(call, sender.address)

    # ---------------------------------------------------------------- reading
    def _tokens_first(self, reserves) -> tuple[int, int]:
        r0, r1, _ = reserves
        return (r0, r1) if self.token_is_0 else (r1, r0)

    def _reserves(self) -> tuple[int, int]:
        return self._tokens_first(self.rpc.calls([self.c_pair.call("getReserves")])[0])

    def _row(self, hour: float) -> Row:
        period = (self.start + int(hour * HOUR) - self.router_start) // self.period_length
        merchant = self.merchant.address
        reserves, free, inventory, staked, stake, price_eps, gross, counted, status, cap, fresh, stress = (
            self.rpc.calls(
                [
                    self.c_pair.call("getReserves"),
                    self.c_reserve.call("free_balance"),
                    self.c_reserve.call("inventory"),
                    self.c_staking.call("total_staked"),
                    self.c_reserve.call("stake"),
                    self.c_oracle.call("price_and_eps"),
                    self.c_router.call("period_gross", period),
                    self.c_router.call("counted", period),
                    self.c_reserve.call("status"),
                    self.c_registry.call("verified_cap", merchant, self.router_start + period * self.period_length),
                    self.c_registry.call("is_fresh", merchant),
                    self.c_fund.call("in_stress"),
                ],
                allow_revert=True,
            )
        )
        r_token, r_settlement = self._tokens_first(reserves)
        twap = eps = pe = p_low = p_high = None
        if not isinstance(price_eps, RpcRevert):
            twap, eps = price_eps
        if eps:
            pe = twap * WAD // eps
            p_low, p_high = pem.target_prices(eps, self.pe_low, self.pe_high)
        return Row(
            hour=hour,
            timestamp=self.start + int(hour * HOUR),
            spot=pem.spot_price(r_token, r_settlement, self.decimals),
            twap=twap,
            pe=pe,
            p_low=p_low,
            p_high=p_high,
            reserve_stable=free,
            inventory=inventory,
            staked=staked,
            stake=stake,
            period=period,
            period_gross=gross,
            period_counted=counted,
            period_cap=cap,
            fresh=fresh,
            status=status,
            stress=stress,
        )

    # ---------------------------------------------------------------- actors
    def _pay(self, hour: float, hours: int):
        amount = int(self.usual_hourly * hours * self.scenario.revenue(hour) * self.random.lognormvariate(0, 0.3))
        if amount > 0:
            self._send(self.c_router.call("pay", b"sim".ljust(32, b"\0"), amount), self.payer)
            self.real_paid.append((hour, amount))

    def _wash(self, hour: float, hours: int):
        """The merchant pays itself once a day: half from its own address, half from a fresh one."""
        if not self.scenario.wash or int(hour) // 24 == int(hour - hours) // 24:
            return
        amount = int(self.usual_hourly * 24 * self.scenario.wash)
        for payer in (self.merchant, self.sybil):
            self._send(self.c_router.call("pay", b"wash".ljust(32, b"\0"), amount // 2), payer)
        self.result.self_paid += amount // 2 * 2

    def _real_revenue(self, until: float, window: int) -> int:
        """What customers paid in the ``window`` hours up to hour ``until``; before the
        simulation started, revenue came at the usual rate."""
        paid = sum(amount for h, amount in self.real_paid if until - window < h <= until)
        return paid + int(self.usual_hourly * max(min(until, 0) - until + window, 0))

    def _verify(self, hour: float, hours: int):
        """The risk agent attests the merchant's real data before each period starts, and
        whenever its newest attestation is 30 days old (it is valid for 35): month revenue
        (the last 30 days), R (the last 90 days over 3), growth (the last 90 days against
        the 90 before), volatility, refunds and channel share as at listing. It signs the
        EIP-712 message and submits it; a refusal (e.g. the model's hard rejection of R
        under 10,000 units) is recorded, not sent. Nothing after ``agent_stops_day``."""
        now = self.start + int(hour * HOUR)
        upcoming = (now + hours * HOUR - self.router_start) // self.period_length
        if upcoming <= self.verified_period and now - self.last_verified < 30 * DAY:
            return
        stops = self.scenario.agent_stops_day
        if stops is not None and hour > stops * 24:
            return
        self.verified_period = max(self.verified_period, upcoming)
        self.last_verified = now
        month = self._real_revenue(hour, 30 * 24)
        quarter = self._real_revenue(hour, 90 * 24)
        before = self._real_revenue(hour - 90 * 24, 90 * 24)
        inputs = uw.Inputs(
            history_months=24 + (now - self.router_start) // self.period_length,
            avg_monthly_revenue=quarter // 3,
            month_revenue=month,
            volatility_bps=self.volatility_bps,
            growth_bps=(quarter - before) * BPS // max(before, 1),
            refund_bps=100,
            top_channel_bps=800,
        )
        # issued at the newest block's time: an eth_call (the dry run) sees that block
        issued_at = now
        [nonce] = self.rpc.calls([self.c_registry.call("nonces", self.merchant.address)])
        message = uw.attestation(
            inputs,
            merchant=self.merchant.address,
            chain_id=self.chain_id,
            registry=self.registry.address,
            issued_at=issued_at,
            nonce=nonce,
            validity=uw.MAX_VALIDITY,
        )
        signature = uw.signature_bytes(self.agent.sign_message(message))
        submit = self.c_registry.call("submit", message.as_tuple(), signature)
        try:
            self.rpc.calls([submit], sender=self.agent.address, block="pending")
        except RpcRevert as err:
            self.result.unattested.append(
                dict(hour=hour, reason=err.reason, month_revenue=month, avg_monthly_revenue=inputs.avg_monthly_revenue)
            )
            return
        receipt = self._send(submit, self.agent)
        [event] = self.c_registry.events(receipt, "Attested")
        # the submission is the step's first transaction: recorded at `now`
        feeds = self._first_capped(now)
        self.result.verifications.append(
            dict(
                hour=hour,
                timestamp=now,
                period=feeds,
                month_revenue=month,
                avg_monthly_revenue=inputs.avg_monthly_revenue,
                cap=event["cap"],
                expires_at=event["expires_at"],
                grade=event["grade"],
                score=event["score"],
            )
        )

    def _crowd(self, hour: float, hours: int):
        """One net trade: part of the way to the fair price, plus noise."""
        r_token, r_settlement = self._reserves()
        spot = pem.spot_price(r_token, r_settlement, self.decimals)
        move = self.random.gauss(0, self.scenario.noise * math.sqrt(hours))
        fair_pe = self.scenario.fair_pe(hour)
        if fair_pe is not None:
            [eps] = self.rpc.calls([self.c_oracle.call("eps_snapshot")])
            if eps:
                pull = 1 - (1 - self.scenario.pull(hour)) ** hours
                move += pull * math.log(fair_pe * eps / spot)
        target = int(spot * math.exp(move))
        if target > spot:
            amount = pem.buy_to_price(r_token, r_settlement, target, self.decimals)
            path = [self.usdc.address, self.token.address]
        else:
            [held] = self.rpc.calls([self.c_token.call("balanceOf", self.trader.address)])
            amount = min(pem.sell_to_price(r_token, r_settlement, target, self.decimals), held)
            path = [self.token.address, self.usdc.address]
        if amount > 0:
            self._send(
                self.c_swap.call("swapExactTokensForTokens", amount, 0, path, self.trader.address, 2**64), self.trader
            )

    def _attack(self, hour: float):
        """Same-block manipulation: dump or pump the pool, stabilise, undo. Two
        hours of four the move is half the pool, the other two a few percent
        (inside the reserve's deviation guard)."""
        r_token, r_settlement = self._reserves()
        dump = int(hour) % 2 == 0
        share = 2 if int(hour) % 4 < 2 else 40
        token_in, amount = (
            (self.token.address, r_token // share) if dump else (self.usdc.address, r_settlement // share)
        )
        if dump:  # at most the tokens it has
            [held] = self.rpc.calls([self.c_token.call("balanceOf", self.manipulator.address)])
            amount = min(amount, held)
        receipt = self._send(self.c_manipulator.call("attack", token_in, amount), self.attacker)
        [event] = self.c_manipulator.events(receipt, "Attack")
        reserve_events = self.c_reserve.events(receipt, "Bought") + self.c_reserve.events(receipt, "Sold")
        self.result.attacks.append(
            dict(
                hour=hour,
                dump=dump,
                stabilise_succeeded=event["stabilise_succeeded"],
                traded=event["traded"],
                reserve_events=len(reserve_events),
            )
        )

    def _keeper(self, hour: float, row_notes: list) -> tuple[str, int, int]:
        """The keeper's round (``keeper.keep``, as the bot): assess() once a period is over,
        update(), then stabilise() if the PE is out of band and a dry run says it would trade."""
        done = keep(self.io)
        receipt = done.receipt(ASSESS)
        if receipt is not None:
            defaulted = bool(self.c_reserve.events(receipt, "Defaulted"))
            for opened in self.c_fund.events(receipt, "PotOpened"):
                self.result.pot = dict(opened, hour=hour)
                row_notes.append(f"pot opened: {opened['amount']}")
            for a in self.c_reserve.events(receipt, "Assessed"):
                missed = a["counted"] < a["due"]
                self.result.assessments.append(
                    dict(
                        hour=hour,
                        period=a["period"],
                        counted=a["counted"],
                        due=a["due"],
                        slashed=a["slashed"],
                        misses=a["misses"],
                        status=a["status"],
                        defaulted=defaulted,
                    )
                )
                row_notes.append(
                    f"period {a['period']}: "
                    + (f"missed, slashed {a['slashed']}" if missed else "target met")
                    + (", defaulted" if defaulted else "")
                )
        trade = ("", 0, 0)
        if done.refused is not None:
            self.result.refusals.append(dict(hour=hour, pe=done.pe, reason=done.refused))
            trade = (f"refused: {done.refused}", 0, 0)
        receipt = done.receipt(STABILISE)
        if receipt is not None:
            for kind, event, given in (("buy", "Bought", "spent"), ("sell", "Sold", "sold")):
                for a in self.c_reserve.events(receipt, event):
                    self.result.trades.append(
                        dict(
                            hour=hour,
                            kind=kind,
                            given=a[given],
                            received=a["received"],
                            pe=a["pe"],
                            target=a["target_price"],
                            spot_after=a["spot_after"],
                        )
                    )
                    trade = (kind, a[given], a["received"])
        return trade

    def _peers(self, hour: float, row_notes: list) -> None:
        """The keeper's round on each peer listing (they never pay: their assessments are misses)."""
        for i, io in enumerate(self.peer_ios):
            receipt = keep(io).receipt(ASSESS)
            if receipt is None:
                continue
            for a in io.c_reserve.events(receipt, "Assessed"):
                self.result.peers.append(dict(hour=hour, peer=i, period=a["period"], status=a["status"]))
                row_notes.append(f"peer {i}: period {a['period']} " + ("met" if a["counted"] >= a["due"] else "missed"))

    def _recapitalise(self, hour: float, row_notes: list) -> None:
        """The treasury tops the fund up on the scenario's day (once)."""
        plan = self.scenario.recapitalise
        if plan is None or self.result.recapitalised or hour < plan[0] * 24:
            return
        amount = plan[1] * 10**self.decimals
        self.top_up(self.admin, amount)
        self._send(self.c_usdc.call("approve", self.fund.address, amount), self.admin)
        self._send(self.c_fund.call("top_up", amount), self.admin)
        self.result.recapitalised = dict(hour=hour, amount=amount)
        row_notes.append(f"treasury topped the fund up by {amount}")

    def _claims(self, hour: float, row_notes: list) -> None:
        """Holders hand in tokens to the listing's pot when the scenario says (days after it opened)."""
        if not self.result.pot:
            return
        listing_id = self.market.listing.id
        for index, (days, who, share) in enumerate(self.scenario.claims):
            if index in self.claimed or hour < self.result.pot["hour"] + days * 24:
                continue
            self.claimed.add(index)
            holder = self.holder if who == "holder" else self.staker
            if who == "staker":
                [staked] = self.rpc.calls([self.c_staking.call("balanceOf", holder.address)])
                if staked:
                    self._send(self.c_staking.call("exit"), holder)
            [held] = self.rpc.calls([self.c_token.call("balanceOf", holder.address)])
            tokens = held * share // 100
            if tokens == 0:
                continue
            self._send(self.c_token.call("approve", self.fund.address, tokens), holder)
            receipt = self._send(self.c_fund.call("claim", listing_id, tokens, holder.address), holder)
            for claimed in self.c_fund.events(receipt, "Claimed"):
                self.result.claims.append(dict(claimed, hour=hour, who=who))
                row_notes.append(f"{who} claimed {claimed['paid']} for {claimed['tokens']} tokens")

    # ---------------------------------------------------------------- loop
    def run(self, progress: Callable[[int], None] | None = None) -> Result:
        began = time.perf_counter()
        h = self.hours_per_step
        steps = self.days * 24 // h
        for step in range(1, steps + 1):
            hour = float(step * h)
            self.now = self.start + int(hour * HOUR)
            self.rpc.request("evm_setNextBlockTimestamp", [self.now])
            self._verify(hour, h)
            self._pay(hour, h)
            self._wash(hour, h)
            self._crowd(hour, h)
            if self.scenario.attacker:
                self._attack(hour)
            notes: list[str] = []
            self._recapitalise(hour, notes)
            self._peers(hour, notes)
            kind, given, received = self._keeper(hour, notes)
            self._claims(hour, notes)
            row = self._row(hour)
            row.trade, row.spent, row.received, row.note = kind, given, received, "; ".join(notes)
            self.result.rows.append(row)
            if progress:
                progress(h)
        self.result.wall_seconds = time.perf_counter() - began
        self.result.fund_after = self._fund_state()
        for account in self._actors():
            self.rpc.request("anvil_stopImpersonatingAccount", [account.address])
        # ape's view of the chain (block cache, pending timestamp) catches up with a mined block
        self.chain.mine()
        return self.result


class _KeeperIO:
    """``keeper.ListingIO`` over the simulator's JSON-RPC client: the round's time is the step's."""

    def __init__(self, sim: "Simulation", c_oracle, c_reserve, c_router):
        self.sim, self.c_oracle, self.c_reserve = sim, c_oracle, c_reserve
        self.start, self.period_length = sim.rpc.calls([c_router.call("START"), c_router.call("PERIOD")])
        self.calls = {ASSESS: c_reserve.call("assess"), UPDATE: c_oracle.call("update")}
        self.calls[STABILISE] = c_reserve.call("stabilise")

    def view(self) -> ListingView:
        o, r = self.c_oracle, self.c_reserve
        last, window, price_eps, low, high, status, next_period = self.sim.rpc.calls(
            [
                o.call("last_observed"),
                o.call("twap_window"),
                o.call("price_and_eps"),
                r.call("pe_low"),
                r.call("pe_high"),
                r.call("status"),
                r.call("next_period"),
            ],
            allow_revert=True,
        )
        twap, eps = (None, None) if isinstance(price_eps, RpcRevert) else price_eps
        return ListingView(
            now=self.sim.now,
            last_observed=last,
            twap_window=window,
            twap=twap,
            eps=eps,
            pe_low=low,
            pe_high=high,
            status=status,
            next_period=next_period,
            router_start=self.start,
            period_length=self.period_length,
        )

    def send(self, action: str):
        return self.sim._send(self.calls[action], self.sim.keeper)

    def refusal(self) -> str | None:
        try:  # a dry run: a refusal is recorded, not sent
            self.sim.rpc.calls([self.calls[STABILISE]], sender=self.sim.keeper.address)
        except RpcRevert as err:
            return err.reason
        return None


class RpcRevert(Exception):
    """An eth_call reverted; ``reason`` is the revert string."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _Call:
    def __init__(self, contract, name, args):
        self.contract, self.abi = contract, contract.functions[name]
        types = [_abi_type(i) for i in self.abi["inputs"]]
        self.data = "0x" + contract.selectors[name] + contract.encode(types, list(args)).hex()

    def decode(self, result: str):
        outputs = self.abi.get("outputs", [])
        values = self.contract.decode([_abi_type(o) for o in outputs], bytes.fromhex(result.removeprefix("0x")))
        return values[0] if len(values) == 1 else tuple(values)


def _abi_type(item) -> str:
    """The canonical ABI type of an input or output: a struct is its components' tuple."""
    if not item["type"].startswith("tuple"):
        return item["type"]
    return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + item["type"][len("tuple") :]


class RpcContract:
    """ABI encoding and event decoding for one contract, no web3 objects."""

    def __init__(self, instance):
        from eth_abi import decode, encode
        from eth_utils import keccak

        self.address = instance.address
        self.encode, self.decode = encode, decode
        abi = instance.contract_type.model_dump(mode="json", by_alias=True)["abi"]
        self.functions = {a["name"]: a for a in abi if a["type"] == "function"}
        self.selectors = {
            name: keccak(text=f"{name}({','.join(_abi_type(i) for i in a['inputs'])})")[:4].hex()
            for name, a in self.functions.items()
        }
        self.event_abis = {a["name"]: a for a in abi if a["type"] == "event"}
        self.topics = {
            name: "0x" + keccak(text=f"{name}({','.join(i['type'] for i in a['inputs'])})").hex()
            for name, a in self.event_abis.items()
        }

    def call(self, name, *args) -> _Call:
        return _Call(self, name, args)

    def events(self, receipt: dict, name: str) -> list[dict]:
        """The ``name`` events this contract emitted in ``receipt``, as dicts."""
        abi, topic = self.event_abis[name], self.topics[name]
        found = []
        for log in receipt["logs"]:
            if log["address"].lower() != self.address.lower() or not log["topics"] or log["topics"][0] != topic:
                continue
            indexed = [i for i in abi["inputs"] if i.get("indexed")]
            plain = [i for i in abi["inputs"] if not i.get("indexed")]
            values = dict(
                zip(
                    [i["name"] for i in plain],
                    self.decode([i["type"] for i in plain], bytes.fromhex(log["data"].removeprefix("0x"))),
                )
            )
            for item, raw in zip(indexed, log["topics"][1:]):
                values[item["name"]] = self.decode([item["type"]], bytes.fromhex(raw.removeprefix("0x")))[0]
            found.append(values)
        return found


class Rpc:
    """A minimal JSON-RPC client: batched eth_calls and eth_sendTransaction
    from impersonated accounts (anvil automines: the receipt is there at once)."""

    def __init__(self, uri: str):
        import requests

        self.uri, self.session, self.id = uri, requests.Session(), 0
        self.session.trust_env = False  # loopback: no proxy look-ups per request

    def contract(self, instance) -> RpcContract:
        return RpcContract(instance)

    def _post(self, payload):
        import requests

        try:
            # generous: a forked anvil may fetch state from its upstream, and the machine may be busy
            response = self.session.post(self.uri, json=payload, timeout=300)
            response.raise_for_status()
        except requests.RequestException as err:
            raise SimulationError(f"the node at {self.uri} did not answer: {err}") from None
        return response.json()

    def request(self, method: str, params: list):
        self.id += 1
        body = self._post({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params})
        if "error" in body:
            raise SimulationError(f"{method}: {body['error'].get('message')}")
        return body["result"]

    def calls(
        self, calls: list[_Call], sender: str | None = None, allow_revert: bool = False, block: str = "latest"
    ) -> list:
        """eth_call of every call in one batch request, decoded. A revert
        raises RpcRevert, or with ``allow_revert`` comes back as one.
        ``block="pending"``: on the block the next transaction goes into (its
        timestamp, e.g. one set with evm_setNextBlockTimestamp)."""
        batch = []
        for call in calls:
            self.id += 1
            tx = {"to": call.contract.address, "data": call.data}
            if sender:
                tx["from"] = sender
            batch.append({"jsonrpc": "2.0", "id": self.id, "method": "eth_call", "params": [tx, block]})
        answers = {a["id"]: a for a in self._post(batch)}
        results = []
        for request, call in zip(batch, calls):
            answer = answers[request["id"]]
            if "error" in answer:
                revert = RpcRevert(_reason(answer["error"]))
                if not allow_revert:
                    raise revert
                results.append(revert)
            else:
                results.append(call.decode(answer["result"]))
        return results

    def send(self, call: _Call, sender: str) -> dict:
        tx = {"from": sender, "to": call.contract.address, "data": call.data, "gas": hex(3_000_000)}
        tx_hash = self.request("eth_sendTransaction", [tx])
        receipt = self.request("eth_getTransactionReceipt", [tx_hash])
        for _ in range(1000):  # automine: at most a few ms
            if receipt is not None:
                break
            time.sleep(0.002)
            receipt = self.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is None or int(receipt["status"], 16) != 1:
            try:  # replay it as a call for the reason
                self.calls([call], sender=sender)
                reason = f"no reason, gas used {int(receipt['gasUsed'], 16)}"
            except RpcRevert as err:
                reason = err.reason
            raise SimulationError(f"{call.abi['name']} from {sender} reverted: {reason} (tx {tx_hash})")
        return receipt


def _reason(error: dict) -> str:
    """The revert string of an eth_call error (Error(string) data), else the message."""
    from eth_abi import decode

    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        return decode(["string"], bytes.fromhex(data[10:]))[0]
    return str(error.get("message", error)).removeprefix("execution reverted: ")


def run(
    name: str, days: int, seed: int = 1, hours_per_step: int = 1, progress: Callable[[int], None] | None = None
) -> Result:
    """Sets up a listing on the connected network and runs scenario ``name``."""
    if name not in SCENARIOS:
        raise SimulationError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return Simulation(SCENARIOS[name], days, seed, hours_per_step).run(progress)
