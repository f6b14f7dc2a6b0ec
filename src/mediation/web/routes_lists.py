"""The queue and the audit trail: lists read from the projections, with their filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, cast
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from mediation.domain.case import event_types
from mediation.domain.errors import InvalidFieldError, MediationError, PermissionDeniedError
from mediation.projections import (
    AuditOrder,
    AuditQuery,
    QueueCounts,
    QueueQuery,
    audit,
    queue,
    queue_summary,
)
from mediation.web.core import SUPERVISING, ActorDep, TranslatorDep, Web, WebDep, render
from mediation.web.errors import error_page
from mediation.web.i18n import N_
from mediation.web.messages import field_reason
from mediation.web.vocabulary import DISPUTE_TYPES

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query()]
PAGE = 50
# The audit form's names for the fields of an AuditQuery.
FORM_FIELDS = {"type": "event", "actor": "who"}


def blank_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    web: WebDep,
    actor: ActorDep,
    t: TranslatorDep,
    phase: Text = None,
    status: Text = None,
    mine: Text = None,
    dispute_type: Text = None,
    risk: Text = None,
    overdue: Text = None,
    escalated: Text = None,
    cursor: Text = None,
) -> HTMLResponse:
    """Open cases of the user's center (a supervisor's: every center below too), soonest due first."""
    filters = {
        "phase": blank_none(phase),
        "status": blank_none(status),
        "mine": "yes" if mine == "yes" else None,
        "dispute_type": blank_none(dispute_type),
        "risk": blank_none(risk),
        "overdue": blank_none(overdue),
        "escalated": blank_none(escalated),
    }
    page, behind = None, False
    counts: tuple[QueueCounts, list[tuple[str, QueueCounts]]] | None = None  # in all, by phase
    definition = web.services.workflows.latest("dispute").definition
    if web.projections is not None:
        query = QueueQuery(
            centers=web.scope(actor),
            phase=filters["phase"],
            status=filters["status"],
            assignee=actor.user if filters["mine"] else None,
            dispute_type=filters["dispute_type"],
            risk=filters["risk"],
            overdue=yes_no(overdue),
            escalated=yes_no(escalated),
            limit=PAGE,
            cursor=blank_none(cursor),
        )
        try:
            query.check(web.services.workflows)
            behind = not web.caught_up(request, "queue")
            now = web.services.clock.now()
            page = queue(web.projections, query, now)
            summary = queue_summary(web.projections, query.centers, now, query.assignee)
        except MediationError as error:
            return error_page(request, web, t, actor, error)
        # the phases in the workflow's order, those of other workflows after
        order = {phase: i for i, phase in enumerate(definition.phases)}
        ranked = sorted(summary.phases, key=lambda p: (order.get(p, len(order)), p))
        counts = (summary.total, [(phase, summary.phases[phase]) for phase in ranked])
    return render(
        request,
        web,
        t,
        "queue.html",
        actor,
        page=page,
        behind=behind,
        counts=counts,
        filters=filters,
        phases=definition.phases,
        statuses=list(definition.statuses),
        dispute_types=DISPUTE_TYPES,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    web: WebDep,
    actor: ActorDep,
    t: TranslatorDep,
    who: Text = None,
    center: Text = None,
    case: Text = None,
    event: Text = None,
    since: Text = None,
    until: Text = None,
    order: Text = None,
    cursor: Text = None,
) -> HTMLResponse:
    """Everything that happened to the cases below a supervisor: by whom, to which case, when;
    the latest first, unless the form asks for the oldest."""
    filters = {
        "who": blank_none(who),
        "center": blank_none(center),
        "case": blank_none(case),
        "event": blank_none(event),
        "since": blank_none(since),
        "until": blank_none(until),
        "order": blank_none(order),
    }
    try:
        if actor.role not in SUPERVISING:
            raise PermissionDeniedError("the audit trail is for supervisors")
        query = _audit_query(web, actor, filters, blank_none(cursor))
        query.check()
        behind = not web.caught_up(request, "audit")
        page = audit(web.projections, query) if web.projections is not None else None
    except InvalidFieldError as error:
        field = FORM_FIELDS.get(error.field, error.field)
        return _audit(request, web, t, actor, filters, None, {field: error})
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    return _audit(request, web, t, actor, filters, page, {}, behind)


def _audit(
    request: Request,
    web: Web,
    t: TranslatorDep,
    actor: ActorDep,
    filters: dict[str, str | None],
    page: object,
    errors: dict[str, InvalidFieldError],
    behind: bool = False,
) -> HTMLResponse:
    return render(
        request,
        web,
        t,
        "audit.html",
        actor,
        status_code=422 if errors else 200,
        page=page,
        behind=behind,
        filters=filters,
        event_types=event_types(),
        centers=sorted(web.scope(actor)) if actor.role in SUPERVISING else [],
        errors={name: field_reason(error, t) for name, error in errors.items()},
    )


def _audit_query(
    web: Web, actor: ActorDep, filters: dict[str, str | None], cursor: str | None
) -> AuditQuery:
    case_id = None
    if filters["case"]:
        try:
            case_id = UUID(filters["case"])
        except ValueError:
            raise InvalidFieldError("case", N_("is not a case number")) from None
    return AuditQuery(
        centers=web.narrowed(actor, filters["center"]),
        actor=filters["who"],
        case_id=case_id,
        event_type=filters["event"],
        since=local_midnight(web, "since", filters["since"]),
        until=local_midnight(web, "until", filters["until"], days_after=1),
        limit=PAGE,
        cursor=cursor,
        order=_order(filters["order"]),
    )


def _order(text: str | None) -> AuditOrder:
    """The form's order: the newest first unless it names another (which `AuditQuery.check`
    refuses unless it is one of AUDIT_ORDERS)."""
    return cast(AuditOrder, text or "newest")


def local_midnight(web: Web, field: str, text: str | None, days_after: int = 0) -> datetime | None:
    """The start of a day where the centers are (`days_after` later: an inclusive end date)."""
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidFieldError(field, N_("must be a date")) from None
    try:
        day += timedelta(days=days_after)
    except OverflowError:  # the day after the calendar's last: later than any moment
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day, time(), tzinfo=web.zone)
