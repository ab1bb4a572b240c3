"""R1, R2, K1, K2, W1 and W3 of docs/PROTOCOL.md, fuzzed with a stateful
hypothesis machine on anvil against a 6-decimal settlement token: outside
payers, the merchant paying itself, the verifier recording month revenues,
stakers, a just-in-time staker and the merchant trying to stake. Each example
starts from a chain snapshot and restores it afterwards."""

from fractions import Fraction

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule, run_state_machine_as_test
from revenue_model import DAY, RevenueModel

from ape_pst_plugin import pe as pem
from ape_pst_plugin.testing import ChainMachine, attest_month, counted_revenue_state

UNITS = 10**6  # settlement token: 6 decimals
WAD = 10**18
STAKERS = 3

amounts = st.one_of(st.integers(1, 10**6), st.integers(1, 10**12 * UNITS))  # 1 wei .. 1e12 units
time_jumps = st.one_of(st.integers(1, 3_600), st.integers(3_600, 30 * DAY))


class RevenueMachine(ChainMachine):
    env: dict = {}

    def __init__(self):
        e = self.env
        super().__init__(e["chain"])
        self.listing = e["listing"]
        self.router, self.staking, self.usdc = self.listing.router, self.listing.staking, self.listing.settlement
        self.payers, self.stakers, self.jit = e["payers"], e["stakers"], e["jit"]
        self.merchant, self.reserve, self.factory, self.admin = e["merchant"], e["reserve"], e["factory"], e["admin"]
        self.registry, self.agent, self.fund = e["registry"], e["agent"], e["fund"]
        latest = self.registry.latest(self.merchant)
        self.month_revenue, self.avg_monthly_revenue = latest.month_revenue, latest.avg_monthly_revenue
        records, periods = counted_revenue_state(self.router, self.registry, self.merchant)
        self.model = RevenueModel(
            vesting=self.staking.VESTING(), start=self.router.START(), records=records, periods=periods
        )
        self.model.last = self.now

    def _pay(self, payer, amount, insider=False):
        payer_before = self.usdc.balanceOf(payer)
        merchant_before = self.usdc.balanceOf(self.merchant)
        holders_before = self.usdc.balanceOf(self.staking) + self.usdc.balanceOf(self.reserve)
        fund_before = self.usdc.balanceOf(self.fund)
        premiums_before = self.model.premiums
        p = self.router.current_period()
        receipt = self.send(self.router.pay, b"\x07" * 32, amount, sender=payer)
        [event] = receipt.events.filter(self.router.Payment)
        merchant_part = self.usdc.balanceOf(self.merchant) - merchant_before
        holder_part = self.usdc.balanceOf(self.staking) + self.usdc.balanceOf(self.reserve) - holders_before
        premium_part = self.usdc.balanceOf(self.fund) - fund_before
        if insider:  # the merchant paid itself: it got its own merchant part back
            merchant_part += amount
        else:
            assert payer_before - self.usdc.balanceOf(payer) == amount
        # R1: conservation (holder + premium + merchant == gross) and the exact shares, for every payment
        assert merchant_part + holder_part + premium_part == amount
        assert holder_part == amount * self.router.share_bps() // 10_000 == event.holder_share
        assert self.model.pay(self.now, amount, insider=insider) == holder_part
        assert premium_part == self.model.premiums - premiums_before == event.premium
        # W1: counted revenue is min(non-insider gross, verified cap); an insider's payment counts nothing
        assert event.counted == (not insider)
        assert self.router.counted(p) == self.model.counted(p) <= self.router.period_gross(p)
        return holder_part

    @rule(payer=st.integers(0, 1), amount=amounts)
    def pay(self, payer, amount):
        self._pay(self.payers[payer], amount)

    @rule(amount=amounts)
    def merchant_pays_itself(self, amount):
        """W1: a self-payment is split like any other and counted nothing."""
        self._pay(self.merchant, amount, insider=True)

    @rule(ratio=st.sampled_from([0, 10, 100, 1_000]))
    def verify(self, ratio):
        """The risk agent attests the merchant's month revenue (a percentage of its listing month)."""
        month_revenue = self.month_revenue * ratio // 100
        expires_at = attest_month(self, month_revenue)
        self.model.records.append(
            (self.now, expires_at, pem.verified_cap(month_revenue, self.registry.tolerance_bps()))
        )

    @rule(amount=st.integers(1, 5_000 * WAD))
    def merchant_stakes(self, amount):
        """W3: the merchant (also the payout address here) cannot stake."""
        with pytest.raises(ContractLogicError, match="staking: insiders cannot stake"):
            self.send(self.staking.stake, amount, sender=self.merchant)

    @rule(who=st.integers(0, STAKERS - 1), amount=st.integers(1, 5_000 * WAD))
    def stake(self, who, amount):
        staker = self.stakers[who]
        amount = min(amount, self.listing.token.balanceOf(staker))  # what the holder still has
        if amount == 0:
            return
        others = self._others_earned(staker)
        self.send(self.staking.stake, amount, sender=staker)
        self.model.stake(self.now, staker.address, amount)
        # staking never changes another staker's accrued reward (same block time)
        assert self._others_earned(staker) == others

    @precondition(lambda self: any(self.model.balances.get(s.address, 0) for s in self.stakers))
    @rule(who=st.integers(0, STAKERS - 1), part=st.fractions(0, 1))
    def unstake(self, who, part):
        staker = self.stakers[who]
        staked = self.model.balances.get(staker.address, 0)
        amount = int(staked * part)
        if amount == 0:
            return
        others = self._others_earned(staker)
        self.send(self.staking.unstake, amount, sender=staker)
        self.model.unstake(self.now, staker.address, amount)
        assert self._others_earned(staker) == others

    @rule(who=st.integers(0, STAKERS - 1))
    def claim(self, who):
        staker = self.stakers[who]
        self.sync()
        due = self.staking.earned(staker)
        if due == 0:
            return
        before = self.usdc.balanceOf(staker)
        self.send(self.staking.claim, sender=staker)
        got = self.usdc.balanceOf(staker) - before
        assert got == due
        self.model.advance(self.now)
        self.model.claim(staker.address, got)

    @rule(dt=time_jumps)
    def wait(self, dt):
        self.now += dt

    @rule(amount=st.integers(WAD, 5_000 * WAD), gross=st.integers(UNITS, 10**9 * UNITS), dt=st.integers(1, DAY))
    def just_in_time_harvest(self, amount, gross, dt):
        """K2: stake right before a payment, leave dt later."""
        self.send(self.staking.stake, amount, sender=self.jit)
        self.model.stake(self.now, self.jit.address, amount)
        remainder = self.model.owed.get(self.jit.address, Fraction(0))  # sub-wei, from earlier visits
        leftover = self.model.rate * max(self.model.finish - self.now, 0)
        total = self.model.total
        holder = self._pay(self.payers[0], gross)
        self.now += dt
        before = self.usdc.balanceOf(self.jit)
        self.send(self.staking.exit, sender=self.jit)
        harvested = self.usdc.balanceOf(self.jit) - before
        self.model.unstake(self.now, self.jit.address, amount)
        self.model.claim(self.jit.address, harvested)
        bound = Fraction(amount, total) * (holder + leftover) * min(dt, self.model.vesting) / self.model.vesting
        assert harvested <= remainder + bound

    @rule(n=st.integers(1, 12))
    def counted_revenue(self, n):
        """R2: the router's counted revenue of the last n finished periods equals the model's."""
        self.sync()
        finished = self.router.current_period()
        if finished == 0:
            return
        n = min(n, finished)
        assert self.router.trailing_counted(n) == self.model.trailing_counted(self.now, n)

    @invariant()
    def staking_owes_what_streamed(self):
        """K1: per staker, claimed + claimable <= the ideal stream and short of it by at most 1 wei
        (the whole-wei floor, plus the sub-wei rounding of the stream's rate: a staker owed
        exactly 223 wei can be paid 222)."""
        self.sync()
        self.model.advance(self.now)
        owed_total = 0
        for staker in [*self.stakers, self.jit]:
            earned = self.staking.earned(staker)
            ideal = self.model.owed.get(staker.address, Fraction(0))
            assert earned <= ideal
            assert ideal - earned <= 1
            owed_total += earned
        # the distributor holds what it owes (plus what is set aside for the reserve)
        assert self.usdc.balanceOf(self.staking) >= owed_total + self.staking.unallocated()
        assert self.staking.total_staked() == self.model.total

    def _others_earned(self, staker):
        self.sync()
        return [self.staking.earned(s) for s in [*self.stakers, self.jit] if s != staker]


@pytest.fixture
def machine_env(chain, listing, accounts, admin, merchant, payer, stakers, usdc, protocol):
    second_payer, jit = accounts[8], accounts[9]
    usdc.faucet(second_payer, 10**13 * UNITS, sender=second_payer)
    usdc.approve(listing.router, 2**256 - 1, sender=second_payer)
    usdc.faucet(payer, 10**13 * UNITS, sender=payer)
    usdc.faucet(merchant, 10**13 * UNITS, sender=merchant)
    usdc.approve(listing.router, 2**256 - 1, sender=merchant)
    listing.release(merchant, jit, 10_000 * WAD)
    listing.token.approve(listing.staking, 2**256 - 1, sender=jit)
    return dict(
        chain=chain,
        listing=listing,
        payers=[payer, second_payer],
        stakers=stakers,
        jit=jit,
        merchant=merchant,
        reserve=listing.reserve,
        factory=protocol.factory,
        admin=admin,
        registry=protocol.registry,
        agent=protocol.agent,
        fund=protocol.fund,
    )


def test_revenue_invariants(machine_env, fuzz_settings):
    RevenueMachine.env = machine_env
    with RevenueMachine.expected_reverts():
        run_state_machine_as_test(RevenueMachine, settings=fuzz_settings(max_examples=12, stateful_step_count=25))
