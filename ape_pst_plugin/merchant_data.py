"""A merchant's monthly data export, loaded into the inputs a risk agent
attests (:class:`ape_pst_plugin.underwriting.Inputs`).

The format
----------
One row per calendar month, oldest first, no month missing, the last row the
last *full* month. CSV with a header row, or JSON (an array of objects with
the same keys). Columns (other columns are ignored):

``month``
    ``YYYY-MM``.
``gross``, ``refunds``
    The month's gross sales and the refunds paid in it, as decimal amounts in
    whole settlement units (``123456.78``; no thousands separators). Converted
    exactly to settlement units for the settlement token's decimals: an amount
    with more decimals than the token has is an error, never rounded. JSON may
    give them as strings or numbers (read exactly, not as floats).
``orders``
    The number of orders, a whole number; a month with gross sales has orders.
``top_channel_share``
    The largest sales channel's share of the month's gross, a decimal fraction
    from 0 to 1 (``0.35`` for 35%).

The inputs
----------
All integer maths, exact, in settlement units (money) or basis points
(``BPS`` = 10,000). ``net = gross - refunds`` for every month; "the last 3"
are the last three rows, "the prior 3" the three before them, "the last 6"
the last six rows.

``history_months``
    The number of rows.
``avg_monthly_revenue`` (R)
    ``floor(sum(net of the last 3) / 3)``.
``month_revenue``
    The last row's net.
``volatility_bps``
    The coefficient of variation of the last 6 nets (population standard
    deviation over the mean), in bps, rounded down:
    ``isqrt(BPS**2 * (6 * sum(x**2) - sum(x)**2)) // sum(x)``. This is
    ``floor(BPS * sigma / mean)`` exactly (``isqrt`` of the scaled value, not
    the scaled ``isqrt``), so it does not depend on the token's decimals.
``growth_bps``
    ``floor((sum(net of the last 3) - P) * BPS / P)`` with ``P`` the sum of
    the prior 3 nets; signed, rounded towards minus infinity.
``refund_bps``
    ``sum(refunds) * BPS // sum(gross)`` over the last 6 months.
``top_channel_bps``
    The gross-weighted average of ``top_channel_share`` over the last 6
    months, in bps, rounded down: ``floor(BPS * sum(gross * share) / sum(gross))``.

:attr:`MerchantData.evidence_hash` is the keccak-256 of the file's bytes (what
the attestation's ``evidence_hash`` commits to); :func:`merchant_id` is the
attestation's ``merchant_id``.

The loader computes inputs, never points: the model (points, grades, terms)
lives in :mod:`ape_pst_plugin.underwriting` alone. It refuses data that
cannot be underwritten with a one-line :class:`BadMerchantData` naming the
file and the row: a missing column or value, a number it cannot read, a
month missing between two rows, a duplicate or out-of-order month, negative
gross or refunds, refunds above gross, gross with zero orders, a share
outside 0..1, fewer than 6 months, no gross in the last 6 months, no net
revenue in the prior 3 months (growth undefined), and refunds over the
model's gate (``underwriting.MAX_REFUND_BPS``) in the last 6 months.
"""

import csv
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import pairwise
from math import floor, isqrt
from pathlib import Path

from eth_utils import keccak

from ape_pst_plugin import underwriting as uw
from ape_pst_plugin.constants import BPS
from ape_pst_plugin.exceptions import BadMerchantData

COLUMNS = ("month", "gross", "refunds", "orders", "top_channel_share")
#: Months in the volatility, refund and channel windows (and the least data the loader takes).
WINDOW = 6
#: Months in R and in each half of growth.
TRAILING = 3
#: Settlement units must fit the registry's 128-bit revenue cap.
MAX_UNITS = 2**128

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_WHOLE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Month:
    """One row of the export, amounts in settlement units."""

    row: str
    """Where it is in the file: ``line 5`` (CSV, the header is line 1) or ``entry 4`` (JSON, from 1)."""
    month: str
    gross: int
    refunds: int
    orders: int
    top_channel_share: Fraction

    @property
    def net(self) -> int:
        return self.gross - self.refunds


@dataclass(frozen=True)
class MerchantData:
    """A loaded export: its rows, the inputs computed from them and the evidence hash."""

    path: Path
    decimals: int
    months: tuple[Month, ...]
    inputs: uw.Inputs
    evidence_hash: bytes


def load(path: Path | str, decimals: int) -> MerchantData:
    """Reads the export at ``path`` (``.json``, or JSON text starting with
    ``[``; CSV otherwise) for a settlement token of ``decimals`` decimals."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadMerchantData(f"cannot read {path}: {err.strerror or err}") from None
    months = parse(data, str(path), decimals)
    return MerchantData(path, decimals, tuple(months), inputs_of(months, str(path)), keccak(data))


def merchant_id(merchant: str, text: str | None = None) -> bytes:
    """The attestation's ``merchant_id``: keccak-256 of ``text`` (UTF-8) if
    given (the agent's own reference for the merchant), else of the
    merchant's 20 address bytes."""
    if text is not None:
        return keccak(text.encode())
    return keccak(bytes.fromhex(merchant[2:]))


# --- reading ---------------------------------------------------------------------------------


def parse(data: bytes, name: str, decimals: int) -> list[Month]:
    """The rows of an export (``name`` names it in errors), checked one by one
    and as a sequence of consecutive months."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadMerchantData(f"{name}: not UTF-8 text") from None
    is_json = name.lower().endswith(".json") or text.lstrip().startswith("[")
    records = _json_records(text, name) if is_json else _csv_records(text, name)
    months = [_month(row, record, name, decimals) for row, record in records]
    _check_sequence(months, name)
    return months


def _json_records(text: str, name: str):
    try:
        entries = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as err:
        raise BadMerchantData(f"{name}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    if not isinstance(entries, list):
        raise BadMerchantData(f"{name}: not a JSON array of months (one object per month)")
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise BadMerchantData(f"{name}: entry {index}: not an object with {', '.join(COLUMNS)}")
        missing = [c for c in COLUMNS if c not in entry]
        if missing:
            raise BadMerchantData(f"{name}: entry {index}: missing {', '.join(missing)}")
        yield f"entry {index}", entry


def _csv_records(text: str, name: str):
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise BadMerchantData(f"{name}: empty file: expected a header row with {', '.join(COLUMNS)}")
    header = [column.strip().lower() for column in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise BadMerchantData(
            f"{name}: line 1: missing column {', '.join(missing)} (the header has {', '.join(header)})"
        )
    where = {c: header.index(c) for c in COLUMNS}
    for cells in reader:
        row = f"line {reader.line_num}"
        if not any(cell.strip() for cell in cells):
            continue
        short = [c for c, i in where.items() if i >= len(cells) or not cells[i].strip()]
        if short:
            raise BadMerchantData(f"{name}: {row}: no value for {', '.join(short)}")
        yield row, {c: cells[i] for c, i in where.items()}


def _month(row: str, record: dict, name: str, decimals: int) -> Month:
    month = _text(record["month"])
    m = _MONTH.fullmatch(month)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise BadMerchantData(f"{name}: {row}: month {month!r} is not a calendar month like 2024-03")
    where = f"{name}: {row} ({month})"
    gross = _units(record["gross"], "gross", where, decimals)
    refunds = _units(record["refunds"], "refunds", where, decimals)
    orders = _orders(record["orders"], where)
    share = _decimal(record["top_channel_share"], "top_channel_share", where)
    if not 0 <= share <= 1:
        raise BadMerchantData(f"{where}: top_channel_share {share} is not a fraction from 0 to 1 (35% is 0.35)")
    if refunds > gross:
        raise BadMerchantData(f"{where}: refunds {_text(record['refunds'])} are above gross {_text(record['gross'])}")
    if gross > 0 and orders == 0:
        raise BadMerchantData(f"{where}: gross {_text(record['gross'])} with zero orders")
    return Month(row, month, gross, refunds, orders, Fraction(share))


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else str(value)


def _decimal(value, column: str, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise BadMerchantData(f"{where}: {column} {json.dumps(value, default=str)} is not a number")
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise BadMerchantData(f"{where}: {column} {_text(value)!r} is not a number")
    return number


def _units(value, column: str, where: str, decimals: int) -> int:
    """A decimal amount in whole units as exact settlement units."""
    number = _decimal(value, column, where)
    if number < 0:
        raise BadMerchantData(f"{where}: {column} {_text(value)} is negative")
    if number.adjusted() > 60:
        raise BadMerchantData(f"{where}: {column} {_text(value)} is too large")
    raw = Fraction(number) * 10**decimals
    if raw.denominator != 1:
        raise BadMerchantData(
            f"{where}: {column} {_text(value)} has more than {decimals} decimals (the settlement token's)"
        )
    if raw >= MAX_UNITS:
        raise BadMerchantData(f"{where}: {column} {_text(value)} is too large")
    return int(raw)


def _orders(value, where: str) -> int:
    text = _text(value)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not _WHOLE.fullmatch(text):
        raise BadMerchantData(f"{where}: orders {text!r} is not a whole number")
    if int(text) < 0:
        raise BadMerchantData(f"{where}: orders {text} is negative")
    return int(text)


def _index(month: Month) -> int:
    year, number = month.month.split("-")
    return int(year) * 12 + int(number) - 1


def _check_sequence(months: list[Month], name: str) -> None:
    for before, after in pairwise(months):
        a, b = _index(before), _index(after)
        if b == a:
            raise BadMerchantData(f"{name}: {after.row}: month {after.month} again (also on {before.row})")
        if b < a:
            raise BadMerchantData(
                f"{name}: {after.row}: month {after.month} comes after {before.month} ({before.row}): "
                "sort the rows by month, oldest first"
            )
        if b > a + 1:
            gap = b - a - 1
            raise BadMerchantData(
                f"{name}: {after.row}: {gap} month{'s' * (gap > 1)} missing between {before.month} ({before.row}) "
                f"and {after.month}: give every month, 0 for a month without sales"
            )


# --- the inputs ------------------------------------------------------------------------------


def _rows(window: list[Month]) -> str:
    """``lines 20-25 (2024-07 to 2024-12)``."""
    first, last = window[0], window[-1]
    kind, a = first.row.split()
    return f"{kind}s {a}-{last.row.split()[1]} ({first.month} to {last.month})"


def inputs_of(months: list[Month], name: str = "data") -> uw.Inputs:
    """The attested inputs of consecutive ``months`` (at least :data:`WINDOW`),
    as defined in this module's docstring."""
    if len(months) < WINDOW:
        raise BadMerchantData(f"{name}: {len(months)} months of data: at least {WINDOW} are needed")
    last6 = months[-WINDOW:]
    prior3, last3 = months[-2 * TRAILING : -TRAILING], months[-TRAILING:]
    gross6 = sum(m.gross for m in last6)
    if gross6 == 0:
        raise BadMerchantData(f"{name}: {_rows(last6)}: no gross sales in the last {WINDOW} months")
    refund_bps = sum(m.refunds for m in last6) * BPS // gross6
    if refund_bps > uw.MAX_REFUND_BPS:
        raise BadMerchantData(
            f"{name}: {_rows(last6)}: refunds are {Decimal(refund_bps).scaleb(-2)}% of gross in the last {WINDOW} "
            f"months, over the model's {Decimal(uw.MAX_REFUND_BPS).scaleb(-2)}% gate: not underwritable"
        )
    prior = sum(m.net for m in prior3)
    if prior == 0:
        raise BadMerchantData(
            f"{name}: {_rows(prior3)}: no net revenue in the prior {TRAILING} months: growth against them is undefined"
        )
    nets = [m.net for m in last6]
    total, squares = sum(nets), sum(x * x for x in nets)  # total > 0: refunds are at most the gate
    recent = sum(m.net for m in last3)
    return uw.Inputs(
        history_months=len(months),
        avg_monthly_revenue=recent // TRAILING,
        month_revenue=months[-1].net,
        volatility_bps=isqrt(BPS * BPS * (WINDOW * squares - total * total)) // total,
        growth_bps=(recent - prior) * BPS // prior,
        refund_bps=refund_bps,
        top_channel_bps=floor(BPS * sum(m.gross * m.top_channel_share for m in last6) / gross6),
    )
