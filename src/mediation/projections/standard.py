"""The three views of the case log (queue, audit, stats) and how to read each."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from sqlalchemy import Connection, Engine

from mediation.domain.calendar import CHINA_STANDARD_TIME
from mediation.domain.errors import InvalidFieldError
from mediation.projections.audit import AuditTables, AuditView
from mediation.projections.audit_query import (
    AuditEntry,
    AuditPage,
    AuditQuery,
    matches_more_than,
    read_audit,
)
from mediation.projections.held import HELD_ROWS
from mediation.projections.parties import PartyKeys
from mediation.projections.party_query import (
    PartyCases,
    PartyQuery,
    case_summaries,
    find_party_cases,
)
from mediation.projections.queue import QueueTables, QueueView
from mediation.projections.queue_query import (
    MAX_LIMIT,
    QueuePage,
    QueueQuery,
    QueueSummary,
    read_queue,
    summarize_queue,
)
from mediation.projections.service import REBUILD_BATCH_SIZE, Projections
from mediation.projections.stats import HELD_KEYS, StatsTables, StatsView
from mediation.projections.stats_query import StatsQuery, StatsReport, read_stats
from mediation.projections.view import View
from mediation.workflows import WorkflowRegistry

VIEW_NAMES = (QueueView.name, AuditView.name, StatsView.name)


def build_projections(
    engine: Engine,
    application: Application[UUID],
    workflows: WorkflowRegistry,
    party_salt: bytes,
    zone: tzinfo = CHINA_STANDARD_TIME,
    batch_size: int = 1000,
    poll_interval: float = 0.5,
    extra_views: Sequence[View[Any]] = (),
    rebuild_batch_size: int = REBUILD_BATCH_SIZE,
    held_rows_limit: int = HELD_ROWS,
    held_keys_limit: int = HELD_KEYS,
) -> Projections:
    """The queue, audit and stats views over `application`'s log, tables in `engine`'s database.

    The sizes (events per batch, live and in a rebuild; rows and party keys a rebuild holds
    back, see `HeldRows` and `HeldKeys`) are for tests and benchmarks to vary: the defaults
    are the measured best."""
    views: tuple[View[Any], ...] = (
        QueueView(workflows),
        AuditView(),
        StatsView(workflows, PartyKeys(party_salt), zone, held_keys_limit),
        *extra_views,
    )
    for view in views:
        view.held_rows_limit = held_rows_limit
    return Projections(
        engine, application, views, batch_size, poll_interval, rebuild_batch_size=rebuild_batch_size
    )


def queue(projections: Projections, query: QueueQuery, now: datetime) -> QueuePage:
    def run(conn: Connection, tables: QueueTables) -> QueuePage:
        return read_queue(conn, tables, query, now)

    return projections.read(QueueView.name, run)


def queue_summary(
    projections: Projections, centers: frozenset[str], now: datetime, assignee: str | None = None
) -> QueueSummary:
    def run(conn: Connection, tables: QueueTables) -> QueueSummary:
        return summarize_queue(conn, tables, centers, now, assignee)

    return projections.read(QueueView.name, run)


def audit(projections: Projections, query: AuditQuery) -> AuditPage:
    def run(conn: Connection, tables: AuditTables) -> AuditPage:
        return read_audit(conn, tables, query, projections.log)

    return projections.read(AuditView.name, run)


# Events one export of the audit trail holds at most: the city's supervisor exporting a whole
# year would otherwise hold a worker for minutes (at 1,000,000 events on SQLite an export
# read 52,645 events in 5.2 s; finding that a town's held more than 100,000 took 5 ms).
EXPORT_MOST = 100_000


def audit_export(projections: Projections, query: AuditQuery) -> Iterator[AuditEntry]:
    """Every event the query's filters match, in its order (its limit and cursor aside), read
    as the export goes (see `audit_entries`). Refused at once, naming `since`, when more than
    EXPORT_MOST match, or when the query is one no page could answer (InvalidFieldError)."""
    whole = replace(query, limit=MAX_LIMIT, cursor=None)
    whole.check()

    def run(conn: Connection, tables: AuditTables) -> bool:
        return matches_more_than(conn, tables, whole, EXPORT_MOST)

    if projections.read(AuditView.name, run):
        reason = f"more than {EXPORT_MOST:,} events match: export a shorter time range"
        raise InvalidFieldError("since", reason)
    return audit_entries(projections, whole)


def audit_entries(projections: Projections, query: AuditQuery) -> Iterator[AuditEntry]:
    """Every event the query matches, from its cursor on, in its order: page after page of
    `query.limit` events, each page read as `audit` reads one (so an export of many events
    holds no transaction open between pages, and no more than a page in memory)."""
    while True:
        page = audit(projections, query)
        yield from page.items
        if page.next_cursor is None:
            return
        query = replace(query, cursor=page.next_cursor)


def party_cases(projections: Projections, query: PartyQuery) -> PartyCases:
    """The cases of `query.center` of the party `query` names (see `party_query`), each with
    its summary from the queue view; refused at once, naming the field, when it names no one
    (InvalidFieldError)."""
    query.check()
    view = projections.view(StatsView.name)
    if not isinstance(view, StatsView):
        raise TypeError(f"the {StatsView.name} view is not the statistics view")
    keys = query.keys(view.party_keys)

    def run(conn: Connection, tables: StatsTables) -> PartyCases:
        return find_party_cases(conn, tables, keys, query.center, view.statuses)

    found = projections.read(StatsView.name, run)
    ids = [item.id for item in found.items]
    if not ids:
        return found  # no summary to read

    def summaries(conn: Connection, tables: QueueTables) -> dict[UUID, str]:
        return case_summaries(conn, tables, ids)

    summary = projections.read(QueueView.name, summaries)
    items = [replace(item, summary=summary.get(item.id)) for item in found.items]
    return replace(found, items=items)


def stats(projections: Projections, query: StatsQuery, now: datetime) -> StatsReport:
    def run(conn: Connection, tables: StatsTables) -> StatsReport:
        return read_stats(conn, tables, query, now)

    return projections.read(StatsView.name, run, snapshot=True)  # counts and days agree
