"""Figures of the statistics as bars: lengths computed here, drawn as SVG by the template."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from mediation.projections import StatsRow
from mediation.projections.stats_query import COUNTED, OUTCOMES


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    share: float  # of the longest bar in its chart, 0..100

    @property
    def text(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class PeriodBars:
    period: date | None
    registered: Bar
    closed: Bar


@dataclass
class Totals:
    """Figures over several centers' rows, summed."""

    counts: dict[str, int]
    closed: dict[str, int]
    overdue_now: int

    @property
    def success_rate(self) -> float | None:
        concluded = self.counts["concluded"]
        return self.counts["agreement"] / concluded if concluded else None

    @property
    def closed_total(self) -> int:
        return sum(self.closed.values())


def bars(pairs: Sequence[tuple[str, float]]) -> list[Bar]:
    longest = max((value for _label, value in pairs), default=0) or 1
    return [Bar(label, value, 100 * value / longest) for label, value in pairs]


def summed(rows: Iterable[StatsRow]) -> Totals:
    totals = Totals(dict.fromkeys(COUNTED, 0), dict.fromkeys(OUTCOMES, 0), 0)
    for row in rows:
        for kind, number in row.counts.items():
            totals.counts[kind] = totals.counts.get(kind, 0) + number
        for outcome, number in row.closed.items():
            totals.closed[outcome] = totals.closed.get(outcome, 0) + number
        totals.overdue_now += row.overdue_now or 0
    return totals


def by_period(rows: Iterable[StatsRow]) -> list[PeriodBars]:
    """Registered and closed per period, summed over centers, on one scale."""
    periods: dict[date | None, tuple[int, int]] = {}
    for row in rows:
        registered, closed = periods.get(row.period, (0, 0))
        periods[row.period] = (
            registered + row.counts["registered"],
            closed + sum(row.closed.values()),
        )
    longest = max((max(pair) for pair in periods.values()), default=0) or 1
    ordered = sorted(periods.items(), key=lambda item: item[0] or date.min)
    return [
        PeriodBars(
            period,
            Bar("registered", registered, 100 * registered / longest),
            Bar("closed", closed, 100 * closed / longest),
        )
        for period, (registered, closed) in ordered
    ]
