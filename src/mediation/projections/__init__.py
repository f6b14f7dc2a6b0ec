"""Views built from the case event log: the clerks' queue, the audit trail and statistics.

Each view is a set of SQLAlchemy tables in the event store's database, kept by applying the
log in batches; its tracking position commits in the same transaction as its rows.
"""

from mediation.projections.audit_csv import audit_csv
from mediation.projections.audit_query import (
    AUDIT_ORDERS,
    AuditEntry,
    AuditOrder,
    AuditPage,
    AuditQuery,
)
from mediation.projections.party_query import PartyCase, PartyCases, PartyQuery
from mediation.projections.queue_query import (
    QueueCounts,
    QueueItem,
    QueuePage,
    QueueQuery,
    QueueSummary,
)
from mediation.projections.rebuild import RebuildRunningError
from mediation.projections.service import Projections, ViewStatus
from mediation.projections.standard import (
    VIEW_NAMES,
    audit,
    audit_entries,
    audit_export,
    build_projections,
    party_cases,
    queue,
    queue_summary,
    stats,
)
from mediation.projections.stats_csv import stats_csv
from mediation.projections.stats_query import StatsQuery, StatsReport, StatsRow

__all__ = [
    "AUDIT_ORDERS",
    "VIEW_NAMES",
    "AuditEntry",
    "AuditOrder",
    "AuditPage",
    "AuditQuery",
    "PartyCase",
    "PartyCases",
    "PartyQuery",
    "Projections",
    "QueueCounts",
    "QueueItem",
    "QueuePage",
    "QueueQuery",
    "QueueSummary",
    "RebuildRunningError",
    "StatsQuery",
    "StatsReport",
    "StatsRow",
    "ViewStatus",
    "audit",
    "audit_csv",
    "audit_entries",
    "audit_export",
    "build_projections",
    "party_cases",
    "queue",
    "queue_summary",
    "stats",
    "stats_csv",
]
