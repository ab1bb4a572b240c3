"""A simulation's outputs: ``report.md`` (what happened, with figures),
``series.csv`` (one row per step) and three PNG plots (matplotlib, Agg
backend, no display needed)."""

import csv
from pathlib import Path

from ape_pst_plugin.constants import STATUS
from ape_pst_plugin.simulate import WAD, Result
from ape_pst_plugin.underwriting import GRADES

COLUMNS = (
    "hour",
    "timestamp",
    "spot",
    "twap",
    "pe",
    "p_low",
    "p_high",
    "reserve_stable",
    "inventory",
    "staked",
    "stake",
    "period",
    "period_gross",
    "period_counted",
    "verified_cap",
    "fresh",
    "status",
    "fund_stress",
    "trade",
    "trade_given",
    "trade_received",
    "note",
)


def _wad(value):
    return "" if value is None else f"{value / WAD:.6f}"


def write_series(result: Result, path: Path) -> None:
    """Prices and PE in whole units (18-decimal fixed point divided out),
    settlement amounts in whole settlement units, token amounts in whole tokens."""
    unit = 10**result.decimals
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for r in result.rows:
            given_unit, received_unit = (unit, WAD) if r.trade == "buy" else (WAD, unit)
            writer.writerow(
                [
                    f"{r.hour:g}",
                    r.timestamp,
                    _wad(r.spot),
                    _wad(r.twap),
                    _wad(r.pe),
                    _wad(r.p_low),
                    _wad(r.p_high),
                    f"{r.reserve_stable / unit:.6f}",
                    f"{r.inventory / WAD:.6f}",
                    f"{r.staked / WAD:.6f}",
                    f"{r.stake / unit:.6f}",
                    r.period,
                    f"{r.period_gross / unit:.6f}",
                    f"{r.period_counted / unit:.6f}",
                    f"{r.period_cap / unit:.6f}",
                    "yes" if r.fresh else "no",
                    STATUS[r.status],
                    "yes" if r.stress else "no",
                    r.trade,
                    f"{r.spent / given_unit:.6f}" if r.spent else "",
                    f"{r.received / received_unit:.6f}" if r.received else "",
                    r.note,
                ]
            )


def plot(result: Result, out: Path) -> dict[str, Path]:
    """price.png (spot, TWAP, the P_low-P_high band, reserve trades), pe.png
    (PE against the band lines), reserve.png (free settlement, inventory, stake)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.rows
    days = [r.hour / 24 for r in rows]
    unit = 10**result.decimals
    name = result.scenario.name
    paths = {}

    fig, ax = plt.subplots(figsize=(10, 5))
    defined = [(d, r) for d, r in zip(days, rows) if r.p_low is not None]
    if defined:
        ax.fill_between(
            [d for d, _ in defined],
            [r.p_low / WAD for _, r in defined],
            [r.p_high / WAD for _, r in defined],
            color="tab:green",
            alpha=0.15,
            label="band: P_low (PE 8) to P_high (PE 15)",
        )
    ax.plot(days, [r.spot / WAD for r in rows], color="tab:blue", lw=1, label="spot")
    ax.plot(
        [d for d, r in zip(days, rows) if r.twap],
        [r.twap / WAD for r in rows if r.twap],
        color="black",
        lw=1.2,
        ls="--",
        label="TWAP (oracle)",
    )
    for kind, marker, colour in (("buy", "^", "tab:green"), ("sell", "v", "tab:red")):
        points = [(d, r.spot / WAD) for d, r in zip(days, rows) if r.trade == kind]
        if points:
            ax.scatter(*zip(*points), marker=marker, color=colour, s=60, zorder=5, label=f"reserve {kind}s")
    refused = [(d, r.spot / WAD) for d, r in zip(days, rows) if r.trade.startswith("refused")]
    if refused:
        ax.scatter(*zip(*refused), marker="x", color="grey", s=25, zorder=4, label="stabilise() refused")
    ax.set(title=f"{name}: token price (settlement units per token)", xlabel="simulated days", ylabel="price")
    ax.legend(loc="best", fontsize=8)
    paths["price"] = _save(plt, fig, ax, out / "price.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(
        [d for d, r in zip(days, rows) if r.pe is not None],
        [r.pe / WAD for r in rows if r.pe is not None],
        color="tab:purple",
        label="TWAP PE",
    )
    ax.axhline(result.pe_low / WAD, color="tab:green", ls="--", label=f"pe_low {result.pe_low / WAD:g}: buy below")
    ax.axhline(result.pe_high / WAD, color="tab:red", ls="--", label=f"pe_high {result.pe_high / WAD:g}: sell above")
    ax.set(title=f"{name}: PE (TWAP price / EPS)", xlabel="simulated days", ylabel="PE")
    ax.legend(loc="best", fontsize=8)
    paths["pe"] = _save(plt, fig, ax, out / "pe.png")

    fig, left = plt.subplots(figsize=(10, 4))
    left.plot(days, [r.reserve_stable / unit for r in rows], color="tab:blue", label="free settlement balance")
    left.plot(days, [r.stake / unit for r in rows], color="tab:orange", label="merchant stake")
    left.set(xlabel="simulated days", ylabel="settlement units")
    right = left.twinx()
    right.plot(days, [r.inventory / WAD for r in rows], color="tab:brown", ls="--", label="token inventory")
    right.set_ylabel("tokens")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], loc="center right", fontsize=8)
    left.set_title(f"{name}: reserve (ALAR) balances")
    paths["reserve"] = _save(plt, fig, left, out / "reserve.png")
    return paths


def _save(plt, fig, ax, path: Path) -> Path:
    """Grid, layout, PNG, and the figure closed (pyplot keeps figures open)."""
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pe(value):
    return "undefined" if value is None else f"{value / WAD:.2f}"


def markdown(result: Result) -> str:
    rows, unit = result.rows, 10**result.decimals
    first, last = rows[0], rows[-1]
    buys = [t for t in result.trades if t["kind"] == "buy"]
    sells = [t for t in result.trades if t["kind"] == "sell"]
    defined = [r.pe for r in rows if r.pe is not None]
    lines = [
        f"# Simulation: {result.scenario.name}",
        "",
        result.scenario.description + ".",
        "",
        f"- network: `{result.network}`; {result.days} simulated days, one step every {result.hours_per_step} h, "
        f"seed {result.seed}; band PE {result.pe_low / WAD:g}-{result.pe_high / WAD:g}, "
        f"capacity {result.capacity_bps / 100:g}% per day",
        f"- wall clock of the scenario loop: {result.wall_seconds:.1f} s "
        f"({result.days_per_second:.2f} simulated days per second)",
        "",
        "| | start | end | min | max |",
        "|---|---:|---:|---:|---:|",
        f"| TWAP PE | {_pe(first.pe)} | {_pe(last.pe)} | {_pe(min(defined) if defined else None)} | "
        f"{_pe(max(defined) if defined else None)} |",
        f"| spot price | {first.spot / WAD:.4f} | {last.spot / WAD:.4f} | {min(r.spot for r in rows) / WAD:.4f} | "
        f"{max(r.spot for r in rows) / WAD:.4f} |",
        f"| reserve free settlement | {first.reserve_stable / unit:,.2f} | {last.reserve_stable / unit:,.2f} | | |",
        f"| reserve token inventory | {first.inventory / WAD:,.0f} | {last.inventory / WAD:,.0f} | | |",
        f"| merchant stake | {first.stake / unit:,.2f} | {last.stake / unit:,.2f} | | |",
        f"| staked tokens | {first.staked / WAD:,.0f} | {last.staked / WAD:,.0f} | | |",
        "",
        f"**Float kept:** the reserve ends with {last.reserve_stable / unit:,.2f} of the {result.start_free / unit:,.2f} "
        f"free settlement it started with ({last.reserve_stable * 100 / max(result.start_free, 1):.1f}%).",
        "",
        f"**Reserve trades:** {len(buys)} buys (paid {sum(t['given'] for t in buys) / unit:,.2f} for "
        f"{sum(t['received'] for t in buys) / WAD:,.0f} tokens), {len(sells)} sells "
        f"({sum(t['given'] for t in sells) / WAD:,.0f} tokens for {sum(t['received'] for t in sells) / unit:,.2f}).",
        "",
    ]
    if result.trades:
        lines += [
            "| day | trade | given | received | TWAP PE | target price | spot after |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for t in result.trades[:40]:
            given = f"{t['given'] / unit:,.2f}" if t["kind"] == "buy" else f"{t['given'] / WAD:,.0f} tokens"
            received = f"{t['received'] / WAD:,.0f} tokens" if t["kind"] == "buy" else f"{t['received'] / unit:,.2f}"
            lines.append(
                f"| {t['hour'] / 24:.2f} | {t['kind']} | {given} | {received} | {t['pe'] / WAD:.2f} | "
                f"{t['target'] / WAD:.4f} | {t['spot_after'] / WAD:.4f} |"
            )
        if len(result.trades) > 40:
            lines.append(f"| | ... {len(result.trades) - 40} more in series.csv | | | | | |")
        lines.append("")
    if result.assessments:
        lines += [
            "**Performance assessments** (`assess()`: met iff counted revenue reaches the period's target):",
            "",
            "| day | period | counted | target due | slashed | misses | status |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for a in result.assessments:
            lines.append(
                f"| {a['hour'] / 24:.2f} | {a['period']} | {a['counted'] / unit:,.2f} | {a['due'] / unit:,.2f} | "
                f"{a['slashed'] / unit:,.2f} | {a['misses']} | {STATUS[a['status']]} |"
            )
        lines.append("")
    lines += underwriting(result)
    lines += protection(result)
    lines += stress(result)
    if result.refusals:
        reasons = {}
        for r in result.refusals:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
        lines += ["**stabilise() refused** (the keeper's call reverted):", ""]
        lines += [f"- {count} x `{reason}`" for reason, count in reasons.items()]
        lines.append("")
    if result.attacks:
        traded = sum(1 for a in result.attacks if a["stabilise_succeeded"] and a["traded"])
        refused = sum(1 for a in result.attacks if not a["stabilise_succeeded"])
        lines += [
            f"**Manipulation:** {len(result.attacks)} same-block attacks (spot moved by a few percent or by "
            f"half the pool, then `stabilise()`, then undone); the reserve traded in {traded} of them and "
            f"refused {refused}.",
            "",
        ]
    lines += [
        "![price](price.png)",
        "",
        "![PE](pe.png)",
        "",
        "![reserve](reserve.png)",
        "",
        "Every step is a row of `series.csv`.",
    ]
    return "\n".join(lines) + "\n"


def protection(result: Result) -> list[str]:
    """The protection fund's part: the pot a default opened (its caps, which bound, the fixed rate),
    the claims over time, and the fund's free balance and coverage before and after."""
    from ape_pst_plugin import pe as pem

    if not result.pot and not result.scenario.fund_top_up:
        return []
    unit = 10**result.decimals

    def coverage(state):
        bps = state.get("coverage_bps")
        return "undefined (no live listing)" if bps is None else f"{bps / 100:,.2f}%"

    lines = [
        "**Protection fund:** free fund "
        f"{result.fund_before['free'] / unit:,.2f} and coverage {coverage(result.fund_before)} at the start; "
        f"{result.fund_after['free'] / unit:,.2f} and {coverage(result.fund_after)} at the end.",
        "",
    ]
    pot = result.pot
    if not pot:
        return lines + ["No listing defaulted: no pot opened.", ""]
    pulled = pot["earmarked"] + pot["earmarks_to_fund"]
    caps = pem.pot_caps(pulled, pot["loss_base"], pot["free_before"], 0, pot["stake_cap"])
    names = (
        "cover left after the earmarks (50% of the loss base)",
        "stake cap left after the earmarks (the merchant's moved tokens claim back at most its stake)",
        "30% of the fund",
        "10% of the fund per listing",
    )
    bound = names[caps.index(min(caps))]
    per_token = pot["rate"] / 10**18 / unit
    lines += [
        f"**Pot** (opened day {pot['hour'] / 24:.2f}): {pot['amount'] / unit:,.2f} = earmarked "
        f"{pot['earmarked'] / unit:,.2f} (the stake's rest and the agent's slash) + {pot['from_fund'] / unit:,.2f} "
        f"from the fund; loss base {pot['loss_base'] / unit:,.2f} over {pot['covered_tokens'] / WAD:,.0f} holders' "
        f"tokens; rate {per_token:,.6f} per token, fixed."
        + (
            f" {pot['earmarks_to_fund'] / unit:,.2f} of the earmarks exceeded the loss base or the stake cap and "
            "joined the free fund."
            if pot["earmarks_to_fund"]
            else ""
        ),
        "",
        "| cap on the fund's part | amount |",
        "|---|---:|",
        *(f"| {name} | {cap / unit:,.2f} |" for name, cap in zip(names, caps) if cap != pem.MAX_UINT256),
        "",
        f"The smallest binds: {bound}.",
        "",
    ]
    if result.claims:
        lines += ["| day | holder | tokens handed in | paid |", "|---:|---|---:|---:|"]
        for c in result.claims:
            lines.append(f"| {c['hour'] / 24:.2f} | {c['who']} | {c['tokens'] / WAD:,.2f} | {c['paid'] / unit:,.2f} |")
        paid = sum(c["paid"] for c in result.claims)
        lines += ["", f"Claims paid {paid / unit:,.2f} of the pot's {pot['amount'] / unit:,.2f}.", ""]
    return lines


def stress_spells(result: Result) -> list[tuple[float, float | None]]:
    """(first hour, first hour after) of each run of rows with the fund in stress (None: still at the end)."""
    spells, began = [], None
    for row in result.rows:
        if row.stress and began is None:
            began = row.hour
        elif not row.stress and began is not None:
            spells.append((began, row.hour))
            began = None
    if began is not None:
        spells.append((began, None))
    return spells


def stress(result: Result) -> list[str]:
    """The stress breaker: when the fund was in stress, what the keeper's stabilise() met then,
    the buys before, during and after, the peer listings' assessments and the treasury's top-up."""
    spells = stress_spells(result)
    if not spells and not result.peers:
        return []
    unit = 10**result.decimals
    events = [
        (p["hour"], f"peer listing {p['peer']} assessed for period {p['period']}: {STATUS[p['status']]}")
        for p in result.peers
    ]
    if result.recapitalised:
        r = result.recapitalised
        events.append((r["hour"], f"the treasury topped the fund up by {r['amount'] / unit:,.2f}"))
    lines = ["**Stress breaker** (no reserve of the protocol buys while the fund is in stress):", ""]
    lines += [f"- day {hour / 24:.2f}: {text}" for hour, text in sorted(events, key=lambda e: e[0])]
    for began, ended in spells:
        until = "the end" if ended is None else f"day {ended / 24:.2f}"
        inside = [t for t in result.trades if t["kind"] == "buy" and began <= t["hour"] < (ended or float("inf"))]
        refused = [
            r for r in result.refusals if "stress" in r["reason"] and began <= r["hour"] < (ended or float("inf"))
        ]
        lines.append(
            f"- in stress from day {began / 24:.2f} to {until}: {len(refused)} stabilise() calls refused for "
            f"stress, {len(inside)} buys"
        )
    if spells:
        first, last = spells[0][0], spells[-1][1]
        before = sum(t["kind"] == "buy" and t["hour"] < first for t in result.trades)
        after = 0 if last is None else sum(t["kind"] == "buy" and t["hour"] >= last for t in result.trades)
        lines.append(f"- buys before the first stress: {before}; after the last cleared: {after}")
    return lines + [""]


def _day(timestamp: int, result: Result) -> str:
    """A timestamp as a simulated day (day 0: the first step's start)."""
    return f"{(timestamp - result.rows[0].timestamp) / 86_400:.2f}"


def underwriting(result: Result) -> list[str]:
    """The risk agent's attestations, the verified cap and counted revenue of
    every period the run saw, and the listing's status over time."""
    unit, rows = 10**result.decimals, result.rows
    lines = [
        "**Underwriting: the risk agent's attestations** (EIP-712 messages it signs and submits to the "
        "`UnderwritingRegistry`; the newest recorded at or before a period's start caps that period's "
        "counted revenue, if it has not expired by then):",
        "",
    ]
    if result.agent:
        lines.append(f"- agent `{result.agent}`, bond {result.bond / unit:,.2f}")
    if result.scenario.agent_stops_day is not None:
        lines.append(f"- the agent's data stops after day {result.scenario.agent_stops_day:g}: no attestation after it")
    stale = next((r for r in rows if not r.fresh), None)
    if stale is not None:
        expired = max(
            (v["expires_at"] for v in result.verifications if v["timestamp"] <= stale.timestamp), default=None
        )
        when = f"on day {_day(expired, result)}" if expired is not None else f"by day {stale.hour / 24:.2f}"
        lines.append(
            f"- its newest attestation expired {when}: `is_fresh` is false from then on "
            "(the reserve buys only while it is true)"
        )
    for u in result.unattested:
        lines.append(
            f"- day {u['hour'] / 24:.2f}: the registry refused the attestation of month revenue "
            f"{u['month_revenue'] / unit:,.2f} (R {u['avg_monthly_revenue'] / unit:,.2f}): `{u['reason']}`"
        )
    if result.self_paid:
        lines.append(
            f"- the merchant paid itself {result.self_paid / unit:,.2f} through the router (its own address "
            f"and fresh ones)"
        )
    lines.append("")
    if result.verifications:
        lines += [
            "| day | month revenue attested | R (3-month average) | cap (+ tolerance) | grade | valid until (day) "
            "| first period it caps |",
            "|---:|---:|---:|---:|---|---:|---:|",
        ]
        for v in result.verifications:
            lines.append(
                f"| {v['hour'] / 24:.2f} | {v['month_revenue'] / unit:,.2f} | "
                f"{v['avg_monthly_revenue'] / unit:,.2f} | {v['cap'] / unit:,.2f} | "
                f"{GRADES[v['grade']]} | {_day(v['expires_at'], result)} | "
                f"{v['period']} |"
            )
        lines.append("")
    lines += [
        "**Verified revenue and counted revenue** (counted = min(gross paid by non-insiders, the verified cap "
        "in force at the period's start); the target is judged by `assess()` once the period is over):",
        "",
        "| period | starts (day) | verified cap at its start | gross paid by non-insiders | counted | target due "
        "| assessed |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_period = {r.period: r for r in rows}  # the last row of each period
    assessed = {a["period"]: a for a in result.assessments}
    for period, r in by_period.items():
        a = assessed.get(period)
        due = f"{a['due'] / unit:,.2f}" if a else ""
        outcome = ""
        if a:
            outcome = (
                "met" if a["counted"] >= a["due"] else f"missed (miss {a['misses']})"
            ) + f", day {a['hour'] / 24:.2f}: {STATUS[a['status']]}"
        lines.append(
            f"| {period} | {_day(result.period_start(period), result)} | {r.period_cap / unit:,.2f} | "
            f"{r.period_gross / unit:,.2f} | {r.period_counted / unit:,.2f} | {due} | {outcome} |"
        )
    lines.append("")
    changes = [(r.hour, prev.status, r.status) for prev, r in zip(rows, rows[1:]) if r.status != prev.status]
    if changes:
        lines.append(
            "**Status:** "
            + STATUS[rows[0].status]
            + "; "
            + "; ".join(f"{STATUS[new]} from day {hour / 24:.2f}" for hour, _, new in changes)
            + "."
        )
    else:
        lines.append(f"**Status:** {STATUS[rows[-1].status]} throughout.")
    lines.append("")
    return lines


def check_writable(out: Path) -> Path:
    """Creates the report folder ``out`` and proves a file can be written in
    it (``ape pst simulate`` checks this before the simulation runs); else
    :class:`~ape_pst_plugin.exceptions.NotWritable`."""
    import tempfile

    from ape_pst_plugin.exceptions import NotWritable

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise NotWritable(f"cannot write the report to {out} ({err.strerror or err}): choose another --out") from None
    return out


def write_report(result: Result, out: Path) -> dict[str, Path]:
    """Writes report.md, series.csv and the plots into ``out``."""
    out = check_writable(out)
    paths = plot(result, out)
    write_series(result, out / "series.csv")
    (out / "report.md").write_text(markdown(result))
    return {"report": out / "report.md", "series": out / "series.csv", **paths}
