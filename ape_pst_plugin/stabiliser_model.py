"""A Python model of one listing's oracle and reserve, built only from
PROTOCOL.md and :mod:`ape_pst_plugin.pe`: it predicts every stabilise(),
update() and assess() outcome, to the wei, from what it saw happen.
:class:`ape_pst_plugin.testing.StabiliserMachine` checks the chain against it."""

from dataclasses import dataclass, field

from ape_pst_plugin import pe as pem

DAY = 86_400
EPOCH = DAY
PERIOD = 30 * DAY
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
    share_bps: int = 1_000
    payments: list = field(default_factory=list)  # (timestamp, gross, holder)
    last: Observation | None = None
    last_trade: int = 0
    buy_window: tuple = (0, 0, 0)  # epoch, budget, spent
    sell_window: tuple = (0, 0, 0)
    trades: list = field(default_factory=list)  # (timestamp, "buy"/"sell", amount)
    next_period: int = 0
    misses: int = 0
    defaulted: bool = False

    # --- revenue -------------------------------------------------------------
    def pay(self, now: int, gross: int) -> int:
        holder = gross * self.share_bps // 10_000
        self.payments.append((now, gross, holder))
        self.free += holder  # nobody is staked in this model: the share is the reserve's
        return holder

    def trailing(self, now: int, window: int) -> int:
        start_day = max(now - window, 0) // DAY
        return sum(h for ts, _, h in self.payments if ts // DAY >= start_day)

    def period_gross(self, index: int) -> int:
        return sum(g for ts, g, _ in self.payments if (ts - self.start) // PERIOD == index)

    # --- oracle ------------------------------------------------------------
    def eps_now(self, now: int) -> int:
        elapsed = now - self.start
        if elapsed < pem.MIN_HISTORY:
            return 0
        circulating = self.supply - self.inventory
        annual = pem.annualised_earnings(self.trailing(now, min(elapsed, pem.YEAR)), elapsed)
        return pem.eps(annual, circulating, self.decimals)

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
        if now - self.start < pem.MIN_HISTORY:
            raise ValueError("oracle: less than 30 days of earnings history")
        if self.last is None:
            raise ValueError("oracle: no observation yet, call update()")
        if self.last.eps == 0:
            raise ValueError("oracle: no earnings, PE undefined")
        return self.last.eps

    # --- stabiliser ---------------------------------------------------------
    def _window(self, window, base, now):
        epoch = now // EPOCH
        if window[0] == epoch:
            return window
        return (epoch, min(base * self.capacity_bps // 10_000, 2**112 - 1), 0)

    def stabilise(self, now: int, r_token: int, r_settlement: int):
        """Predicts stabilise(): ("none", 0) in band, ("buy"|"sell", amount_in, amount_out, target, pe),
        or raises ValueError with the revert reason. Applies the prediction."""
        eps = self.eps(now)
        price = self.twap(now)
        pe = price * pem.WAD // eps
        if self.pe_low <= pe <= self.pe_high:
            return ("none", 0, 0, 0, pe)
        buying = pe < self.pe_low
        if buying and self.defaulted:
            raise ValueError("reserve: listing defaulted, no buys")
        if self.last_trade and now < self.last_trade + self.cooldown:
            raise ValueError("reserve: cooldown, too soon after the last trade")
        low, high = pem.target_prices(eps, self.pe_low, self.pe_high)
        if buying:
            wanted = pem.buy_to_price(r_token, r_settlement, low, self.decimals)
            target, held, window = low, self.free, self._window(self.buy_window, self.free, now)
        else:
            wanted = pem.sell_to_price(r_token, r_settlement, high, self.decimals)
            target, held, window = high, self.inventory, self._window(self.sell_window, self.inventory, now)
        if wanted == 0:
            raise ValueError("reserve: spot price already at target")
        amount = min(wanted, held, window[1] - window[2])
        if amount == 0:
            raise ValueError(f"reserve: no {'buy' if buying else 'sell'} capacity left this epoch")
        if buying:
            out = pem.amount_out(amount, r_settlement, r_token)
        else:
            out = pem.amount_out(amount, r_token, r_settlement)
        if out == 0:
            raise ValueError("reserve: trade too small")
        if out < pem.min_out(amount, buying, r_token, r_settlement, price, self.decimals, self.max_slippage_bps):
            raise ValueError("reserve: spot too far from TWAP (slippage)")
        window = (window[0], window[1], window[2] + amount)
        if buying:
            self.buy_window, self.free, self.inventory = window, self.free - amount, self.inventory + out
        else:
            self.sell_window, self.free, self.inventory = window, self.free + out, self.inventory - amount
        self.last_trade = now
        self.trades.append((now, "buy" if buying else "sell", amount))
        return ("buy" if buying else "sell", amount, out, target, pe)

    # --- credit risk ---------------------------------------------------------
    def assess(self, now: int) -> int:
        if self.defaulted:
            raise ValueError("reserve: listing defaulted")
        if self.next_period >= (now - self.start) // PERIOD:
            raise ValueError("reserve: period not finished")
        gross = self.period_gross(self.next_period)
        self.next_period += 1
        if gross >= self.revenue_target:
            self.misses = 0
            return 0
        self.misses += 1
        slashed = self.stake * SLASH_BPS // 10_000
        if self.misses >= MAX_MISSES:
            slashed, self.defaulted = self.stake, True
        self.stake -= slashed
        self.free += slashed  # nobody staked: the compensation stays in the reserve, as free balance
        return slashed
