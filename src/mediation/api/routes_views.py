"""The views: the clerks' queue, the supervisors' audit trail and the statistics.

Each reads a projection of the event log. `after=<position>` (the `position` an action
returned) waits briefly for the view to include that action, else answers 503. A request is
checked whole before it waits: a parameter no answer could satisfy (an unknown status, a
position beyond the log's head, a parameter given twice) is refused at once with 422.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mediation.api.deps import CurrentActor, ServicesDep
from mediation.api.errors import (
    FORBIDDEN,
    MALFORMED,
    UNAUTHENTICATED,
    ErrorBody,
    InvalidQueryError,
)
from mediation.application.service import WIDE_ROLES, centers_seen
from mediation.bootstrap import Services
from mediation.domain.errors import InvalidFieldError, PermissionDeniedError
from mediation.domain.values import Actor
from mediation.projections import (
    AuditEntry,
    AuditOrder,
    AuditQuery,
    PartyCase,
    PartyQuery,
    Projections,
    QueueCounts,
    QueueItem,
    QueueQuery,
    StatsQuery,
    StatsRow,
    audit,
    audit_csv,
    audit_export,
    party_cases,
    queue,
    queue_summary,
    stats,
    stats_csv,
)
from mediation.projections.columns import LARGEST_POSITION
from mediation.projections.queue_query import MAX_LIMIT
from mediation.projections.stats import StatsView

log = logging.getLogger("mediation.api")
AFTER_WAIT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 1
CSV = "text/csv"
BEHIND: dict[int | str, Any] = {
    503: {"model": ErrorBody, "description": "The view has not reached `after` yet"}
}


def single_values(request: Request) -> None:
    """Each query parameter at most once: none of these endpoints takes a list, and taking the
    last of two values (`center=a&center=b`) would answer a question the caller did not ask."""
    seen: set[str] = set()
    for name, _value in request.query_params.multi_items():
        if name in seen:
            raise InvalidQueryError(name, "is given more than once")
        seen.add(name)


router = APIRouter(
    prefix="/api/v1",
    tags=["views"],
    responses=UNAUTHENTICATED | FORBIDDEN | BEHIND,
    dependencies=[Depends(single_values)],
)


async def get_projections(request: Request) -> Projections:
    projections: Projections | None = getattr(request.app.state, "projections", None)
    if projections is None:
        raise HTTPException(503, "the views are not available in this process")
    return projections


ProjectionsDep = Annotated[Projections, Depends(get_projections)]
After = Annotated[
    int | None,
    Query(
        ge=0,
        le=LARGEST_POSITION,
        description="Wait (up to 2 s) until the view includes this log position",
    ),
]
Center = Annotated[
    str | None,
    Query(min_length=1, max_length=32, description="Only this center (and those below it)"),
]
Limit = Annotated[int, Query(ge=1, le=200, description="Rows per page")]
Assignee = Annotated[
    str | None, Query(max_length=64, description="A mediator's username, or `mine`")
]
Cursor = Annotated[
    str | None, Query(max_length=400, description="`next_cursor` of the previous page")
]


class QueuePage(BaseModel):
    """A page of open cases, soonest deadline first (cases without one last)."""

    items: list[QueueItem]
    next_cursor: str | None
    position: int  # the log position the view had reached when read


class AuditPage(BaseModel):
    """A page of events in log order; parties' phone and ID numbers masked."""

    items: list[AuditEntry]
    next_cursor: str | None
    position: int


class Figures(BaseModel):
    """The figures of one center (and period, dispute type or channel, when grouped by them)."""

    center: str
    period: date | None  # null: the whole range (the totals)
    dispute_type: str | None
    channel: str | None
    counts: dict[str, int]
    closed: dict[str, int]
    success_rate: float | None
    median_days_to_close: float | None
    p90_days_to_close: float | None
    overdue_now: int | None

    @classmethod
    def of(cls, row: StatsRow) -> Figures:
        return cls(
            center=row.center,
            period=row.period,
            dispute_type=row.dispute_type,
            channel=row.channel,
            counts=row.counts,
            closed=row.closed,
            success_rate=row.success_rate,
            median_days_to_close=row.median_days_to_close,
            p90_days_to_close=row.p90_days_to_close,
            overdue_now=row.overdue_now,
        )


class Statistics(BaseModel):
    """Figures per center and period; `totals` cover the whole range, with `overdue_now`."""

    start: date
    end: date
    group_by: list[str]
    rows: list[Figures]
    totals: list[Figures]
    position: int


def scope(services: Services, actor: Actor, center: str | None) -> frozenset[str]:
    """The centers the caller may see (a supervisor: their subtree), narrowed to `center`."""
    seen = centers_seen(services.directory, actor, center)
    if seen is None:
        raise PermissionDeniedError(f"{actor.user} of center {actor.center} may not see {center}")
    return seen


def _a_year_to(end: date) -> date:
    """The first of the 365 days that end on `end` (from the calendar's first day on)."""
    return end - timedelta(days=364) if end.toordinal() > 364 else date.min


@contextmanager
def query_checks() -> Iterator[None]:
    """A field the body ends up refusing is a query parameter here (see InvalidQueryError)."""
    try:
        yield
    except InvalidFieldError as error:
        raise InvalidQueryError(error.field, error.reason) from None


def caught_up(projections: Projections, view: str, after: int | None) -> int:
    """The view's position, once it has reached `after` (503 if it does not in time). A
    position beyond the log's head is no action's: refused at once, not waited for."""
    if after is not None and after > (head := projections.log.head()):
        raise InvalidQueryError("after", f"is beyond the log's last position ({head})")
    if after is not None and not projections.wait_for(after, AFTER_WAIT_SECONDS, [view]):
        raise HTTPException(
            503,
            f"the {view} view has not reached position {after} yet; retry shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return projections.position(view)


@router.get("/queue", response_model=QueuePage)
def read_queue(
    actor: CurrentActor,
    services: ServicesDep,
    projections: ProjectionsDep,
    center: Center = None,
    phase: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=64)] = None,
    assignee: Assignee = None,
    dispute_type: Annotated[str | None, Query(max_length=64)] = None,
    risk: Annotated[
        str | None, Query(max_length=16, description="low, medium, high or red")
    ] = None,
    overdue: Annotated[bool | None, Query(description="Past the next deadline (or not)")] = None,
    escalated: Annotated[bool | None, Query(description="Escalated at least once (or not)")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
    after: After = None,
) -> QueuePage:
    """Open cases of the caller's center (a supervisor: every center below theirs), soonest deadline first."""
    query = QueueQuery(
        centers=scope(services, actor, center),
        phase=phase,
        status=status,
        assignee=actor.user if assignee == "mine" else assignee,
        dispute_type=dispute_type,
        risk=risk,
        overdue=overdue,
        escalated=escalated,
        limit=limit,
        cursor=cursor,
    )
    with query_checks():
        query.check(services.workflows)
    position = caught_up(projections, "queue", after)
    page = queue(projections, query, services.clock.now())
    return QueuePage(items=page.items, next_cursor=page.next_cursor, position=position)


class QueueSummaryBody(BaseModel):
    """How many open cases the scope holds and how many are overdue: in all, by phase and by
    center (a phase or center without open cases is left out)."""

    total: QueueCounts
    phases: dict[str, QueueCounts]
    centers: dict[str, QueueCounts]
    position: int  # the log position the view had reached when read


@router.get("/queue/summary", response_model=QueueSummaryBody)
def read_queue_summary(
    actor: CurrentActor,
    services: ServicesDep,
    projections: ProjectionsDep,
    center: Center = None,
    assignee: Assignee = None,
    after: After = None,
) -> QueueSummaryBody:
    """The open and overdue cases of the caller's center (a supervisor: every center below theirs), by phase and center."""
    centers = scope(services, actor, center)
    position = caught_up(projections, "queue", after)
    mediator = actor.user if assignee == "mine" else assignee
    found = queue_summary(projections, centers, services.clock.now(), mediator)
    return QueueSummaryBody(
        total=found.total, phases=found.phases, centers=found.centers, position=position
    )


class PartyLookup(BaseModel):
    """Whose cases to find: an ID number, or a name with a phone (or all three). Checked
    where the lookup is made (`PartyQuery.check`), as commands are: a length limit here
    would turn a lone surrogate into an error no response can carry."""

    model_config = ConfigDict(extra="forbid")

    id_number: str | None = Field(None, description="As registered: 4 to 32 letters or digits")
    name: str | None = Field(
        None, description="With `phone`: finds a party registered without an ID number"
    )
    phone: str | None = Field(None, description="With `name`; only its digits count")


class PartyCasesBody(BaseModel):
    """A party's cases in the caller's center, the latest registered first."""

    items: list[PartyCase]
    more: bool  # more matched than the list holds (100): the oldest are left out
    position: int  # the log position the view had reached when read


@router.post("/cases/lookup", response_model=PartyCasesBody, responses=MALFORMED)
def look_up_party_cases(
    lookup: PartyLookup,
    actor: CurrentActor,
    services: ServicesDep,
    projections: ProjectionsDep,
    after: After = None,
) -> PartyCasesBody:
    """The caller's own center's cases of one party, found by their ID number, or by name and phone.

    For the hotline and the window: a caller seldom knows their case's id. The view matches
    keyed hashes of what is given, never the numbers themselves, and finds only cases of the
    caller's own center, whose staff may see their parties (PML art. 15). A POST, so that the
    numbers stay out of URLs and access logs.
    """
    query = PartyQuery(actor.center, lookup.id_number, lookup.name, lookup.phone)
    query.check()
    position = caught_up(projections, "stats", after)
    found = party_cases(projections, query)
    log.info("party lookup by %s in %s: %d cases", actor.user, actor.center, len(found.items))
    return PartyCasesBody(items=found.items, more=found.more, position=position)


def audit_filters(
    actor: CurrentActor,
    services: ServicesDep,
    center: Center = None,
    acted_by: Annotated[
        str | None, Query(alias="actor", max_length=128, description="Who acted (username)")
    ] = None,
    case: Annotated[UUID | None, Query(description="One case's events")] = None,
    type: Annotated[
        str | None, Query(max_length=64, description="Event type, e.g. Escalated")
    ] = None,
    since: Annotated[datetime | None, Query(description="From this moment (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Before this moment")] = None,
    order: Annotated[
        AuditOrder,
        Query(
            description="`oldest` first (the log's order) or `newest` first; "
            "a cursor continues the list in the order it was given for"
        ),
    ] = "oldest",
) -> AuditQuery:
    """The audit trail's filters, for supervisors and admins: which events, in which order."""
    if actor.role not in WIDE_ROLES:
        raise PermissionDeniedError("only supervisors and admins may read the audit trail")
    return AuditQuery(
        centers=scope(services, actor, center),
        actor=acted_by,
        case_id=case,
        event_type=type,
        since=since,
        until=until,
        order=order,
    )


AuditFilters = Annotated[AuditQuery, Depends(audit_filters)]


@router.get("/audit", response_model=AuditPage)
def read_audit(
    filters: AuditFilters,
    projections: ProjectionsDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    after: After = None,
) -> AuditPage:
    """Supervisors (and admins): what happened in the centers below theirs, by whom and when, in log order or newest first."""
    query = replace(filters, limit=limit, cursor=cursor)
    with query_checks():
        query.check()
    position = caught_up(projections, "audit", after)
    page = audit(projections, query)
    return AuditPage(items=page.items, next_cursor=page.next_cursor, position=position)


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={200: {"content": {CSV: {}}, "description": "Every matching event, as CSV"}},
)
def export_audit(
    filters: AuditFilters, projections: ProjectionsDep, after: After = None
) -> StreamingResponse:
    """Supervisors (and admins): every event the audit trail's filters match, as CSV (at most 100,000: narrow the time range for more); phone and ID numbers masked."""
    with query_checks():
        replace(filters, limit=MAX_LIMIT).check()  # before waiting for the view
    position = caught_up(projections, "audit", after)
    with query_checks():
        entries = audit_export(projections, filters)
    headers = {
        "Content-Disposition": 'attachment; filename="audit.csv"',
        "Log-Position": str(position),
    }
    return StreamingResponse(
        audit_csv(entries), media_type=f"{CSV}; charset=utf-8", headers=headers
    )


@router.get(
    "/stats",
    response_model=Statistics,
    responses={200: {"content": {CSV: {}}, "description": "JSON, or CSV for `Accept: text/csv`"}},
)
def read_stats(
    request: Request,
    actor: CurrentActor,
    services: ServicesDep,
    projections: ProjectionsDep,
    center: Center = None,
    start: Annotated[
        date | None, Query(alias="from", description="First day (default: a year ago)")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (default: today)")] = None,
    group_by: Annotated[
        str,
        Query(
            max_length=64,
            description="Comma-separated: one of day, week, month; dispute_type; channel",
        ),
    ] = "month",
    after: After = None,
) -> Any:
    """Figures per center and period: registered, accepted, agreements, resolved, closed by outcome, success rate, days to close, overdue, escalations, re-disputes."""
    view = projections.view("stats")
    zone = view.zone if isinstance(view, StatsView) else UTC  # days are the centers' days
    today = services.clock.now().astimezone(zone).date()
    if end is None and start is not None and start > today:
        raise InvalidQueryError("from", f"must not be after today ({today}), the default of to")
    end = end or today
    query = StatsQuery(
        centers=scope(services, actor, center),
        start=start or _a_year_to(end),
        end=end,
        group_by=tuple(part.strip() for part in group_by.split(",") if part.strip()),
    )
    with query_checks():
        query.check()
    position = caught_up(projections, "stats", after)
    report = stats(projections, query, services.clock.now())
    if prefers_csv(request.headers.get("accept", "")):
        headers = {"Content-Disposition": 'attachment; filename="statistics.csv"'}
        return Response(stats_csv(report), media_type=f"{CSV}; charset=utf-8", headers=headers)
    return Statistics(
        start=query.start,
        end=query.end,
        group_by=list(query.group_by),
        rows=[Figures.of(row) for row in report.rows],
        totals=[Figures.of(row) for row in report.totals],
        position=position,
    )


def prefers_csv(accept: str) -> bool:
    """Whether an Accept header asks for CSV rather than JSON, by the quality of each
    (`text/csv;q=0` refuses CSV; JSON, the default, counts as `application/json`,
    `application/*` or `*/*`, whichever is named most precisely)."""
    quality: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media.lower()] = q
    csv = quality.get(CSV, 0.0)
    json = next(
        (quality[m] for m in ("application/json", "application/*", "*/*") if m in quality), 0.0
    )
    return csv > 0 and csv >= json
