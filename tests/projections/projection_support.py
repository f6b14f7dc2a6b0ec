"""Helpers for the projection tests: walking cases through the application, and the views as a
direct fold over the case histories, written independently of the views' own code."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine
from sqlalchemy import event as sqlalchemy_event

from mediation.application import CaseApplication
from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.values import Actor, Channel, Outcome, PartyRole, Risk
from mediation.projections import (
    AuditEntry,
    AuditQuery,
    Projections,
    QueueItem,
    QueueQuery,
    StatsQuery,
    audit,
    queue,
    stats,
)

SALT = b"test-salt-0123456789"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 17:00 in Lhasa
CST = timezone(timedelta(hours=8))
EVERYWHERE = frozenset({"city", "cg", "cg-a", "dz"})
TENZIN = ("བསྟན་འཛིན་", "13800000001", "540102199001011234")  # name, phone, ID number


def registration(
    summary: str = "邻里噪音纠纷 noise between neighbours",
    dispute_type: str = "neighbour",
    channel: Channel = Channel.WINDOW,
    risk: Risk = Risk.LOW,
    applicant: tuple[str, str | None, str | None] = (
        "བསྟན་འཛིན་",
        "13800000001",
        "540102199001011234",
    ),
    respondent: tuple[str, str | None, str | None] = ("王五", "13900000002", None),
    center: str | None = None,
) -> c.Register:
    return c.Register(
        dispute_type=dispute_type,
        channel=channel,
        summary=summary,
        risk=risk,
        center=center,
        parties=(
            c.NewParty(PartyRole.APPLICANT, *applicant),
            c.NewParty(PartyRole.RESPONDENT, *respondent),
        ),
    )


class MovableClock:
    """A clock that stands still until a test sets or moves it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


@dataclass
class Desk:
    """Gives cases commands as the right person of the small test organisation."""

    cases: CaseApplication
    actors: dict[str, Actor]

    def register(self, command: c.Register | None = None, by: str = "clerk") -> UUID:
        return self.cases.register(command or registration(), self.actors[by]).view.id

    def act(self, case_id: UUID, command: c.Command, by: str = "clerk") -> int:
        position = self.cases.act(case_id, command, self.actors[by]).position
        assert position is not None
        return position

    def mediate(self, case_id: UUID, mediator: str = "mia", by: str = "clerk") -> None:
        self.act(case_id, c.Accept(), by)
        self.act(case_id, c.Route(mediator), by)
        self.act(case_id, c.RecordConsent("p1", consent=True), mediator)
        self.act(case_id, c.RecordConsent("p2", consent=True), mediator)

    def resolve(self, case_id: UUID, performed: bool = True, mediator: str = "mia") -> None:
        self.mediate(case_id, mediator)
        self.act(case_id, c.ReachAgreement("pay 100 yuan", ("p1", "p2")), mediator)
        self.act(case_id, c.RecordFollowUp(performed=performed), mediator)
        self.act(case_id, c.Close(Outcome.RESOLVED if performed else Outcome.BREACHED))


@dataclass
class World:
    """Services, views and a desk shared by the read-only tests of one module."""

    services: Services
    projections: Projections
    desk: Desk
    clock: MovableClock
    tokens: dict[str, str]


Statement = tuple[str, Any]  # as the driver got it: its text and its parameters


@contextmanager
def selects_of(engine: Engine, table: str) -> Iterator[list[Statement]]:
    """The SELECT statements naming `table` that `engine` runs during the body, in order."""
    found: list[Statement] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("SELECT") and table in statement:
            found.append((statement, parameters))

    sqlalchemy_event.listen(engine, "before_cursor_execute", seen)
    try:
        yield found
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", seen)


def sqlite_plan(engine: Engine, statement: Statement) -> str:
    """SQLite's plan for a statement (EXPLAIN QUERY PLAN), its steps in one line."""
    with engine.connect() as conn:
        steps = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement[0]}", statement[1]).all()
    return " ".join(str(step[-1]) for step in steps)


# -- the direct fold --------------------------------------------------------------------------


def all_events(cases: CaseApplication) -> list[tuple[int, Case.Event]]:
    """Every event of the log with its position, in order."""
    notifications = cases.recorder.select_notifications(1, 10**9)
    return [(n.id, cases.mapper.to_domain_event(n)) for n in notifications]  # type: ignore[misc]


def case_ids(cases: CaseApplication) -> list[UUID]:
    return sorted({event.originator_id for _position, event in all_events(cases)})


def expected_queue(cases: CaseApplication, now: datetime) -> list[QueueItem]:
    """The open cases from the aggregates themselves, soonest deadline first."""
    items = []
    for case_id in case_ids(cases):
        case: Case = cases.repository.get(case_id)
        definition = cases.workflows.get(case.workflow).definition
        if definition.statuses[case.status].final:
            continue
        due, clock = min(
            ((clk["due_at"], name) for name, clk in case.clocks.items()), default=(None, None)
        )
        items.append(
            QueueItem(
                id=case.id,
                center=case.center,
                summary=case.summary[:80],
                dispute_type=case.dispute_type,
                channel=case.channel,
                risk=case.risk,
                phase=definition.phase_of(case.status),
                status=case.status,
                assignee=case.mediator,
                next_deadline=due,
                next_clock=clock,
                overdue=due is not None and due < now,
                escalation_level=case.escalation_level,
                last_activity=case.modified_on,
                registered_at=case.created_on,
            )
        )
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(items, key=lambda i: (i.next_deadline or far, i.id))


def expected_audit(cases: CaseApplication, auditor: Actor) -> list[dict[str, Any]]:
    """Every event as the application's own history shows it to an auditor of another center."""
    positions = {
        (event.originator_id, event.originator_version): position
        for position, event in all_events(cases)
    }
    rows = []
    for case_id in case_ids(cases):
        center: str = cases.repository.get(case_id).center
        for entry in cases.history(case_id, auditor):
            data = {k: v for k, v in entry.data.items() if k != "fingerprint"}
            rows.append(
                {
                    "position": positions[(case_id, entry.version)],
                    "case_id": case_id,
                    "center": center,
                    "version": entry.version,
                    "type": entry.type,
                    "actor": entry.actor,
                    "at": entry.at,
                    "status_before": entry.status_before,
                    "status_after": entry.status_after,
                    "data": data,
                }
            )
    return sorted(rows, key=lambda r: r["position"])


def identity(party: Any) -> Any:
    if party.id_number:
        return ("id", party.id_number.upper())
    if party.phone:
        name = unicodedata.normalize("NFKC", party.name).strip().casefold()
        return ("np", name, "".join(ch for ch in party.phone if ch.isdigit()))
    return None


@dataclass
class Figures:
    counts: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    days: list[float] = field(default_factory=list)


OUTCOME_OF = {"Rejected": "rejected", "Terminated": "referred", "Withdrawn": "withdrawn"}
KIND_OF = {
    "Registered": "registered",
    "Accepted": "accepted",
    "Rejected": "rejected",
    "TransferOffered": "transferred",
    "AgreementReached": "agreement",
    "Escalated": "escalated",
}


def expected_stats(cases: CaseApplication) -> dict[tuple[str, date], Figures]:
    """Figures per (center, local month), folded over the log in order."""
    figures: dict[tuple[str, date], Figures] = defaultdict(Figures)
    state: dict[UUID, dict[str, Any]] = {}
    for _position, event in all_events(cases):
        name = type(event).__name__
        case = state.setdefault(event.originator_id, {"status": None, "resolved": False})
        before = case["status"]
        if isinstance(event, Case.Registered):
            people = {identity(p) for p in event.parties} - {None}
            again = any(
                other["status"] == "closed" and other["people"] & people
                for other in state.values()
                if other is not case
            )
            case.update(center=event.center, at=event.timestamp, people=people, re_dispute=again)
        if isinstance(event, Case.Amended) and event.parties is not None:
            case["people"] = {identity(p) for p in event.parties} - {None}
        case["status"] = event.status
        local = event.timestamp.astimezone(CST).date()
        row = figures[(case["center"], local.replace(day=1))]
        if name in KIND_OF:
            row.counts[KIND_OF[name]] += 1
        if name == "Registered" and case["re_dispute"]:
            row.counts["re_dispute"] += 1
        concluded = name in ("AgreementReached", "Terminated") or (
            name == "Withdrawn" and before == "mediating"
        )
        if concluded:
            row.counts["concluded"] += 1
        if name == "AgreementReached":
            case["resolved"] = False
        if isinstance(event, Case.FollowUpRecorded) and event.performed and not case["resolved"]:
            case["resolved"] = True
            row.counts["resolved"] += 1
        if event.status == "closed" and before != "closed":
            outcome = event.outcome if isinstance(event, Case.Closed) else OUTCOME_OF[name]
            row.closed[outcome] += 1
            row.days.append((event.timestamp - case["at"]).total_seconds() / 86400)
    return dict(figures)


ORG_CENTERS: tuple[tuple[str, str, str | None], ...] = (
    ("city", "拉萨市", None),
    ("cg", "城关区", "city"),
    ("cg-a", "八廓街道", "cg"),
    ("dz", "达孜区", "city"),
)
ORG_USERS = (
    ("clerk", "clerk", "cg-a"),
    ("mia", "mediator", "cg-a"),
    ("mo", "mediator", "cg-a"),
    ("sup", "supervisor", "cg"),
    ("city_sup", "supervisor", "city"),
    ("dz_clerk", "clerk", "dz"),
    ("dz_sup", "supervisor", "dz"),
    ("dawa", "mediator", "dz"),
)


def make_org(directory: Any, tokens: dict[str, str] | None = None) -> dict[str, Actor]:
    """The root conftest's organisation, for tests that build their own services; each user's
    API token goes into `tokens` when given."""
    for code, name, parent in ORG_CENTERS:
        directory.add_center(code, name, parent)
    actors = {}
    for username, role, center in ORG_USERS:
        user, token = directory.add_user(username, role, center)
        actors[username] = Actor(username, user.role, center)
        if tokens is not None:
            tokens[username] = token
    return actors


# -- the views as their readers see them ----------------------------------------------------


def whole_queue(projections: Projections, now: datetime) -> list[QueueItem]:
    items, cursor = [], None
    while True:
        page = queue(projections, QueueQuery(EVERYWHERE, limit=3, cursor=cursor), now)
        items += page.items
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


def whole_audit(projections: Projections) -> list[dict[str, Any]]:
    entries: list[AuditEntry] = []
    cursor = None
    while True:
        page = audit(projections, AuditQuery(EVERYWHERE, limit=7, cursor=cursor))
        entries += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return [
        {
            "position": e.position,
            "case_id": e.case_id,
            "center": e.center,
            "version": e.version,
            "type": e.type,
            "actor": e.actor,
            "at": e.at,
            "status_before": e.status_before,
            "status_after": e.status_after,
            "data": e.data,
        }
        for e in entries
    ]


def check_views_equal_fold(projections: Projections, desk: Desk, now: datetime) -> None:
    open_cases = expected_queue(desk.cases, now)
    assert whole_queue(projections, now) == open_cases
    assert whole_audit(projections) == expected_audit(desk.cases, desk.actors["city_sup"])
    query = StatsQuery(EVERYWHERE, date(2000, 1, 1), date(2100, 1, 1), ("month",))
    report = stats(projections, query, now)
    got = {
        (row.center, row.period): (
            {k: v for k, v in row.counts.items() if v},
            {k: v for k, v in row.closed.items() if v},
            sorted(row.days_to_close),
        )
        for row in report.rows
    }
    want: dict[tuple[str, date | None], Any] = {
        key: (dict(f.counts), dict(f.closed), pytest.approx(sorted(f.days)))
        for key, f in expected_stats(desk.cases).items()
        if f.counts or f.closed
    }
    assert got == want
    overdue_now = {row.center: row.overdue_now for row in report.totals if row.overdue_now}
    assert overdue_now == Counter(item.center for item in open_cases if item.overdue)
