"""Reading the statistics: figures per center and period (and dispute type or channel).

Definitions, each counted on the local day (centers' time zone) the fact happened:
- registered, accepted, rejected, transferred (offered to another unit), escalations;
- agreements: agreements reached; resolved: agreements a follow-up found performed (once each);
- concluded: mediations that ended, by agreement, termination (调解不成) or withdrawal during
  mediation; success rate = agreements / concluded (None when nothing concluded);
- closed, by outcome; days to close: registration to that closure (median, 90th percentile by
  linear interpolation between closest ranks);
- re-disputes: new cases one of whose parties was then a party of a closed case;
- overdue now: open cases with a running deadline already past (in the totals only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from mediation.domain.errors import InvalidFieldError
from mediation.projections.stats import StatsTables

PERIODS = ("day", "week", "month")
BREAKDOWNS = ("dispute_type", "channel")
OUTCOMES = ("resolved", "breached", "referred", "withdrawn", "rejected")
COUNTED = (
    "registered",
    "accepted",
    "rejected",
    "transferred",
    "agreement",
    "resolved",
    "concluded",
    "escalated",
    "re_dispute",
)
Key = tuple[Any, ...]


@dataclass(frozen=True)
class StatsQuery:
    """Figures for `centers` (the caller's scope) from `start` to `end`, both days included."""

    centers: frozenset[str]
    start: date
    end: date
    group_by: tuple[str, ...] = ("month",)

    def check(self) -> None:
        unknown = [g for g in self.group_by if g not in PERIODS + BREAKDOWNS]
        if unknown:
            raise InvalidFieldError("group_by", f"unknown: {', '.join(unknown)}")
        if sum(g in PERIODS for g in self.group_by) > 1:
            raise InvalidFieldError("group_by", "name at most one of day, week, month")
        if self.end < self.start:
            raise InvalidFieldError("to", "must not be before from")

    @property
    def period(self) -> str | None:
        return next((g for g in self.group_by if g in PERIODS), None)

    @property
    def breakdowns(self) -> tuple[str, ...]:
        return tuple(b for b in BREAKDOWNS if b in self.group_by)


@dataclass
class StatsRow:
    center: str
    period: date | None = None  # None: the whole range (totals)
    dispute_type: str | None = None
    channel: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    closed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    days_to_close: list[float] = field(default_factory=list, repr=False)
    overdue_now: int | None = None

    @property
    def success_rate(self) -> float | None:
        concluded = self.counts["concluded"]
        return self.counts["agreement"] / concluded if concluded else None

    @property
    def median_days_to_close(self) -> float | None:
        return percentile(self.days_to_close, 0.5)

    @property
    def p90_days_to_close(self) -> float | None:
        return percentile(self.days_to_close, 0.9)


@dataclass(frozen=True)
class StatsReport:
    query: StatsQuery
    rows: list[StatsRow]  # per center, period and breakdown (none without a period)
    totals: list[StatsRow]  # per center and breakdown, over the whole range


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def read_stats(
    conn: Connection, tables: StatsTables, query: StatsQuery, now: datetime
) -> StatsReport:
    query.check()
    f = tables.facts.c
    dims = [
        f.center,
        *([f[query.period]] if query.period else []),
        *(f[b] for b in query.breakdowns),
    ]
    scope = (f.center.in_(sorted(query.centers)), f.day >= query.start, f.day <= query.end)
    counts = conn.execute(
        select(*dims, f.kind, f.outcome, func.count())
        .where(*scope)
        .group_by(*dims, f.kind, f.outcome)
    )
    durations = conn.execute(select(*dims, f.days).where(*scope, f.kind == "closed"))
    rows: dict[Key, StatsRow] = {}
    totals: dict[Key, StatsRow] = {}
    if not query.breakdowns:
        totals = {(c,): StatsRow(c) for c in sorted(query.centers)}
    for *key, kind, outcome, number in counts:
        for row in _rows(query, rows, totals, tuple(key)):
            _count(row, kind, outcome, number)
    # Each key's days to close gathered first, then added to its rows at once, rather than
    # finding the rows again for every closed case.
    closed: dict[Key, list[float]] = {}
    for *key, days in durations:
        closed.setdefault(tuple(key), []).append(days)
    for closed_key, all_days in closed.items():
        for row in _rows(query, rows, totals, closed_key):
            row.days_to_close += all_days
    for center_key, number in _overdue(conn, tables, query, now).items():
        _total(query, totals, center_key).overdue_now = number
    for row in totals.values():
        row.overdue_now = row.overdue_now or 0
    return StatsReport(query, _sorted(rows), _sorted(totals))


def _count(row: StatsRow, kind: str, outcome: str | None, number: int) -> None:
    if kind == "closed":
        key = outcome or "other"
        row.closed[key] = row.closed.get(key, 0) + number
    else:
        row.counts[kind] += number


def _rows(
    query: StatsQuery, rows: dict[Key, StatsRow], totals: dict[Key, StatsRow], key: Key
) -> list[StatsRow]:
    """The period row and the totals row a (center, period?, breakdowns...) key counts in;
    without a period, the totals row alone (a row over the whole range would repeat it)."""
    if not query.period:
        return [_total(query, totals, key)]
    if key not in rows:
        rows[key] = _new_row(query, key)
    return [rows[key], _total(query, totals, (key[0], *key[2:]))]


def _total(query: StatsQuery, totals: dict[Key, StatsRow], key: Key) -> StatsRow:
    if key not in totals:
        totals[key] = _new_row(
            StatsQuery(query.centers, query.start, query.end, query.breakdowns), key
        )
    return totals[key]


def _new_row(query: StatsQuery, key: Key) -> StatsRow:
    values = list(key)
    row = StatsRow(values.pop(0))
    if query.period:
        row.period = values.pop(0)
    for name in query.breakdowns:
        setattr(row, name, values.pop(0))
    return row


def _overdue(
    conn: Connection, tables: StatsTables, query: StatsQuery, now: datetime
) -> dict[Key, int]:
    c = tables.cases.c
    dims = [c.center, *(c[b] for b in query.breakdowns)]
    result = conn.execute(
        select(*dims, func.count())
        .where(c.is_open, c.center.in_(sorted(query.centers)), c.next_due < now)
        .group_by(*dims)
    )
    return {tuple(key): number for *key, number in result}


def _sorted(rows: dict[Key, StatsRow]) -> list[StatsRow]:
    return [rows[key] for key in sorted(rows, key=lambda k: tuple(str(v) for v in k))]
