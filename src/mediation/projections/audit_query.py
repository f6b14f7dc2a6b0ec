"""Reading the audit trail: events across cases, filtered, in log order or newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import ColumnElement, Connection, select

from mediation.application.views import event_data
from mediation.domain.case import Case, event_types
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import Actor
from mediation.projections import cursor
from mediation.projections.audit import AuditTables
from mediation.projections.columns import LARGEST_POSITION, utc_bound
from mediation.projections.log import EventLog
from mediation.projections.queue_query import MAX_LIMIT
from mediation.store import json_text

EVENT_TYPES = tuple(event_types())
# The orders a page may list its events in: the log's (the oldest first) or the reverse.
AuditOrder = Literal["oldest", "newest"]
AUDIT_ORDERS: tuple[AuditOrder, ...] = ("oldest", "newest")


@dataclass(frozen=True)
class AuditQuery:
    """Which events to list; `centers` is the caller's scope, already resolved."""

    centers: frozenset[str]
    actor: str | None = None
    case_id: UUID | None = None
    event_type: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 50
    cursor: str | None = None  # of a page listed in the same order
    order: AuditOrder = "oldest"

    def check(self) -> None:
        """Refuse a query no page can answer, naming the parameter (InvalidFieldError)."""
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidFieldError("limit", f"must be between 1 and {MAX_LIMIT}")
        if self.order not in AUDIT_ORDERS:
            raise InvalidFieldError("order", f"must be one of {', '.join(AUDIT_ORDERS)}")
        if self.event_type is not None and self.event_type not in EVENT_TYPES:
            raise InvalidFieldError("type", f"must be one of {', '.join(EVENT_TYPES)}")
        for field, moment in (("since", self.since), ("until", self.until)):
            if moment is not None and moment.tzinfo is None:
                raise InvalidFieldError(field, "must carry a time zone offset, e.g. +08:00 or Z")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise InvalidFieldError("until", "must not be before since")
        if self.cursor is not None:
            _after(self)


@dataclass(frozen=True)
class AuditEntry:
    position: int
    case_id: UUID
    center: str
    version: int
    type: str
    actor: Actor
    at: datetime
    status_before: str | None
    status_after: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_cursor: str | None


def read_audit(
    conn: Connection, tables: AuditTables, query: AuditQuery, log: EventLog
) -> AuditPage:
    """A page of the trail: the view's rows, each with its event's facts read from `log`.

    The events are listed by their position in the log, which is the order they happened in
    (two events of one moment in the order they were recorded), the oldest first or, for
    `order="newest"`, the newest first; a page's cursor continues the list in its order."""
    query.check()
    t = tables.events
    filters = _filters(tables, query, _by_moment(conn, tables, query))
    ordering = t.c.position.desc() if query.order == "newest" else t.c.position
    statement = select(t).where(*filters).order_by(ordering).limit(query.limit + 1)
    rows = list(conn.execute(statement))
    shown = rows[: query.limit]
    events = log.events_at([row.position for row in shown])
    items = [_entry(row, events) for row in shown]
    more = len(rows) > query.limit
    return AuditPage(items, cursor.encode(_kind(query), items[-1].position) if more else None)


def matches_more_than(conn: Connection, tables: AuditTables, query: AuditQuery, count: int) -> bool:
    """Whether more than `count` events match the query's filters (its cursor and limit
    aside): one query that stops after `count` of them (on SQLite, 100,000 of a town's
    events at 1,000,000 in all: 5 ms)."""
    whole = replace(query, cursor=None)
    t = tables.events
    filters = _filters(tables, whole, _by_moment(conn, tables, whole))
    beyond = select(t.c.position).where(*filters).limit(1).offset(count)
    return conn.execute(beyond).first() is not None


def shown_data(event: Case.Event) -> dict[str, Any]:
    """An event's own facts as the trail shows them: as the case history shows them to staff
    of another center (`event_data`, parties' phone and ID number masked: PML art. 15), every
    value as JSON gives it back (moments as ISO 8601 text, enums and dataclasses as their
    values), as the view's column gave them when it kept them."""
    loaded: dict[str, Any] = json.loads(json_text(event_data(event, masked=True)))
    return loaded


def _by_moment(conn: Connection, tables: AuditTables, query: AuditQuery) -> bool:
    """Whether to read a time window's events through the index of their moments: on SQLite,
    when the window holds at most NARROW_WINDOW events (one query on that index finds out).

    SQLite's planner, which has no statistics of the view, reads the events of each center
    (or actor, or type) in log order (or the reverse) until it has the page, which is quick
    when the window holds many of them and slow when it holds few: at 1,000,000 events, an
    hour's 400 events took 0.4 s, a day's 10,000 8 ms, a month's 0.5 ms. Through the index
    of moments the window's events are read and sorted: the hour 2-7 ms, the month 0.2 s.
    """
    window = _window(tables, query)
    if conn.dialect.name != "sqlite" or not window:
        return False
    beyond = select(tables.events.c.at).where(*window).limit(1).offset(NARROW_WINDOW)
    return conn.execute(beyond).first() is None


# Events in a time window at most, for it to be read through the index of moments (see
# `_by_moment`): reading and sorting that many took about as long as the other way.
NARROW_WINDOW = 2000


def _filters(
    tables: AuditTables, query: AuditQuery, by_moment: bool = False
) -> list[ColumnElement[bool]]:
    """The query's conditions; `by_moment`: the center's, actor's and type's written so that
    no index of theirs can serve them (`column || ''`), which leaves the planner the index
    of moments (or a case's, for one case's events)."""
    c = tables.events.c
    center: ColumnElement[Any] = c.center
    actor: ColumnElement[Any] = c.actor_user
    event_type: ColumnElement[Any] = c.event_type
    if by_moment:
        center, actor, event_type = center.concat(""), actor.concat(""), event_type.concat("")
    found: list[ColumnElement[bool]] = [center.in_(sorted(query.centers))]
    for column, value in (
        (actor, query.actor),
        (c.case_id, query.case_id),
        (event_type, query.event_type),
    ):
        if value is not None:
            found.append(column == value)
    found += _window(tables, query)
    if query.cursor is not None:
        after = _after(query)
        found.append(c.position < after if query.order == "newest" else c.position > after)
    return found


def _window(tables: AuditTables, query: AuditQuery) -> list[ColumnElement[bool]]:
    """The time window's conditions (none: no window)."""
    at = tables.events.c.at
    found = [at >= utc_bound(query.since)] if query.since is not None else []
    if query.until is not None:
        found.append(at < utc_bound(query.until))
    return found


def _after(query: AuditQuery) -> int:
    """The position the query's cursor continues the list after, in the query's order; a
    cursor of the list in the other order is refused (its pages would skip or repeat)."""
    assert query.cursor is not None
    (after,) = cursor.decode(_kind(query), query.cursor, 1)
    if type(after) is not int or not 0 <= after <= LARGEST_POSITION:
        raise InvalidFieldError("cursor", "is not a cursor of this list")
    return int(after)


def _kind(query: AuditQuery) -> str:
    """The kind of the cursors of a list in the query's order."""
    return "audit" if query.order == "oldest" else "audit-newest"


def _entry(row: Any, events: dict[int, Case.Event]) -> AuditEntry:
    event = events.get(row.position)
    if event is None:  # the log keeps every event: a view that lists one it lacks is broken
        msg = f"the audit view lists position {row.position}, which holds no case event"
        raise LookupError(msg)
    return AuditEntry(
        position=row.position,
        case_id=row.case_id,
        center=row.center,
        version=event.originator_version,
        type=row.event_type,
        actor=event.actor,
        at=row.at,
        status_before=row.status_before,
        status_after=event.status,
        data=shown_data(event),
    )
