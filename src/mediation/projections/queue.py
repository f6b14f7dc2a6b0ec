"""The queue view: one row per case with what a clerk sorts and filters open cases by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

from mediation.domain.case import Case
from mediation.projections.bulk import converted_first, utc_text
from mediation.projections.columns import NO_DEADLINE, UTCDateTime
from mediation.projections.held import load_rows
from mediation.projections.phases import Statuses
from mediation.projections.view import QUERY_ONLY_INDEX, Recorded, View
from mediation.workflows import WorkflowRegistry

SUMMARY_LENGTH = 80
Row = dict[str, Any]


@dataclass(frozen=True)
class QueueTables:
    cases: Table


@dataclass(frozen=True)
class QueuePlan:
    stored: set[Any]  # cases whose row was read from the table: it is updated
    rows: dict[Any, Row]  # each touched case's row after the batch


class QueueView(View[QueueTables]):
    """Closed cases keep their row (marked closed) so that a reopened case comes back whole."""

    name = "queue"
    partitionable = True

    def __init__(self, workflows: WorkflowRegistry) -> None:
        super().__init__()
        self._statuses = Statuses(workflows)

    def define(self, metadata: MetaData, suffix: str) -> QueueTables:
        name = f"queue_cases{suffix}"
        table = Table(
            name,
            metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("workflow", String(64), nullable=False),
            Column("center", String(32), nullable=False),
            Column("summary", String(SUMMARY_LENGTH), nullable=False),
            Column("dispute_type", String(64), nullable=False),
            Column("channel", String(32), nullable=False),
            Column("risk", String(16), nullable=False),
            Column("phase", String(32), nullable=False),
            Column("status", String(64), nullable=False),
            Column("assignee", String(64)),
            Column("clocks", JSON, nullable=False),  # running clocks: name -> due (UTC ISO)
            Column("next_due", UTCDateTime),
            Column("next_clock", String(64)),
            Column("sort_due", UTCDateTime, nullable=False),  # next_due, or NO_DEADLINE
            Column("escalation_level", Integer, nullable=False),
            Column("last_activity", UTCDateTime, nullable=False),
            Column("registered_at", UTCDateTime, nullable=False),
            Column("is_open", Boolean, nullable=False),
        )
        c = table.c
        # The queue's order is (sort_due, case_id): each index ends with it, so that a page is
        # read in order and stops at `limit`. Closed cases keep their rows (a reopened case
        # comes back) but are in no index: each is partial, of the open cases, which every
        # query of the queue names as `is_open = 1` (`= true` on PostgreSQL), as the index
        # does. A center's closed cases outnumber its open ones within a year or two; at
        # 1,000,000 events of the bench's log (two in three cases open) the six indexes took
        # 1.7-2.0 s to build at the end of a rebuild instead of 2.7-3.2 with every case.
        open_only = c.is_open == True  # noqa: E712 (SQL)
        for columns in ([], [c.center], [c.assignee], [c.phase], [c.center, c.phase], [c.risk]):
            label = "_".join(col.name for col in columns) or "all"
            Index(
                f"ix_{name}_{label}_due",
                *columns,
                c.sort_due,
                c.case_id,
                info=QUERY_ONLY_INDEX,
                sqlite_where=open_only,
                postgresql_where=open_only,
            )
        return QueueTables(table)

    def _plan(self, conn: Connection, tables: QueueTables, batch: Sequence[Recorded]) -> QueuePlan:
        table = tables.cases
        known = {r.event.originator_id for r in batch if not isinstance(r.event, Case.Registered)}
        rows, stored = load_rows(conn, table, known, self.held(table))
        for recorded in batch:
            self._fold(rows, recorded.event)
            self.folded(recorded.position)
        return QueuePlan(stored, rows)

    def _write(self, conn: Connection, tables: QueueTables, plan: QueuePlan) -> None:
        with converted_first(conn):
            self._keep_rows(conn, tables, tables.cases, plan.rows, plan.stored)

    def _held_tables(self, tables: QueueTables) -> Sequence[Table]:
        return (tables.cases,)

    def _fold(self, rows: dict[Any, Row], event: Case.Event) -> None:
        if isinstance(event, Case.Registered):
            rows[event.originator_id] = registered_row(event)
        row = rows[event.originator_id]
        _record(row, event)
        row["status"] = event.status
        row["phase"] = self._statuses.phase(row["workflow"], event.status)
        row["is_open"] = not self._statuses.is_final(row["workflow"], event.status)
        row["last_activity"] = event.timestamp
        clocks = moved_clocks(row["clocks"], event)
        if clocks is None and "next_due" in row:
            return  # the running clocks, so the next deadline, stay as they are
        if clocks is not None:
            row["clocks"] = clocks
        due, clock_name = next_deadline(row["clocks"])
        row.update(next_due=due, next_clock=clock_name, sort_due=due or NO_DEADLINE)


def registered_row(event: Case.Registered) -> Row:
    return {
        "case_id": event.originator_id,
        "workflow": event.workflow,
        "center": event.center,
        "summary": event.summary[:SUMMARY_LENGTH],
        "dispute_type": event.dispute_type,
        "channel": event.channel,
        "risk": event.risk,
        "assignee": None,
        "clocks": {},
        "escalation_level": 0,
        "registered_at": event.timestamp,
    }


def _record(row: Row, event: Case.Event) -> None:
    """The facts of this event type that the queue shows."""
    if isinstance(event, Case.Amended):
        for field in ("dispute_type", "channel"):
            if field in event.changes:
                row[field] = str(event.changes[field])
        if "summary" in event.changes:
            row["summary"] = str(event.changes["summary"])[:SUMMARY_LENGTH]
    elif isinstance(event, Case.RiskGraded):
        row["risk"] = event.risk
    elif isinstance(event, Case.Routed | Case.MediatorAssigned | Case.TransferReceived):
        row["assignee"] = event.mediator
    elif isinstance(event, Case.Escalated):
        row["escalation_level"] = event.level


def moved_clocks(clocks: dict[str, str], event: Case.Event) -> dict[str, str] | None:
    """A case's running clocks (name -> due, UTC ISO) after `event`; None when it starts,
    stops and extends none (they stay as they are)."""
    extended = isinstance(event, Case.DeadlineExtended)
    if not (event.clocks_stopped or event.clocks_started or extended):
        return None
    moved = dict(clocks)
    for name in event.clocks_stopped:
        moved.pop(name, None)
    for name, clock in event.clocks_started.items():
        moved[name] = utc_text(clock["due_at"])
    if isinstance(event, Case.DeadlineExtended):
        moved[event.clock] = utc_text(event.due_at)
    return moved


# Due moments read back lately (see `next_deadline`): the queue and the statistics each
# read the earliest one of a case's clocks after an event moved them.
CONVERSIONS_KEPT = 65_536


def next_deadline(clocks: dict[str, str]) -> tuple[datetime | None, str | None]:
    """The earliest due moment of the running clocks, and that clock's name."""
    if not clocks:
        return None, None
    if len(clocks) == 1:  # as a case's running clocks mostly are: nothing to compare
        [(name, due)] = clocks.items()
        return _moment(due), name
    name = min(clocks, key=lambda n: (clocks[n], n))
    return _moment(clocks[name]), name


@lru_cache(maxsize=CONVERSIONS_KEPT)
def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)
