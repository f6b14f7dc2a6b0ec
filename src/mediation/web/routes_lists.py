"""The queue and the audit trail: lists read from the projections, with their filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from typing import Annotated, cast
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from mediation.domain.case import event_types
from mediation.domain.errors import InvalidFieldError, MediationError, PermissionDeniedError
from mediation.domain.values import Actor
from mediation.projections import (
    AuditOrder,
    AuditQuery,
    QueueCounts,
    QueueQuery,
    audit,
    audit_csv,
    audit_export,
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


def audit_form(
    who: Text = None,
    center: Text = None,
    case: Text = None,
    event: Text = None,
    since: Text = None,
    until: Text = None,
    order: Text = None,
) -> dict[str, str | None]:
    """The audit page's filters as its form sent them (blank: none)."""
    given = {"who": who, "center": center, "case": case, "event": event}
    given |= {"since": since, "until": until, "order": order}
    return {name: blank_none(value) for name, value in given.items()}


AuditForm = Annotated[dict[str, str | None], Depends(audit_form)]
# Spreadsheet programs, Excel above all, read a CSV file as UTF-8 only when it begins with a
# byte-order mark; without one they take the Chinese and Tibetan text for the local code page.
UTF8_BOM = "\ufeff"


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    web: WebDep,
    actor: ActorDep,
    t: TranslatorDep,
    filters: AuditForm,
    cursor: Text = None,
) -> HTMLResponse:
    """Everything that happened to the cases below a supervisor: by whom, to which case, when;
    the latest first, unless the form asks for the oldest."""
    try:
        _supervisor(actor)
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


@router.get("/audit/export", response_model=None)
def audit_export_file(
    request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep, filters: AuditForm
) -> HTMLResponse | StreamingResponse:
    """The audit page's events, every one its filters match, as a CSV file for a spreadsheet;
    a form it cannot export is shown again with the reason beside the field."""
    try:
        _supervisor(actor)
        if web.projections is None:
            return _audit(request, web, t, actor, filters, None, {})
        query = _audit_query(web, actor, filters, None)
        web.caught_up(request, "audit")
        entries = audit_export(web.projections, query)
    except InvalidFieldError as error:
        field = FORM_FIELDS.get(error.field, error.field)
        return _audit(request, web, t, actor, filters, None, {field: error})
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    lines = chain([UTF8_BOM], audit_csv(entries))
    headers = {"Content-Disposition": 'attachment; filename="audit.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)


def _supervisor(actor: Actor) -> None:
    if actor.role not in SUPERVISING:
        raise PermissionDeniedError("the audit trail is for supervisors")


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
        export=urlencode({name: value for name, value in filters.items() if value}),
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
