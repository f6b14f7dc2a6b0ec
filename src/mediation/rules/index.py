"""The rules' index: when each open case next has something that may fall due (a view of the log)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    func,
    select,
)

from mediation.domain.breaches import (
    RED,
    Run,
    deadline_periods,
    risk_key,
    supervision_key,
    supervision_overdue_at,
)
from mediation.domain.calendar import WorkingCalendar
from mediation.domain.case import Case
from mediation.projections.bulk import insert_rows
from mediation.projections.columns import UTCDateTime
from mediation.projections.service import Projections
from mediation.projections.view import Recorded, View
from mediation.workflows import WorkflowRegistry

State = dict[str, Any]


@dataclass(frozen=True)
class IndexTables:
    cases: Table  # per case: what the timers are derived from
    timers: Table  # per case and breach key: the moment it falls due


class DeadlineIndexView(View[IndexTables]):
    """One timer per breach that could still escalate; an escalated breach's timer is gone."""

    name = "deadlines"
    partitionable = True
    # 2: the keys of extended clock runs, red graded again while red, the second overdue
    # period of a working-day clock in working days, and the instructions given before a
    # reopening settled (December 2026).
    fold_version = 2

    def __init__(self, workflows: WorkflowRegistry, calendar: WorkingCalendar) -> None:
        super().__init__()
        self._workflows = workflows
        self._calendar = calendar
        self._zone = calendar.zone

    def define(self, metadata: MetaData, suffix: str) -> IndexTables:
        cases = Table(
            f"rule_cases{suffix}",
            metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("state", JSON, nullable=False),
        )
        timers = Table(
            f"rule_timers{suffix}",
            metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("key", String(200), primary_key=True),
            Column("due_at", UTCDateTime, nullable=False),
        )
        Index(f"ix_rule_timers{suffix}_due", timers.c.due_at)
        return IndexTables(cases, timers)

    def _apply(self, conn: Connection, tables: IndexTables, chunk: Sequence[Recorded]) -> None:
        ids = {r.event.originator_id for r in chunk}
        query = select(tables.cases).where(tables.cases.c.case_id.in_(ids))
        states: dict[UUID, State] = {row.case_id: dict(row.state) for row in conn.execute(query)}
        for recorded in chunk:
            event = recorded.event
            state = states.setdefault(event.originator_id, _new_state())
            self._fold(state, event)
            self.folded(recorded.position)
        conn.execute(delete(tables.cases).where(tables.cases.c.case_id.in_(ids)))
        conn.execute(delete(tables.timers).where(tables.timers.c.case_id.in_(ids)))
        insert_rows(conn, tables.cases, [{"case_id": i, "state": s} for i, s in states.items()])
        timers = [t for i, s in states.items() for t in self._timers(i, s)]
        insert_rows(conn, tables.timers, timers)

    def _timers(self, case_id: UUID, state: State) -> list[dict[str, Any]]:
        """Every breach key not escalated yet, with the moment it falls due."""
        if not state["open"]:
            return []
        clocks = self._workflows.get(state["workflow"]).definition.clocks
        due: dict[str, datetime] = {}
        for name, clock in state["clocks"].items():
            run = Run(
                name,
                datetime.fromisoformat(clock["started_at"]),
                datetime.fromisoformat(clock["due_at"]),
                clocks[name].unit if name in clocks else "calendar",
                clock.get("extensions", 0),
                frozenset(clock.get("spent", ())),
            )
            due.update(deadline_periods(run, state["periods"], self._calendar))
        for key, at in {**state["risk"], **state["timers"]}.items():
            due[key] = datetime.fromisoformat(at)
        escalated = set(state["escalated"])
        return [
            {"case_id": case_id, "key": key, "due_at": at}
            for key, at in sorted(due.items())
            if key not in escalated
        ]

    def _fold(self, state: State, event: Case.Event) -> None:
        if isinstance(event, Case.Registered):
            state["workflow"] = event.workflow
            if event.risk == RED:
                state["risk"] = {risk_key(event.timestamp): _iso(event.timestamp)}
        definition = self._workflows.get(state["workflow"]).definition
        clocks, timers = state["clocks"], state["timers"]
        for name in event.clocks_stopped:
            clocks.pop(name, None)
        for name, clock in event.clocks_started.items():
            clocks[name] = {
                "started_at": _iso(clock["started_at"]),
                "due_at": _iso(clock["due_at"]),
            }
        if isinstance(event, Case.DeadlineExtended) and event.clock in clocks:
            clock = clocks[event.clock]
            clock["due_at"] = _iso(event.due_at)
            clock["extensions"] = clock.get("extensions", 0) + 1
            prefix = f"deadline:{event.clock}:"  # as Case.DeadlineExtended keeps them
            clock["spent"] = [key for key in state["escalated"] if key.startswith(prefix)]
        elif isinstance(event, Case.RiskGraded):
            if event.risk != RED:
                state["risk"] = {}
            elif not state["risk"]:  # red again while red: the same breach (see Case.RiskGraded)
                state["risk"] = {risk_key(event.timestamp): _iso(event.timestamp)}
        elif isinstance(event, Case.SupervisionInstructed):
            key = supervision_key(state["supervisions"])
            state["supervisions"] += 1
            timers[key] = _iso(supervision_overdue_at(event.due, self._zone))
        elif isinstance(event, Case.Escalated) and event.breach is not None:
            state["escalated"].append(event.breach)
        elif isinstance(event, Case.SupervisionAnswered):
            key = supervision_key(event.number - 1)
            at = timers.get(key)
            if at is not None and event.timestamp < datetime.fromisoformat(at):
                del timers[key]  # answered in time (see breaches.candidates)
        elif isinstance(event, Case.Reopened):
            state["timers"] = {}  # the supervision instructions were settled with the closing
        state["open"] = not definition.statuses[event.status].final
        state["periods"] = definition.escalation.overdue_periods


def _new_state() -> State:
    return {
        "clocks": {},
        "risk": {},
        "timers": {},
        "supervisions": 0,
        "escalated": [],
        "open": True,
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class DeadlineIndex:
    """The `DueIndex` the rules engine asks: cases with a timer due by a moment, earliest first."""

    def __init__(self, projections: Projections) -> None:
        self.projections = projections

    def due(self, now: datetime, limit: int) -> list[UUID]:
        def run(conn: Connection, tables: IndexTables) -> list[UUID]:
            timers = tables.timers
            earliest = func.min(timers.c.due_at)
            query = (
                select(timers.c.case_id)
                .where(timers.c.due_at <= now)
                .group_by(timers.c.case_id)
                .order_by(earliest, timers.c.case_id)
                .limit(limit)
            )
            return [row.case_id for row in conn.execute(query)]

        return self.projections.read(DeadlineIndexView.name, run)
