"""Statistics with charts, and the notifications feed of escalations and supervision."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection

from mediation.domain.errors import InvalidFieldError, MediationError
from mediation.domain.values import Actor
from mediation.projections import AuditEntry, AuditQuery, StatsQuery, audit, stats
from mediation.rules.notifications import NotificationsView, NotificationTables, read_positions
from mediation.rules.notifications import mark_read as mark_feed_read
from mediation.web.charts import bars, by_period, summed
from mediation.web.core import ActorDep, FormDep, TranslatorDep, Web, WebDep, redirect, render
from mediation.web.errors import error_page
from mediation.web.i18n import N_
from mediation.web.messages import field_reason
from mediation.web.routes_lists import Text, blank_none
from mediation.web.timeline import details

router = APIRouter(include_in_schema=False)
PERIODS = ("month", "week", "day")
NOTIFIED = ("Escalated", "SupervisionInstructed")
NOTIFICATION_DAYS = 60
NOTIFICATIONS_SHOWN = 100
_READ = "notifications_read"


@router.get("/stats", response_class=HTMLResponse)
def stats_page(
    request: Request,
    web: WebDep,
    actor: ActorDep,
    t: TranslatorDep,
    center: Text = None,
    start: Text = None,
    end: Text = None,
    period: Text = None,
) -> HTMLResponse:
    """Figures per center and period, as charts and a table."""
    today = web.services.clock.now().astimezone(web.zone).date()
    scope = web.scope(actor)
    first_month = (today.replace(day=1) - timedelta(days=150)).replace(day=1)
    chosen_period = blank_none(period) or "month"
    filters: dict[str, str | None] = {"center": blank_none(center), "period": chosen_period}
    start_text = filters["start"] = blank_none(start) or first_month.isoformat()
    end_text = filters["end"] = blank_none(end) or today.isoformat()
    errors: dict[str, str] = {}
    report, behind = None, False
    try:
        centers = web.narrowed(actor, filters["center"])
        if chosen_period not in PERIODS:
            raise InvalidFieldError("period", N_("choose one of the options"))
        query = StatsQuery(
            centers, _day("start", start_text), _day("end", end_text), (chosen_period,)
        )
        query.check()
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
        errors=errors,
        report=report,
        behind=behind,
        totals=totals,
        periods=PERIODS,
        centers=sorted(scope),
        outcome_bars=bars(list(totals.closed.items())) if totals else [],
        measure_bars=bars([(k, v) for k, v in totals.counts.items()]) if totals else [],
        period_bars=by_period(report.rows) if report else [],
    )


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
