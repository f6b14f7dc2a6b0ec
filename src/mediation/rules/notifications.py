"""The supervisors' notifications: every escalation, for the centers at and above its target."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    and_,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediation.domain.case import Case
from mediation.projections.bulk import insert_rows
from mediation.projections.columns import UTCDateTime
from mediation.projections.held import load_rows
from mediation.projections.view import Recorded, View

SUPERVISION = "supervision:"

# Who has read what: outside the view's generations, so a rebuild keeps everyone's marks.
reads_metadata = MetaData()
reads = Table(
    "notification_reads",
    reads_metadata,
    Column("username", String(64), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("read_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class NotificationTables:
    items: Table
    cases: Table  # each case's center, from its registration: an escalation names the case's


@dataclass(frozen=True)
class Notification:
    id: int  # the escalation's position in the event log
    case_id: UUID
    kind: str  # "escalation" or "supervision_overdue"
    case_center: str
    to_center: str
    level: int
    reason: str
    actor: str
    at: datetime
    read: bool


class NotificationsView(View[NotificationTables]):
    name = "notifications"
    partitionable = True

    def define(self, metadata: MetaData, suffix: str) -> NotificationTables:
        items = Table(
            f"notifications{suffix}",
            metadata,
            Column("position", BigInteger, primary_key=True, autoincrement=False),
            Column("case_id", Uuid, nullable=False),
            Column("kind", String(32), nullable=False),
            Column("case_center", String(32), nullable=False),
            Column("to_center", String(32), nullable=False),
            Column("level", Integer, nullable=False),
            Column("reason", Text, nullable=False),
            Column("actor", String(200), nullable=False),
            Column("at", UTCDateTime, nullable=False),
        )
        Index(f"ix_notifications{suffix}_to_center", items.c.to_center, items.c.position)
        cases = Table(
            f"notification_cases{suffix}",
            metadata,
            Column("case_id", Uuid, primary_key=True),
            Column("center", String(32), nullable=False),
        )
        return NotificationTables(items, cases)

    def _apply(
        self, conn: Connection, tables: NotificationTables, chunk: Sequence[Recorded]
    ) -> None:
        """An escalation's row names its case's center, which the case's registration gave
        (not the escalating actor's: a supervisor above the case escalates it too)."""
        cases = tables.cases
        earlier = {r.event.originator_id for r in chunk if isinstance(r.event, Case.Escalated)} - {
            r.event.originator_id for r in chunk if isinstance(r.event, Case.Registered)
        }
        centers, _stored = load_rows(conn, cases, earlier, self.held(cases))
        registered: dict[Any, dict[str, Any]] = {}
        rows = []
        for recorded in chunk:
            event = recorded.event
            if isinstance(event, Case.Registered):
                registered[event.originator_id] = {
                    "case_id": event.originator_id,
                    "center": event.center,
                }
                centers[event.originator_id] = registered[event.originator_id]
            elif isinstance(event, Case.Escalated):
                center = centers[event.originator_id]["center"]
                rows.append(_row(recorded.position, event, center))
            self.folded(recorded.position)
        insert_rows(conn, tables.items, rows)
        self._keep_rows(conn, tables, cases, registered, ())

    def _held_tables(self, tables: NotificationTables) -> Sequence[Table]:
        return (tables.cases,)


def _row(position: int, event: Case.Escalated, case_center: str) -> dict[str, Any]:
    overdue_instruction = (event.breach or "").startswith(SUPERVISION)
    return {
        "position": position,
        "case_id": event.originator_id,
        "kind": "supervision_overdue" if overdue_instruction else "escalation",
        "case_center": case_center,
        "to_center": event.to_center,
        "level": event.level,
        "reason": event.reason,
        "actor": event.actor.user,
        "at": event.timestamp,
    }


@dataclass(frozen=True)
class Feed:
    items: list[Notification]
    unread: int
    next_before: int | None


def read_feed(
    conn: Connection,
    tables: NotificationTables,
    username: str,
    centers: frozenset[str],
    unread_only: bool,
    before: int | None,
    limit: int,
) -> Feed:
    """The newest notifications for `centers`, newest first, with this user's read marks."""
    items = tables.items
    mark = reads.alias("mark")
    joined = items.outerjoin(
        mark, and_(mark.c.position == items.c.position, mark.c.username == username)
    )
    scoped = items.c.to_center.in_(centers)
    query = select(items, mark.c.position.is_not(None).label("read")).select_from(joined)
    query = query.where(scoped)
    if unread_only:
        query = query.where(mark.c.position.is_(None))
    if before is not None:
        query = query.where(items.c.position < before)
    rows = list(conn.execute(query.order_by(items.c.position.desc()).limit(limit + 1)))
    unread = conn.execute(
        select(func.count()).select_from(joined).where(scoped, mark.c.position.is_(None))
    ).scalar_one()
    page = [
        Notification(
            id=row.position,
            case_id=row.case_id,
            kind=row.kind,
            case_center=row.case_center,
            to_center=row.to_center,
            level=row.level,
            reason=row.reason,
            actor=row.actor,
            at=row.at,
            read=bool(row.read),
        )
        for row in rows[:limit]
    ]
    next_before = page[-1].id if len(rows) > limit else None
    return Feed(page, unread, next_before)


def mark_read(
    conn: Connection,
    tables: NotificationTables,
    username: str,
    centers: frozenset[str],
    position: int | None,
) -> int:
    """Mark one notification (or, with None, every one in scope) read; how many there were."""
    items = tables.items
    query = select(items.c.position).where(items.c.to_center.in_(centers))
    if position is not None:
        query = query.where(items.c.position == position)
    positions = [row.position for row in conn.execute(query)]
    if not positions:
        return 0
    now = datetime.now(UTC)
    rows = [{"username": username, "position": p, "read_at": now} for p in positions]
    dialect = conn.dialect.name
    upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(reads)
    conn.execute(upsert.on_conflict_do_nothing(), rows)
    return len(positions)


def read_positions(conn: Connection, username: str, positions: Sequence[int]) -> set[int]:
    """Which of these notifications the user has marked read."""
    if not positions:
        return set()
    query = select(reads.c.position).where(
        reads.c.username == username, reads.c.position.in_(list(positions))
    )
    return {row.position for row in conn.execute(query)}


def create_reads_table(conn: Connection) -> None:
    reads_metadata.create_all(conn)


__all__ = ["Feed", "Notification", "NotificationsView", "mark_read", "read_feed", "read_positions"]
