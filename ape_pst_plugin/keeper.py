"""What a keeper does for one listing, in one home: the Silverback bot
(``bot.py``, ``ape pst keeper``) and the simulator's keeper both run
:func:`keep` over their own way of reading and sending (:class:`ListingIO`),
so what the scenarios show is what the bot does.

One round, from the listing's state alone (no catch-up replay, idempotent
after a restart: a round that finds nothing due sends nothing; a defaulted
listing is final and gets nothing):

1. ``assess()`` when a period has finished unassessed and the listing has not
   defaulted (one period per round, in order);
2. ``update()`` when the oracle's newest observation is at least a TWAP window
   old;
3. ``stabilise()`` only when the TWAP PE (read again after 1-2) is outside the
   band and an ``eth_call`` shows it would go through: a refusal is reported
   with its revert reason, never sent.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ape_pst_plugin.constants import DEFAULTED, WAD

ASSESS, UPDATE, STABILISE = "assess", "update", "stabilise"


@dataclass(frozen=True)
class ListingView:
    """What a round reads of one listing (the oracle, the reserve, the router's clock)."""

    now: int  # the timestamp the round's transactions will carry
    last_observed: int  # oracle.last_observed()
    twap_window: int  # oracle.twap_window()
    twap: int | None  # oracle.price_and_eps(): wad, None while undefined
    eps: int | None
    pe_low: int  # reserve.pe_low(), wad
    pe_high: int
    status: int  # reserve.status()
    next_period: int  # reserve.next_period()
    router_start: int  # router.START()
    period_length: int  # router.PERIOD()

    @property
    def pe(self) -> int | None:
        """The TWAP PE (wad), None while the TWAP or the EPS is undefined or zero."""
        return self.twap * WAD // self.eps if self.twap is not None and self.eps else None


def assess_due(view: ListingView) -> bool:
    """A finished period is still unassessed and the listing has not defaulted."""
    return view.status != DEFAULTED and (view.now - view.router_start) // view.period_length > view.next_period


def update_due(view: ListingView) -> bool:
    """The oracle's newest observation is at least one TWAP window old."""
    return view.now - view.last_observed >= view.twap_window


def out_of_band(view: ListingView) -> bool:
    """The TWAP PE is defined and outside [pe_low, pe_high]: stabilise() may trade."""
    pe = view.pe
    return pe is not None and not view.pe_low <= pe <= view.pe_high


class ListingIO(Protocol):
    """How a keeper reads one listing and sends to it."""

    def view(self) -> ListingView: ...

    def send(self, action: str) -> Any:
        """Sends ``assess``/``update``/``stabilise``; returns the receipt (raises on failure)."""

    def refusal(self) -> str | None:
        """None when ``stabilise()`` would go through now (an ``eth_call``), else its revert reason."""


@dataclass
class Round:
    """What one round did: the actions sent with their receipts, and a stabilise refusal."""

    sent: list[tuple[str, Any]] = field(default_factory=list)
    refused: str | None = None  # the revert reason of a stabilise() the dry run refused
    pe: int | None = None  # the TWAP PE the stabilise decision saw

    def receipt(self, action: str) -> Any:
        return next((receipt for name, receipt in self.sent if name == action), None)


def keep(io: ListingIO, may_send: Callable[[str], bool] = lambda action: True) -> Round:
    """One keeper round for one listing (see the module's docstring). ``may_send``
    vetoes a send (e.g. the gas price is over the bot's cap); a vetoed action is
    simply not sent and comes again next round."""
    done = Round()
    view = io.view()
    if view.status == DEFAULTED:  # final: nothing of it needs keeping
        return done
    if assess_due(view) and may_send(ASSESS):
        done.sent.append((ASSESS, io.send(ASSESS)))
    if update_due(view) and may_send(UPDATE):
        done.sent.append((UPDATE, io.send(UPDATE)))
    if done.sent:
        view = io.view()
    done.pe = view.pe
    if out_of_band(view):
        done.refused = io.refusal()
        if done.refused is None and may_send(STABILISE):
            done.sent.append((STABILISE, io.send(STABILISE)))
    return done
