"""Deadlines: which clocks an action starts and stops, and when a clock falls due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mediation.domain.calendar import WorkingCalendar
from mediation.workflows import ClockSpec, Workflow

WEEKDAYS_ONLY = WorkingCalendar()


def add_days(
    start: datetime, days: int, unit: str, calendar: WorkingCalendar = WEEKDAYS_ONLY
) -> datetime:
    """`days` calendar days after `start`, or `days` working days by `calendar`."""
    return calendar.add(start, days, unit)


def due_after(
    spec: ClockSpec | None,
    start: datetime,
    days: int,
    calendar: WorkingCalendar = WEEKDAYS_ONLY,
) -> datetime:
    """When a clock of `spec` falls due `days` after `start`: in the clock's days, and on the
    next working day at the same time if the clock ends on one (`ends_on_working_day`).
    A clock the workflow no longer defines counts calendar days."""
    if spec is None:
        return add_days(start, days, "calendar", calendar)
    due = add_days(start, days, spec.unit, calendar)
    return calendar.on_working_day(due) if spec.ends_on_working_day else due


def clock_changes(
    workflow: Workflow,
    action: str,
    running: Mapping[str, Any],
    complexity: str,
    anchor: datetime,
    final: bool,
    calendar: WorkingCalendar = WEEKDAYS_ONLY,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The clocks `action` starts (name -> started_at, due_at) and the running ones it stops."""
    specs = workflow.definition.clocks
    stopped = [name for name in running if final or (name in specs and action in specs[name].stops)]
    started: dict[str, dict[str, Any]] = {}
    if final:
        return started, stopped
    for name, spec in specs.items():
        if action in spec.starts and (name not in running or name in stopped):
            started[name] = _start(spec, complexity, anchor, calendar)
    return started, stopped


def _start(
    spec: ClockSpec, complexity: str, anchor: datetime, calendar: WorkingCalendar
) -> dict[str, Any]:
    due = due_after(spec, anchor, spec.days_for(complexity), calendar)
    return {"started_at": anchor, "due_at": due}


def retimed(
    workflow: Workflow,
    running: Mapping[str, Any],
    before: str,
    after: str,
    calendar: WorkingCalendar = WEEKDAYS_ONLY,
    extended: Mapping[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """The running clocks whose length depends on a case's complexity, due again from their
    start by the `after` complexity's days (routing: 1 day simple, 7 general, 20 complex).
    An extended clock keeps its due moment: the extension was agreed on it."""
    specs = workflow.definition.clocks
    found: dict[str, dict[str, Any]] = {}
    for name, clock in running.items():
        spec = specs.get(name)
        if spec is None or (extended or {}).get(name):
            continue
        days = spec.days_for(after)
        if days != spec.days_for(before):
            started = clock["started_at"]
            found[name] = {
                "started_at": started,
                "due_at": due_after(spec, started, days, calendar),
            }
    return found
