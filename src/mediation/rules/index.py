"""The rules' index: when each open case next has something that may fall due (a view of the log)."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
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
from mediation.projections.bulk import (
    SQLITE_MARKS,
    converted_first,
    execute,
    insert_rows,
    iso_text,
)
from mediation.projections.columns import UTCDateTime
from mediation.projections.held import Row, load_rows
from mediation.projections.service import Projections
from mediation.projections.view import QUERY_ONLY_INDEX, Recorded, View
from mediation.workflows import WorkflowRegistry

State = dict[str, Any]


@dataclass(frozen=True)
class IndexTables:
    cases: Table  # per case: what the timers are derived from
    timers: Table  # per case and breach key: the moment it falls due


@dataclass(frozen=True)
class IndexPlan:
    rows: dict[UUID, Row]  # each touched case's row after the batch
    stored: set[UUID]  # cases whose row was read from the table: it is updated


class DeadlineIndexView(View[IndexTables]):
    """One timer per breach that could still escalate; an escalated breach's timer is gone.

    A case's timers are derived from its row whenever the row is written: batch by batch in
    service, and in a rebuild, which holds the rows of the cases under way (see `held`), once
    a row leaves memory, so about once per case instead of once per event. (A rebuild of
    this view from 1,000,000 events took 64 s in one process and 81 s in two, each batch
    reading, deleting and inserting its cases' rows and timers.)"""

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
        Index(f"ix_rule_timers{suffix}_due", timers.c.due_at, info=QUERY_ONLY_INDEX)
        return IndexTables(cases, timers)

    def _plan(self, conn: Connection, tables: IndexTables, batch: Sequence[Recorded]) -> IndexPlan:
        known = {r.event.originator_id for r in batch if not isinstance(r.event, Case.Registered)}
        rows, stored = load_rows(conn, tables.cases, known, self.held(tables.cases))
        for row in rows.values():  # the fold changes the state: not the one held or stored
            row["state"] = dict(row["state"])
        for recorded in batch:
            event = recorded.event
            case_id = event.originator_id
            if isinstance(event, Case.Registered):
                rows[case_id] = {"case_id": case_id, "state": _new_state()}
            self._fold(rows[case_id]["state"], event)
            self.folded(recorded.position)
        return IndexPlan(rows, stored)

    def _write(self, conn: Connection, tables: IndexTables, plan: IndexPlan) -> None:
        with converted_first(conn):
            self._keep_rows(conn, tables, tables.cases, plan.rows, plan.stored)

    def _held_tables(self, tables: IndexTables) -> Sequence[Table]:
        return (tables.cases,)

    def _rows_written(
        self, tables: IndexTables, conn: Connection, rows: Mapping[Any, Row], stored: Container[Any]
    ) -> None:
        """The timers of the cases whose rows were just written, in place of those they had
        (`stored`: the cases whose row, so whose timers, the table held before)."""
        timers = tables.timers
        replaced = [case_id for case_id in rows if case_id in stored]
        for start in range(0, len(replaced), SQLITE_MARKS):
            ids = replaced[start : start + SQLITE_MARKS]
            execute(conn, delete(timers).where(timers.c.case_id.in_(ids)))
        due = [
            timer for case_id, row in rows.items() for timer in self._timers(case_id, row["state"])
        ]
        insert_rows(conn, timers, due)

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
        """Fold `event` into a case's state. The state is the plan's own, the containers in it
        may not be: those of a row a rebuild holds are shared until the plan is written, so
        each container that changes is replaced by a changed copy."""
        if isinstance(event, Case.Registered):
            state["workflow"] = event.workflow
            if event.risk == RED:
                state["risk"] = {risk_key(event.timestamp): iso_text(event.timestamp)}
        definition = self._workflows.get(state["workflow"]).definition
        clocks = state["clocks"]
        if event.clocks_stopped or event.clocks_started:
            clocks = {n: clock for n, clock in clocks.items() if n not in event.clocks_stopped}
            for name, started in event.clocks_started.items():
                clocks[name] = {
                    "started_at": iso_text(started["started_at"]),
                    "due_at": iso_text(started["due_at"]),
                }
            state["clocks"] = clocks
        if isinstance(event, Case.DeadlineExtended) and event.clock in clocks:
            clock = clocks[event.clock]
            prefix = f"deadline:{event.clock}:"  # as Case.DeadlineExtended keeps them
            extended = {
                **clock,
                "due_at": iso_text(event.due_at),
                "extensions": clock.get("extensions", 0) + 1,
                "spent": [key for key in state["escalated"] if key.startswith(prefix)],
            }
            state["clocks"] = {**clocks, event.clock: extended}
        elif isinstance(event, Case.RiskGraded):
            if event.risk != RED:
                state["risk"] = {}
            elif not state["risk"]:  # red again while red: the same breach (see Case.RiskGraded)
                state["risk"] = {risk_key(event.timestamp): iso_text(event.timestamp)}
        elif isinstance(event, Case.SupervisionInstructed):
            key = supervision_key(state["supervisions"])
            state["supervisions"] += 1
            due = iso_text(supervision_overdue_at(event.due, self._zone))
            state["timers"] = {**state["timers"], key: due}
        elif isinstance(event, Case.Escalated) and event.breach is not None:
            state["escalated"] = [*state["escalated"], event.breach]
        elif isinstance(event, Case.SupervisionAnswered):
            key = supervision_key(event.number - 1)
            at = state["timers"].get(key)
            if at is not None and event.timestamp < datetime.fromisoformat(at):
                # answered in time (see breaches.candidates)
                state["timers"] = {k: v for k, v in state["timers"].items() if k != key}
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
