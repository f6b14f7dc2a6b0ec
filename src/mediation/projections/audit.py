"""The audit view: one row per event, who did what to which case and when.

The rows hold what the trail is filtered and ordered by, and what no single event tells (the
case's center then, its status before), not the events' own facts: those are read from the
log itself for each page shown, parties masked (see `audit_query`), and so are the event's
version, its actor's role and center and the status it left the case in. The event store is
the one copy of every fact a party gave, encrypted there when the deployment sets a key; a
second copy in the view, unencrypted, would have held their names for as long as the view,
and the table three times as large (at 1,000,000 events 505 MB against 160) and slower to
write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
)

from mediation.domain.case import Case
from mediation.projections.bulk import converted_first, insert_rows
from mediation.projections.columns import POSITION_KEY, UTCDateTime
from mediation.projections.held import load_rows
from mediation.projections.view import QUERY_ONLY_INDEX, Recorded, View


@dataclass(frozen=True)
class AuditTables:
    events: Table
    cases: Table  # each case's center and latest status, for the next event's "before"


@dataclass(frozen=True)
class AuditPlan:
    events: list[dict[str, Any]]  # a row per event
    stored: set[Any]  # cases whose row was read from the table: it is updated
    cases: dict[Any, dict[str, Any]]  # each touched case's center and status after the batch


class AuditView(View[AuditTables]):
    name = "audit"
    partitionable = True

    def define(self, metadata: MetaData, suffix: str) -> AuditTables:
        name = f"audit_events{suffix}"
        events = Table(
            name,
            metadata,
            Column("position", POSITION_KEY, primary_key=True, autoincrement=False),
            Column("case_id", Uuid, nullable=False),
            Column("center", String(32), nullable=False),  # the case's, then
            Column("event_type", String(64), nullable=False),
            Column("actor_user", String(128), nullable=False),
            Column("at", UTCDateTime, nullable=False),
            Column("status_before", String(64)),  # the case's previous event's status
        )
        c = events.c
        for column in (c.case_id, c.center, c.actor_user, c.event_type, c.at):
            Index(f"ix_{name}_{column.name}", column, c.position, info=QUERY_ONLY_INDEX)
        cases = Table(
            f"audit_cases{suffix}",
            metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("center", String(32), nullable=False),
            Column("status", String(64), nullable=False),
            # small rows read and written by case id: on SQLite one B-tree by the id, not a
            # table by rowid and an index of the ids beside it
            sqlite_with_rowid=False,
        )
        return AuditTables(events, cases)

    def _plan(self, conn: Connection, tables: AuditTables, batch: Sequence[Recorded]) -> AuditPlan:
        cases = tables.cases
        known = {r.event.originator_id for r in batch if not isinstance(r.event, Case.Registered)}
        state, stored = load_rows(conn, cases, known, self.held(cases))
        rows = []
        for recorded in batch:
            rows.append(_row(state, recorded))
            self.folded(recorded.position)
        return AuditPlan(rows, stored, state)

    def _write(self, conn: Connection, tables: AuditTables, plan: AuditPlan) -> None:
        with converted_first(conn):
            insert_rows(conn, tables.events, plan.events)
            self._keep_rows(conn, tables, tables.cases, plan.cases, plan.stored)

    def _held_tables(self, tables: AuditTables) -> Sequence[Table]:
        return (tables.cases,)


def _row(state: dict[Any, dict[str, Any]], recorded: Recorded) -> dict[str, Any]:
    event = recorded.event
    case_id = event.originator_id
    if isinstance(event, Case.Registered):
        state[case_id] = {"case_id": case_id, "center": event.center, "status": None}
    case = state[case_id]
    before = case["status"]
    case["status"] = event.status
    return {
        "position": recorded.position,
        "case_id": case_id,
        "center": case["center"],
        "event_type": type(event).__name__,
        "actor_user": event.actor.user,
        "at": event.timestamp,
        "status_before": before,
    }
