"""Which of a case's deadlines and risks the escalation rules must act on, and when to look next."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from mediation.domain.calendar import WorkingCalendar
from mediation.domain.case import Case
from mediation.workflows import Definition

RED = "red"


@dataclass(frozen=True)
class Breach:
    """One thing overdue; `key` names it so that it escalates once, whoever sees it first."""

    key: str
    rule: str
    due_at: datetime
    reason: str


def candidates(case: Case, definition: Definition, calendar: WorkingCalendar) -> Iterator[Breach]:
    """Every breach the case could have while open, escalated or not, due or not."""
    if definition.statuses[case.status].final:
        return
    yield from _overdue_clocks(case, definition)
    if case.risk == RED and case.risk_since is not None:
        yield Breach(
            key=f"risk:red:{case.risk_since.isoformat()}",
            rule="red_risk",
            due_at=case.risk_since,
            reason=f"risk graded red: {definition.escalation.red_risk}",
        )
    for index, supervision in enumerate(case.supervisions):
        day_after = supervision["due"] + timedelta(days=1)
        yield Breach(
            key=f"supervision:{index}",
            rule="supervision",
            due_at=datetime.combine(day_after, time(0), calendar.zone),
            reason=f"supervision instruction due {supervision['due']} is overdue: "
            f"{definition.escalation.supervision}",
        )


def _overdue_clocks(case: Case, definition: Definition) -> Iterator[Breach]:
    for name, clock in case.clocks.items():
        started, due = clock["started_at"], clock["due_at"]
        period = max(due - started, timedelta(0))
        rule = definition.clocks[name].rule if name in definition.clocks else name
        for number in range(1, definition.escalation.overdue_periods + 1):
            at = due + period * (number - 1)
            ordinal = "" if number == 1 else f" (overdue period {number})"
            yield Breach(
                key=f"deadline:{name}:{started.isoformat()}:{number}",
                rule=f"deadline_{name}",
                due_at=at,
                reason=f"deadline '{name}' passed at {due.isoformat()}{ordinal}: {rule}",
            )


def due_breaches(
    case: Case, definition: Definition, calendar: WorkingCalendar, now: datetime
) -> list[Breach]:
    """The breaches due by `now` that no rule has escalated yet, earliest first."""
    pending = [b for b in candidates(case, definition, calendar) if b.key not in case.breaches]
    return sorted((b for b in pending if b.due_at <= now), key=lambda b: b.due_at)


def next_check(case: Case, definition: Definition, calendar: WorkingCalendar) -> datetime | None:
    """The earliest moment a breach not escalated yet falls due; None when none can."""
    pending = [
        b.due_at for b in candidates(case, definition, calendar) if b.key not in case.breaches
    ]
    return min(pending, default=None)
