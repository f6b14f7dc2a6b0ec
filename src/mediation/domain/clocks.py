"""Deadlines: which clocks an action starts and stops, and when a clock falls due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from mediation.workflows import ClockSpec, Workflow

WEEKEND = (5, 6)


def add_days(start: datetime, days: int, unit: str) -> datetime:
    """`days` calendar days after `start`, or `days` working days (Monday to Friday)."""
    if unit == "calendar":
        return start + timedelta(days=days)
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if moment.weekday() not in WEEKEND:
            remaining -= 1
    return moment


def clock_changes(
    workflow: Workflow,
    action: str,
    running: Mapping[str, Any],
    complexity: str,
    anchor: datetime,
    final: bool,
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The clocks `action` starts (name -> started_at, due_at) and the running ones it stops."""
    specs = workflow.definition.clocks
    stopped = [name for name in running if final or (name in specs and action in specs[name].stops)]
    started: dict[str, dict[str, Any]] = {}
    if final:
        return started, stopped
    for name, spec in specs.items():
        if action in spec.starts and (name not in running or name in stopped):
            started[name] = _start(spec, complexity, anchor)
    return started, stopped


def _start(spec: ClockSpec, complexity: str, anchor: datetime) -> dict[str, Any]:
    due = add_days(anchor, spec.days_for(complexity), spec.unit)
    return {"started_at": anchor, "due_at": due}
