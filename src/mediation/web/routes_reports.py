"""Statistics with charts, and the notifications feed of escalations and supervision."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Connection

from mediation.domain.errors import InvalidFieldError, MediationError
from mediation.domain.values import Actor
from mediation.projections import AuditEntry, AuditQuery, StatsQuery, audit, stats, stats_csv
from mediation.rules.notifications import NotificationsView, NotificationTables, read_positions
from mediation.rules.notifications import mark_read as mark_feed_read
from mediation.web.charts import bars, by_period, summed
from mediation.web.core import ActorDep, FormDep, TranslatorDep, Web, WebDep, redirect, render
from mediation.web.errors import error_page
from mediation.web.i18n import N_
from mediation.web.messages import field_reason
from mediation.web.routes_lists import UTF8_BOM, Text, blank_none
from mediation.web.timeline import details

router = APIRouter(include_in_schema=False)
PERIODS = ("month", "week", "day")
NOTIFIED = ("Escalated", "SupervisionInstructed")
NOTIFICATION_DAYS = 60
NOTIFICATIONS_SHOWN = 100
_READ = "notifications_read"


def stats_form(
    web: WebDep,
    center: Text = None,
    start: Text = None,
    end: Text = None,
    period: Text = None,
) -> dict[str, str | None]:
    """The statistics form's values, each blank one its default: the figures by month of the
    last six months (this one and five before) of every center the user sees."""
    today = web.services.clock.now().astimezone(web.zone).date()
    first_month = (today.replace(day=1) - timedelta(days=150)).replace(day=1)
    return {
        "center": blank_none(center),
        "period": blank_none(period) or "month",
        "start": blank_none(start) or first_month.isoformat(),
        "end": blank_none(end) or today.isoformat(),
    }


StatsForm = Annotated[dict[str, str | None], Depends(stats_form)]


@router.get("/stats", response_class=HTMLResponse)
def stats_page(
    request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep, filters: StatsForm
) -> HTMLResponse:
    """Figures per center and period, as charts and a table."""
    errors: dict[str, str] = {}
    report, behind = None, False
    try:
        query = _stats_query(web, actor, filters)
        if web.projections is not None:
            behind = not web.caught_up(request, "stats")
            report = stats(web.projections, query, web.services.clock.now())
    except InvalidFieldError as error:
        errors[error.field] = field_reason(error, t)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    totals = summed(report.totals) if report else None
    return render(
        request,
        web,
        t,
        "stats.html",
        actor,
        status_code=422 if errors else 200,
        filters=filters,
        export=urlencode({name: value for name, value in filters.items() if value}),
        errors=errors,
        report=report,
        behind=behind,
        totals=totals,
        periods=PERIODS,
        centers=sorted(web.scope(actor)),
        outcome_bars=bars(list(totals.closed.items())) if totals else [],
        measure_bars=bars([(k, v) for k, v in totals.counts.items()]) if totals else [],
        period_bars=by_period(report.rows) if report else [],
    )


@router.get("/stats/export", response_model=None)
def stats_export(
    request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep, filters: StatsForm
) -> Response:
    """The statistics page's figures as a CSV file for a spreadsheet (as the API's CSV, after
    a byte-order mark, see `UTF8_BOM`); a form it cannot answer is the page with the reason."""
    if web.projections is None:  # the page says the views are not running
        return stats_page(request, web, actor, t, filters)
    try:
        query = _stats_query(web, actor, filters)
        web.caught_up(request, "stats")
        report = stats(web.projections, query, web.services.clock.now())
    except InvalidFieldError:
        return stats_page(request, web, actor, t, filters)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    headers = {"Content-Disposition": 'attachment; filename="statistics.csv"'}
    text = UTF8_BOM + stats_csv(report)
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


def _stats_query(web: Web, actor: Actor, filters: dict[str, str | None]) -> StatsQuery:
    """The figures the form asks for (InvalidFieldError naming the field it cannot answer)."""
    centers = web.narrowed(actor, filters["center"])
    period = filters["period"]
    if period not in PERIODS:
        raise InvalidFieldError("period", N_("choose one of the options"))
    start, end = _day("start", str(filters["start"])), _day("end", str(filters["end"]))
    query = StatsQuery(centers, start, end, (period,))
    query.check()
    return query


def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidFieldError(field, N_("must be a date")) from None


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(
    request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep
) -> HTMLResponse:
    """Escalations and supervision instructions on the user's cases, newest first."""
    entries = notifications(web, actor, request) if web.projections is not None else None
    read_up_to = request.session.get(_READ, 0)
    escalations = [e.position for e in entries or [] if e.type == "Escalated"]
    with web.services.engine.connect() as conn:  # escalations' read marks are kept per user
        marked = read_positions(conn, actor.user, escalations)
    items = [
        {"entry": e, "unread": _unread(e, marked, read_up_to), "details": details(e.data, {}, t)}
        for e in entries or []
    ]
    return render(
        request,
        web,
        t,
        "notifications.html",
        actor,
        items=items,
        available=entries is not None,
        unread=sum(1 for item in items if item["unread"]),
    )


def _unread(entry: AuditEntry, marked: set[int], read_up_to: int) -> bool:
    if entry.type == "Escalated":
        return entry.position not in marked
    return entry.position > read_up_to  # instructions given: marked in this browser's session


@router.post("/notifications/read")
def mark_read(request: Request, web: WebDep, actor: ActorDep, form: FormDep) -> RedirectResponse:
    """Mark every notification shown so far as read (escalations for the user, kept)."""
    up_to = str(form.get("up_to", "0"))
    if up_to.isdecimal() and up_to.isascii():  # not "²", which isdigit() lets through
        request.session[_READ] = max(int(up_to), int(request.session.get(_READ, 0)))
    if web.projections is not None:
        centers = web.scope(actor)

        def run(conn: Connection, tables: NotificationTables) -> int:
            done = mark_feed_read(conn, tables, actor.user, centers, None)
            conn.commit()
            return done

        web.projections.read(NotificationsView.name, run)
    return redirect("/notifications")


def notifications(web: Web, actor: Actor, request: Request) -> list[AuditEntry]:
    """The latest escalations and supervision instructions within the user's scope: the
    newest NOTIFICATIONS_SHOWN of each kind, then of both."""
    assert web.projections is not None
    web.caught_up(request, "audit")
    since = web.services.clock.now() - timedelta(days=NOTIFICATION_DAYS)
    found: list[AuditEntry] = []
    for event_type in NOTIFIED:
        query = AuditQuery(
            web.scope(actor),
            event_type=event_type,
            since=since,
            limit=NOTIFICATIONS_SHOWN,
            order="newest",
        )
        found += audit(web.projections, query).items
    found.sort(key=lambda entry: entry.position, reverse=True)
    return found[:NOTIFICATIONS_SHOWN]
