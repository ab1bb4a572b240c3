"""A Python model of one listing's router, oracle and reserve (v2), built only
from docs/PROTOCOL.md and :mod:`ape_pst_plugin.pe`: it predicts every pay(),
update(), stabilise() and assess() outcome, to the wei, from what it saw
happen. :class:`ape_pst_plugin.testing.StabiliserMachine` checks the chain
against it. Sections follow the spec: units and formulas (counted revenue,
earnings), oracle, stabiliser, credit."""

from dataclasses import dataclass, field

from ape_pst_plugin import pe as pem
from ape_pst_plugin.constants import ACTIVE, DAY, DEFAULTED, LATE, PERIOD

EPOCH = DAY
SLASH_BPS = 2_000
MAX_MISSES = 3


@dataclass
class Observation:
    timestamp: int
    cumulative: int
    twap: int  # average price since the previous observation (0: none)
    eps: int


@dataclass
class StabiliserModel:
    start: int
    decimals: int
    supply: int
    inventory: int
    stake: int
    free: int
    pe_low: int
    pe_high: int
    capacity_bps: int
    cooldown: int
    max_slippage_bps: int
    twap_window: int
    max_age: int
    revenue_target: int
    max_deviation_bps: int = 1_000
    max_exposure_bps: int = 5_000
    share_bps: int = 1_000
    records: list = field(default_factory=list)  # attestations: (recorded_at, expires_at, cap)
    periods: dict = field(default_factory=dict)  # period -> [cap, non-insider gross]
    targets: list = field(default_factory=list)  # (from_period, target)
    last: Observation | None = None
    last_trade: int = 0
    buy_window: tuple = (0, 0, 0)  # epoch, budget, spent
    sell_window: tuple = (0, 0, 0)
    net_spent: int = 0
    trades: list = field(default_factory=list)  # (timestamp, "buy"/"sell", amount)
    listing_stake: int = 0
    next_period: int = 0
    misses: int = 0
    status: int = ACTIVE
    reference_price: int = 0
    held_for_fund: int = 0  # waits in the reserve only while the fund cannot open the pot (paused)
    to_fund: int = 0  # the stake's rest, sent to the listing's pot at default
    slashed_total: int = 0
    waived: set = field(default_factory=set)

    def __post_init__(self):
        if not self.targets:
            self.targets = [(0, self.revenue_target)]
        self.listing_stake = self.listing_stake or self.stake

    @property
    def defaulted(self) -> bool:
        return self.status == DEFAULTED

    def period(self, now: int) -> int:
        return (now - self.start) // PERIOD

    # --- units and formulas: counted revenue ----------------------------------------
    def verify(self, now: int, cap: int, expires_at: int) -> None:
        """An attestation of the merchant's month revenue (its cap), recorded now."""
        self.records.append((now, expires_at, cap))

    def fresh(self, now: int) -> bool:
        return bool(self.records) and now < self.records[-1][1]

    def pay(self, now: int, gross: int, insider: bool = False) -> int:
        holder = gross * self.share_bps // pem.BPS
        self.free += holder  # nobody is staked in this model: the share is the reserve's
        if not insider:
            p = self.period(now)
            if p not in self.periods:
                self.periods[p] = [pem.cap_at(self.records, self.start + p * PERIOD), 0]
            self.periods[p][1] += gross
        return holder

    def counted(self, p: int) -> int:
        if p not in self.periods:
            return 0
        cap, gross = self.periods[p]
        return pem.counted(gross, cap)

    def annual_earnings(self, now: int) -> int:
        finished = self.period(now)
        n = pem.trailing_periods(finished)
        if n == 0:
            return 0
        return pem.annual_earnings(sum(self.counted(finished - 1 - i) for i in range(n)), n, self.share_bps)

    # --- oracle ------------------------------------------------------------------------
    def eps_now(self, now: int) -> int:
        return pem.eps(self.annual_earnings(now), self.supply - self.inventory, self.decimals)

    def update(self, now: int, cumulative: int) -> bool:
        if self.last and now - self.last.timestamp < self.twap_window:
            return False
        twap = 0
        if self.last:
            twap = pem.twap(self.last.cumulative, cumulative, now - self.last.timestamp, self.decimals)
        self.last = Observation(now, cumulative, twap, self.eps_now(now))
        return True

    def twap(self, now: int) -> int:
        """The TWAP or raises ValueError with the oracle's revert reason."""
        obs = self.last
        if obs is None:
            raise ValueError("oracle: no observation yet, call update()")
        if obs.twap == 0:
            raise ValueError("oracle: TWAP window not covered yet")
        if now - obs.timestamp > self.max_age:
            raise ValueError("oracle: stale price, call update()")
        return obs.twap

    def eps(self, now: int) -> int:
        if self.period(now) == 0:
            raise ValueError("oracle: no finished period yet, PE undefined")
        if self.last is None:
            raise ValueError("oracle: no observation yet, call update()")
        if self.last.eps == 0:
            raise ValueError("oracle: no earnings, PE undefined")
        return self.last.eps

    # --- stabiliser --------------------------------------------------------------------
    def _window(self, window, base, now):
        epoch = now // EPOCH
        if window[0] == epoch:
            return window
        return (epoch, min(base * self.capacity_bps // pem.BPS, 2**112 - 1), 0)

    def stabilise(self, now: int, r_token: int, r_settlement: int):
        """Predicts stabilise(): ("none", 0, 0, 0, pe) in band, ("buy"|"sell", amount_in,
        amount_out, target, pe), or raises ValueError with the revert reason. Applies it."""
        eps = self.eps(now)
        price = self.twap(now)
        pe = price * pem.WAD // eps
        if self.pe_low <= pe <= self.pe_high:
            return ("none", 0, 0, 0, pe)
        buying = pe < self.pe_low
        if buying:
            if self.status == DEFAULTED:
                raise ValueError("reserve: listing defaulted, no buys")
            if self.status != ACTIVE:
                raise ValueError("reserve: listing is late, no buys")
            if not self.fresh(now):
                raise ValueError("reserve: verified revenue is stale, no buys")
        elif self.status == DEFAULTED:
            raise ValueError("reserve: listing defaulted, no sells")
        if self.last_trade and now < self.last_trade + self.cooldown:
            raise ValueError("reserve: cooldown, too soon after the last trade")
        spot = pem.spot_price(r_token, r_settlement, self.decimals)
        if not pem.within_deviation(spot, price, self.max_deviation_bps):
            raise ValueError("reserve: spot too far from TWAP")
        low, high = pem.target_prices(eps, self.pe_low, self.pe_high)
        target = low if buying else high
        wanted = pem.trade_to_target(buying, r_token, r_settlement, price, target, self.decimals)
        if wanted == 0:
            raise ValueError("reserve: spot price already at target")
        if buying:
            held, window = self.free, self._window(self.buy_window, self.free, now)
        else:
            held, window = self.inventory, self._window(self.sell_window, self.inventory, now)
        amount = min(wanted, held, window[1] - window[2])
        if amount == 0:
            raise ValueError(f"reserve: no {'buy' if buying else 'sell'} capacity left this epoch")
        if buying:
            room = pem.exposure_room(self.free, self.net_spent, self.max_exposure_bps)
            if room == 0:
                raise ValueError("reserve: exposure limit reached")
            amount = min(amount, room)
            out = pem.amount_out(amount, r_settlement, r_token)
        else:
            out = pem.amount_out(amount, r_token, r_settlement)
        if out == 0:
            raise ValueError("reserve: trade too small")
        if out < pem.min_out(amount, buying, r_token, r_settlement, price, self.decimals, self.max_slippage_bps):
            raise ValueError("reserve: output below the TWAP minimum (slippage)")
        window = (window[0], window[1], window[2] + amount)
        if buying:
            self.buy_window, self.free, self.inventory = window, self.free - amount, self.inventory + out
            self.net_spent += amount
        else:
            self.sell_window, self.free, self.inventory = window, self.free + out, self.inventory - amount
            self.net_spent -= min(self.net_spent, out)
        self.last_trade = now
        self.trades.append((now, "buy" if buying else "sell", amount))
        return ("buy" if buying else "sell", amount, out, target, pe)

    # --- credit ------------------------------------------------------------------------
    def target_of(self, p: int) -> int:
        return [t for start, t in self.targets if start <= p][-1]

    def set_revenue_target(self, now: int, target: int) -> None:
        start = self.period(now) + 1
        if self.targets[-1][0] == start:
            self.targets.pop()
        self.targets.append((start, target))

    def assess(self, now: int) -> int:
        """Predicts assess(): the amount slashed, or raises ValueError with the reason."""
        if self.status == DEFAULTED:
            raise ValueError("reserve: listing defaulted")
        p = self.next_period
        if p >= self.period(now):
            raise ValueError("reserve: period not finished" if p == 0 else "reserve: period already assessed")
        self.next_period += 1
        if p in self.waived:
            return 0
        if self.counted(p) >= self.target_of(p):  # no pauses in this model: unpaused_time == PERIOD
            self.misses, self.status = 0, ACTIVE
            return 0
        self.misses += 1
        if self.status == ACTIVE:
            self.reference_price = self.last.twap if self.last else 0
        slashed = self.stake * SLASH_BPS // pem.BPS
        remaining, self.status = self.stake - slashed, LATE
        if self.misses >= MAX_MISSES:
            self.status = DEFAULTED
            # the protection fund opens the listing's pot in the same call and pulls the rest
            self.to_fund += remaining
            remaining = 0
        self.stake = remaining
        self.slashed_total += slashed
        self.free += slashed  # nobody staked: the compensation stays in the reserve, as free balance
        return slashed
