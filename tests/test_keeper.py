"""The keeper's decision (`keeper.keep`), shared by the Silverback bot and the
simulator: what one round sends for one listing's state. The listing here is
a small in-memory state that moves as the real contracts do for these three
calls (assess advances the next period, update stamps the observation); the
bot against real contracts is `test_keeper_bot.py`."""

from dataclasses import replace

import pytest

from ape_pst_plugin.constants import ACTIVE, DEFAULTED, LATE, WAD
from ape_pst_plugin.keeper import ASSESS, STABILISE, UPDATE, ListingView, assess_due, keep, out_of_band, update_due

DAY = 86_400
PERIOD = 30 * DAY
START = 1_000_000


def view(**changes) -> ListingView:
    base = ListingView(
        now=START + PERIOD // 2,
        last_observed=START + PERIOD // 2,
        twap_window=1_800,
        twap=10 * WAD,
        eps=WAD,  # PE 10: in the 8-15 band
        pe_low=8 * WAD,
        pe_high=15 * WAD,
        status=ACTIVE,
        next_period=0,
        router_start=START,
        period_length=PERIOD,
    )
    return replace(base, **changes)


class Listing:
    """A listing's state as the three calls change it; ``refuse`` is the dry run's answer."""

    def __init__(self, state: ListingView, refuse: str | None = None, twap_after_update: int | None = None):
        self.state, self.refuse, self.twap_after_update = state, refuse, twap_after_update
        self.sent: list[str] = []
        self.dry_runs = 0

    def view(self) -> ListingView:
        return self.state

    def send(self, action: str):
        self.sent.append(action)
        if action == ASSESS:
            self.state = replace(self.state, next_period=self.state.next_period + 1)
        elif action == UPDATE:
            twap = self.twap_after_update if self.twap_after_update is not None else self.state.twap
            self.state = replace(self.state, last_observed=self.state.now, twap=twap)
        return f"receipt of {action}"

    def refusal(self) -> str | None:
        self.dry_runs += 1
        return self.refuse


def test_nothing_due_sends_nothing():
    listing = Listing(view())
    done = keep(listing)
    assert (listing.sent, done.refused, listing.dry_runs) == ([], None, 0)
    assert done.pe == 10 * WAD


@pytest.mark.parametrize(
    ("changes", "due"),
    [
        ({}, False),  # period 0 still running
        ({"now": START + PERIOD}, True),  # period 0 finished this second
        ({"now": START + 3 * PERIOD, "next_period": 3}, False),  # all finished periods assessed
        ({"now": START + 3 * PERIOD, "next_period": 1}, True),
        ({"now": START + 3 * PERIOD, "status": LATE}, True),
        ({"now": START + 3 * PERIOD, "status": DEFAULTED}, False),  # final: never assessed again
    ],
)
def test_assess_is_due_when_a_period_finished_unassessed(changes, due):
    assert assess_due(view(**changes)) is due


def test_one_assessment_per_round_in_order():
    listing = Listing(view(now=START + 3 * PERIOD, last_observed=START + 3 * PERIOD))
    for expected in (1, 2, 3, 3):
        keep(listing)
        assert listing.state.next_period == expected
    assert listing.sent == [ASSESS] * 3


@pytest.mark.parametrize(("age", "due"), [(0, False), (1_799, False), (1_800, True), (10 * DAY, True)])
def test_update_is_due_once_the_observation_is_a_window_old(age, due):
    state = view(last_observed=START + PERIOD // 2 - age)
    assert update_due(state) is due
    listing = Listing(state)
    keep(listing)
    assert listing.sent == ([UPDATE] if due else [])


def test_a_restart_repeats_nothing():
    """State-based: a second round over the state the first left sends nothing."""
    listing = Listing(view(now=START + PERIOD, last_observed=0))
    keep(listing)
    first = list(listing.sent)
    keep(listing)
    assert first == [ASSESS, UPDATE] and listing.sent == first


@pytest.mark.parametrize(
    ("twap", "out"), [(8 * WAD, False), (15 * WAD, False), (8 * WAD - 1, True), (15 * WAD + 1, True)]
)
def test_stabilise_only_out_of_band(twap, out):
    assert out_of_band(view(twap=twap)) is out
    listing = Listing(view(twap=twap))
    keep(listing)
    assert listing.sent == ([STABILISE] if out else []) and listing.dry_runs == int(out)


@pytest.mark.parametrize("twap", [None, 0])
def test_no_stabilise_while_the_pe_is_undefined(twap):
    listing = Listing(view(twap=twap, eps=None if twap is None else 0))
    assert keep(listing).pe is None and listing.dry_runs == 0


def test_a_refused_dry_run_is_reported_not_sent():
    listing = Listing(view(twap=5 * WAD), refuse="reserve: cooldown")
    done = keep(listing)
    assert (listing.sent, done.refused, done.pe) == ([], "reserve: cooldown", 5 * WAD)


def test_the_stabilise_decision_reads_the_state_after_the_update():
    """The TWAP the update brings decides: out of band before, in band after: no dry run."""
    listing = Listing(view(twap=5 * WAD, last_observed=0), twap_after_update=10 * WAD)
    done = keep(listing)
    assert listing.sent == [UPDATE] and listing.dry_runs == 0 and done.pe == 10 * WAD


def test_a_vetoed_send_waits_for_the_next_round():
    listing = Listing(view(now=START + PERIOD, last_observed=0, twap=5 * WAD))
    done = keep(listing, may_send=lambda action: False)
    assert listing.sent == [] and done.sent == []
    keep(listing)
    assert listing.sent == [ASSESS, UPDATE, STABILISE]


def test_a_defaulted_listing_gets_nothing():
    """Final: no assessment, no observation, no dry run, however stale or out of band."""
    listing = Listing(view(status=DEFAULTED, now=START + 5 * PERIOD, last_observed=0, twap=5 * WAD))
    done = keep(listing)
    assert (listing.sent, listing.dry_runs, done.refused) == ([], 0, None)
