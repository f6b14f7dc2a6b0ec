"""Which of a case's deadlines and risks the escalation rules must act on, and when to look next.

The keys built here are shared by the case (which records each escalated breach) and the rules'
index (which says when to look): one format, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

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


@dataclass(frozen=True)
class Run:
    """One run of a clock: when it started, when it falls due, in which days it counts
    ("calendar" or "working"), how many times it was extended, and which of its breaches
    were escalated before the last extension (`Case.spent`)."""

    name: str
    started: datetime
    due: datetime
    unit: str = "calendar"
    extensions: int = 0
    spent: frozenset[str] = frozenset()


def deadline_periods(
    run: Run, periods: int, calendar: WorkingCalendar
) -> list[tuple[str, datetime]]:
    """Each overdue period of a clock run: its key and the moment it begins, each period as
    long as the run, in its own days (working days skip weekends and holidays here too).

    A period's key is the run's own, `deadline:<clock>:<started>:<n>`, unless that breach
    was escalated before the parties extended the deadline: then the moved deadline passing
    is a breach of its own, `...:e<k>:<n>` for the first extension k whose key is not spent.
    (Keys of runs extended before their deadline passed stay as the cases recorded them.)"""
    base = f"deadline:{run.name}:{run.started.isoformat()}"
    if run.unit == "calendar":
        length = max(run.due - run.started, timedelta(0))
        moments = [run.due + length * (n - 1) for n in range(1, periods + 1)]
    else:
        days = calendar.days_between(run.started, run.due, run.unit)
        moments = [calendar.add(run.due, days * (n - 1), run.unit) for n in range(1, periods + 1)]
    keyed = []
    for n, at in enumerate(moments, start=1):
        keys = [f"{base}:{n}", *(f"{base}:e{k}:{n}" for k in range(1, run.extensions + 1))]
        keyed.append((next((k for k in keys if k not in run.spent), keys[-1]), at))
    return keyed


def risk_key(since: datetime) -> str:
    return f"risk:red:{since.isoformat()}"


def supervision_key(index: int) -> str:
    return f"supervision:{index}"


def supervision_overdue_at(due: date, zone: tzinfo) -> datetime:
    """An instruction due on a day is overdue when that day ends where the centers are; one
    due on the calendar's last day (recorded before due dates were bounded), never."""
    if due == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(due + timedelta(days=1), time(0), zone)


def candidates(case: Case, definition: Definition, calendar: WorkingCalendar) -> Iterator[Breach]:
    """Every breach the case could have while open, escalated or not, due or not."""
    if definition.statuses[case.status].final:
        return
    periods = definition.escalation.overdue_periods
    for name, clock in case.clocks.items():
        spec = definition.clocks.get(name)
        rule = spec.rule if spec is not None else name
        unit = spec.unit if spec is not None else "calendar"
        extended = case.extensions.get(name, 0)
        run = Run(name, clock["started_at"], clock["due_at"], unit, extended, case.spent(name))
        keyed = deadline_periods(run, periods, calendar)
        for number, (key, at) in enumerate(keyed, start=1):
            ordinal = "" if number == 1 else f" (overdue period {number})"
            reason = f"deadline '{name}' passed at {clock['due_at'].isoformat()}{ordinal}: {rule}"
            yield Breach(key, f"deadline_{name}", at, reason)
    if case.risk == RED and case.risk_since is not None:
        reason = f"risk graded red: {definition.escalation.red_risk}"
        yield Breach(risk_key(case.risk_since), "red_risk", case.risk_since, reason)
    reopened = case.last_reopened
    for index, supervision in enumerate(case.supervisions):
        if reopened is not None and supervision["at"] < reopened:
            continue  # given before the case closed: settled with it
        due = supervision["due"]
        at = supervision_overdue_at(due, calendar.zone)
        answered = supervision.get("answered_at")
        if answered is not None and answered < at:
            continue  # answered in time (an answer after the day still leaves it overdue)
        reason = (
            f"supervision instruction due {due} is overdue: {definition.escalation.supervision}"
        )
        yield Breach(supervision_key(index), "supervision", at, reason)


def due_breaches(
    case: Case, definition: Definition, calendar: WorkingCalendar, now: datetime
) -> list[Breach]:
    """The breaches due by `now` that no rule has escalated yet, earliest first."""
    pending = (b for b in candidates(case, definition, calendar) if b.key not in case.breaches)
    return sorted((b for b in pending if b.due_at <= now), key=lambda b: b.due_at)
