"""Reading the queue: the open cases of some centers, filtered, soonest deadline first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from mediation.domain.errors import InvalidFieldError
from mediation.projections import cursor
from mediation.projections.columns import NO_DEADLINE
from mediation.projections.queue import QueueTables

MAX_LIMIT = 200


@dataclass(frozen=True)
class QueueQuery:
    """Which open cases to list; `centers` is the caller's scope, already resolved."""

    centers: frozenset[str]
    phase: str | None = None
    status: str | None = None
    assignee: str | None = None
    dispute_type: str | None = None
    risk: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class QueueItem:
    id: UUID
    center: str
    summary: str
    dispute_type: str
    channel: str
    risk: str
    phase: str
    status: str
    assignee: str | None
    next_deadline: datetime | None
    next_clock: str | None
    overdue: bool
    escalation_level: int
    last_activity: datetime
    registered_at: datetime


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None


def read_queue(
    conn: Connection, tables: QueueTables, query: QueueQuery, now: datetime
) -> QueuePage:
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidFieldError("limit", f"must be between 1 and {MAX_LIMIT}")
    t = tables.cases
    statement = (
        select(t)
        .where(t.c.is_open, *_filters(tables, query, now))
        .order_by(t.c.sort_due, t.c.case_id)
        .limit(query.limit + 1)
    )
    rows = list(conn.execute(statement))
    items = [_item(row, now) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    last = rows[query.limit - 1] if more else None
    next_cursor = (
        cursor.encode("queue", last.sort_due.isoformat(), str(last.case_id)) if last else None
    )
    return QueuePage(items, next_cursor)


def _filters(tables: QueueTables, query: QueueQuery, now: datetime) -> list[ColumnElement[bool]]:
    c = tables.cases.c
    found: list[ColumnElement[bool]] = [c.center.in_(sorted(query.centers))]
    for column, value in (
        (c.phase, query.phase),
        (c.status, query.status),
        (c.assignee, query.assignee),
        (c.dispute_type, query.dispute_type),
        (c.risk, query.risk),
    ):
        if value is not None:
            found.append(column == value)
    if query.overdue is not None:
        found.append(c.sort_due < now if query.overdue else c.sort_due >= now)
    if query.escalated is not None:
        found.append(c.escalation_level > 0 if query.escalated else c.escalation_level == 0)
    if query.cursor is not None:
        due, case_id = _position(query.cursor)
        found.append(or_(c.sort_due > due, and_(c.sort_due == due, c.case_id > case_id)))
    return found


def _position(text: str) -> tuple[datetime, UUID]:
    due, case_id = cursor.decode("queue", text, 2)
    try:
        return datetime.fromisoformat(due), UUID(case_id)
    except (TypeError, ValueError):
        raise InvalidFieldError("cursor", "is not a cursor of this list") from None


def _item(row: Any, now: datetime) -> QueueItem:
    due = row.next_due
    return QueueItem(
        id=row.case_id,
        center=row.center,
        summary=row.summary,
        dispute_type=row.dispute_type,
        channel=row.channel,
        risk=row.risk,
        phase=row.phase,
        status=row.status,
        assignee=row.assignee,
        next_deadline=due,
        next_clock=row.next_clock,
        overdue=due is not None and due < now,
        escalation_level=row.escalation_level,
        last_activity=row.last_activity,
        registered_at=row.registered_at,
    )


__all__ = ["NO_DEADLINE", "QueueItem", "QueuePage", "QueueQuery", "read_queue"]
