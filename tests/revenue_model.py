"""An independent model of the revenue side in exact rational arithmetic:
what an ideal router and streaming distributor would owe, with no rounding.
The contracts round down everywhere, so they may owe less, never more. The
counted revenue per period (non-insider gross capped by the verified cap in
force at the period's start) is integer maths from ape_pst_plugin.pe."""

from dataclasses import dataclass, field
from fractions import Fraction

from ape_pst_plugin import pe as pem

DAY = 86_400
BPS = 10_000


@dataclass
class RevenueModel:
    vesting: int
    share_bps: int = 1000
    premium_bps: int = 25  # grade A's protection premium
    premiums: int = 0
    payments: list[tuple[int, int, int]] = field(default_factory=list)  # (timestamp, gross, holder)
    balances: dict[str, int] = field(default_factory=dict)
    owed: dict[str, Fraction] = field(default_factory=dict)  # ideal accrued, not yet claimed
    claimed: dict[str, int] = field(default_factory=dict)
    rate: Fraction = Fraction(0)
    finish: int = 0
    last: int = 0
    unallocated: Fraction = Fraction(0)
    to_reserve: int = 0
    streamed: Fraction = Fraction(0)
    start: int = 0
    records: list[tuple[int, int, int]] = field(default_factory=list)  # attestations: (recorded_at, expires_at, cap)
    periods: dict[int, list[int]] = field(default_factory=dict)  # period -> [cap, non-insider gross]

    @property
    def total(self) -> int:
        return sum(self.balances.values())

    def advance(self, now: int) -> None:
        until = min(now, self.finish)
        if until > self.last:
            flow = self.rate * (until - self.last)
            self.streamed += flow
            total = self.total
            if total == 0:
                self.unallocated += flow
            else:
                for who, bal in self.balances.items():
                    if bal:
                        self.owed[who] = self.owed.get(who, Fraction(0)) + flow * bal / total
        self.last = max(self.last, now)

    def pay(self, now: int, gross: int, insider: bool = False) -> int:
        """Returns the holder share; streams it (or hands it to the reserve).
        The protection premium (``premium_bps`` of gross) adds to ``premiums``.
        Only a non-insider's payment is counted revenue."""
        holder = gross * self.share_bps // BPS
        self.premiums += gross * self.premium_bps // BPS
        self.payments.append((now, gross, holder))
        if not insider:
            p = (now - self.start) // pem.PERIOD
            if p not in self.periods:
                self.periods[p] = [pem.cap_at(self.records, self.start + p * pem.PERIOD), 0]
            self.periods[p][1] += gross
        self.advance(now)
        if holder == 0:
            return 0
        if self.total == 0:
            self.to_reserve += holder
            return holder
        leftover = self.rate * (self.finish - now) if now < self.finish else Fraction(0)
        self.rate = (holder + leftover) / self.vesting
        self.finish = now + self.vesting
        return holder

    def stake(self, now: int, who: str, amount: int) -> None:
        self.advance(now)
        self.balances[who] = self.balances.get(who, 0) + amount

    def unstake(self, now: int, who: str, amount: int) -> None:
        self.advance(now)
        self.balances[who] -= amount

    def claim(self, who: str, amount: int) -> None:
        self.owed[who] = self.owed.get(who, Fraction(0)) - amount
        self.claimed[who] = self.claimed.get(who, 0) + amount

    def counted(self, p: int) -> int:
        cap, gross = self.periods.get(p, [0, 0])
        return pem.counted(gross, cap)

    def trailing_counted(self, now: int, n: int) -> int:
        current = (now - self.start) // pem.PERIOD
        return sum(self.counted(current - 1 - i) for i in range(n))
