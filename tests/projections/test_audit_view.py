"""The audit trail: every event across cases, filtered, in log order or newest first; parties
masked."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import Actor, Role
from mediation.projections import (
    AuditEntry,
    AuditOrder,
    AuditQuery,
    Projections,
    audit,
    audit_csv,
    audit_entries,
    audit_export,
    audit_query,
    standard,
)
from tests.projections.projection_support import (
    EVERYWHERE,
    Desk,
    World,
    registration,
    selects_of,
    sqlite_plan,
)

APPLICANT = ("བསྟན་འཛིན་", "138 0891 0001", "540102199001011234")
RESPONDENT = ("王五", "13908910002", "X12345678")


# On SQLite a time window is read through the index of moments when it holds at most
# NARROW_WINDOW events, else in log order (`audit_query._by_moment`): tests of both ways.
BOTH_WINDOW_PATHS = pytest.mark.parametrize(
    "narrow", [0, 10_000], ids=["window-read-in-log-order", "by-moment"]
)


def entries(projections: Projections, **filters: Any) -> list[AuditEntry]:
    centers = filters.pop("centers", EVERYWHERE)
    return audit(projections, AuditQuery(centers, limit=200, **filters)).items


def every_page(projections: Projections, query: AuditQuery) -> list[list[int]]:
    """The positions of each page of a query's list, its cursors followed to the end."""
    pages: list[list[int]] = []
    cursor = query.cursor
    while True:
        page = audit(projections, replace(query, cursor=cursor))
        pages.append([e.position for e in page.items])
        if (cursor := page.next_cursor) is None:
            return pages


@pytest.fixture(scope="module")
def history(world: World) -> dict[str, Any]:
    """Two cases at cg-a (one amended with new parties), one at dz; an hour between cases."""
    desk, clock = world.desk, world.clock
    start = clock.now()
    here = desk.register(registration(applicant=APPLICANT, respondent=RESPONDENT))
    desk.act(
        here, c.Amend(parties=registration(applicant=APPLICANT, respondent=RESPONDENT).parties)
    )
    desk.mediate(here)
    clock.advance(hours=1)
    other = desk.register()
    desk.act(other, c.Escalate("risk of violence"), "sup")
    clock.advance(hours=1)
    far = desk.register(by="dz_clerk")
    world.projections.catch_up()
    return {"here": here, "other": other, "far": far, "start": start}


@pytest.fixture
def projections(world: World) -> Projections:
    return world.projections


def test_each_event_is_listed_in_log_order_with_its_actor_and_status_before_and_after(
    projections: Projections, history: dict[str, Any]
) -> None:
    listed = entries(projections, case_id=history["here"])

    assert [(e.version, e.type, e.status_before, e.status_after) for e in listed] == [
        (1, "Registered", None, "registered"),
        (2, "Amended", "registered", "registered"),
        (3, "Accepted", "registered", "awaiting_routing"),
        (4, "Routed", "awaiting_routing", "mediating"),
        (5, "ConsentRecorded", "mediating", "mediating"),
        (6, "ConsentRecorded", "mediating", "mediating"),
    ]
    assert [e.position for e in listed] == sorted(e.position for e in listed)
    assert (listed[4].actor.user, listed[4].actor.role, listed[4].center) == (
        "mia",
        "mediator",
        "cg-a",
    )
    assert listed[3].data["mediator"] == "mia"


def test_parties_are_shown_with_phone_and_id_numbers_masked(
    projections: Projections, history: dict[str, Any]
) -> None:
    listed = entries(projections, case_id=history["here"])
    parties = listed[0].data["parties"] + listed[1].data["parties"]

    assert {(p["name"], p["phone"], p["id_number"]) for p in parties} == {
        (APPLICANT[0], "***", "***"),
        (RESPONDENT[0], "***", "***"),
    }
    assert "fingerprint" not in listed[0].data


def test_the_view_keeps_no_fact_of_the_events_only_what_the_trail_is_filtered_by(
    world: World, projections: Projections, history: dict[str, Any]
) -> None:
    """The events' facts are read from the log for each page: the view's own tables hold no
    party's name, phone or ID number, masked or not, nor any other fact of an event."""
    listed = entries(projections, case_id=history["here"])
    tables = projections.views["audit"].tables(1)
    with world.services.engine.connect() as conn:
        stored = json.dumps(
            [
                [str(v) for v in row]
                for t in (tables.events, tables.cases)
                for row in conn.execute(select(t))
            ],
            ensure_ascii=False,
        )

    assert listed[3].data["mediator"] == "mia"  # shown, from the log
    for secret in (*APPLICANT, *RESPONDENT, "13800000001", "13900000002", "***"):
        assert secret not in stored
    assert str(history["here"]) in stored  # the rows were read
    assert "Registered" in stored


def test_filters_by_actor_type_center_and_time(
    projections: Projections, history: dict[str, Any]
) -> None:
    start = history["start"]

    by_sup = entries(projections, actor="sup")
    escalations = entries(projections, event_type="Escalated")
    at_dz = entries(projections, centers=frozenset({"dz"}))
    second_hour = entries(
        projections, since=start + timedelta(hours=1), until=start + timedelta(hours=2)
    )

    assert [(e.case_id, e.type) for e in by_sup] == [(history["other"], "Escalated")]
    assert [e.case_id for e in escalations] == [history["other"]]
    assert {e.case_id for e in at_dz} == {history["far"]}
    assert [(e.case_id, e.type) for e in second_hour] == [
        (history["other"], "Registered"),
        (history["other"], "Escalated"),
    ]


@BOTH_WINDOW_PATHS
def test_a_time_window_lists_the_same_events_whichever_way_it_is_read(
    projections: Projections,
    history: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    narrow: int,
) -> None:
    """On SQLite a window of few events is read through the index of moments, one of many in
    log order (see `audit_query._by_moment`): both list the window's events alike, whatever
    the other filters."""
    monkeypatch.setattr(audit_query, "NARROW_WINDOW", narrow)
    start = history["start"]
    first_two_hours = {"since": start, "until": start + timedelta(hours=2)}

    assert [(e.case_id, e.type) for e in entries(projections, **first_two_hours)] == [
        (history["here"], t)
        for t in (
            "Registered",
            "Amended",
            "Accepted",
            "Routed",
            "ConsentRecorded",
            "ConsentRecorded",
        )
    ] + [(history["other"], "Registered"), (history["other"], "Escalated")]
    assert [e.type for e in entries(projections, actor="sup", **first_two_hours)] == ["Escalated"]
    assert [
        e.case_id for e in entries(projections, event_type="Registered", **first_two_hours)
    ] == [
        history["here"],
        history["other"],
    ]
    assert entries(projections, centers=frozenset({"dz"}), **first_two_hours) == []
    assert [e.case_id for e in entries(projections, since=start + timedelta(hours=2))] == [
        history["far"]
    ]
    assert [
        e.version for e in entries(projections, case_id=history["other"], **first_two_hours)
    ] == [1, 2]


def test_on_sqlite_a_window_of_few_events_is_read_through_the_index_of_moments(
    world: World, projections: Projections, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan SQLite makes for the page's query: the index of moments for a window holding
    at most NARROW_WINDOW events, else the centers' index in log order (which stops after a
    page when the window holds many). PostgreSQL's planner keeps statistics of its own: its
    query is the same either way."""
    engine = world.services.engine
    table = projections.views["audit"].tables(1).events
    window = {"since": history["start"], "until": history["start"] + timedelta(hours=2)}
    pages = []  # the page's statement (the probe of the window has no ORDER BY)
    for narrow in (10_000, 0):
        monkeypatch.setattr(audit_query, "NARROW_WINDOW", narrow)
        with selects_of(engine, table.name) as statements:
            entries(projections, **window)
        pages += [statement for statement in statements if "ORDER BY" in statement[0]]
    (few, many) = pages

    if engine.dialect.name != "sqlite":
        assert few == many
        return
    plans = [sqlite_plan(engine, few), sqlite_plan(engine, many)]
    assert f"INDEX ix_{table.name}_at " in plans[0]
    assert f"ix_{table.name}_at " not in plans[1]
    assert f"INDEX ix_{table.name}_center " in plans[1]


def test_pages_follow_each_other_in_log_order(
    projections: Projections, history: dict[str, Any]
) -> None:
    everything = entries(projections)

    pages = every_page(projections, AuditQuery(EVERYWHERE, limit=4))

    assert [p for page in pages for p in page] == [e.position for e in everything]
    assert [len(page) for page in pages] == [4, 4, 1]


@BOTH_WINDOW_PATHS
def test_newest_first_lists_the_same_events_as_log_order_reversed_under_every_filter(
    projections: Projections,
    history: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    narrow: int,
) -> None:
    monkeypatch.setattr(audit_query, "NARROW_WINDOW", narrow)
    start = history["start"]
    first_two_hours = {"since": start, "until": start + timedelta(hours=2)}
    questions: list[dict[str, Any]] = [
        {},
        first_two_hours,
        {"actor": "sup"},
        {"event_type": "Registered"},
        {"event_type": "Registered", **first_two_hours},
        {"case_id": history["here"]},
        {"case_id": history["other"], **first_two_hours},
        {"centers": frozenset({"cg-a"})},
        {"centers": frozenset({"dz"}), **first_two_hours},
        {"since": start + timedelta(hours=1)},
    ]
    for question in questions:
        oldest = [(e.position, e.type) for e in entries(projections, **question)]
        newest = [(e.position, e.type) for e in entries(projections, order="newest", **question)]
        assert newest == oldest[::-1], question
    assert len(entries(projections)) == 9


def test_pages_newest_first_go_back_through_the_log_without_gap_or_repeat(
    projections: Projections, history: dict[str, Any]
) -> None:
    everything = [e.position for e in entries(projections)]

    pages = every_page(projections, AuditQuery(EVERYWHERE, limit=4, order="newest"))

    assert [p for page in pages for p in page] == everything[::-1]
    assert [len(page) for page in pages] == [4, 4, 1]


@pytest.mark.parametrize("order", ["oldest", "newest"])
def test_an_export_reads_every_matching_event_page_after_page_in_its_order(
    projections: Projections, history: dict[str, Any], order: AuditOrder
) -> None:
    everything = [e.position for e in entries(projections, order=order)]
    registered = [e.position for e in entries(projections, order=order, event_type="Registered")]

    exported = audit_entries(projections, AuditQuery(EVERYWHERE, limit=2, order=order))
    only_registered = AuditQuery(EVERYWHERE, event_type="Registered", limit=2, order=order)

    assert [e.position for e in exported] == everything
    assert [e.position for e in audit_entries(projections, only_registered)] == registered
    assert len(everything) == 9


def test_an_export_of_more_events_than_it_may_hold_is_refused_before_reading_any(
    projections: Projections, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    here = AuditQuery(frozenset({"cg-a"}))
    count = len(entries(projections, centers=frozenset({"cg-a"})))
    second_page = replace(
        here, limit=1, cursor=audit(projections, replace(here, limit=1)).next_cursor
    )

    monkeypatch.setattr(standard, "EXPORT_MOST", count)
    whole = [e.position for e in audit_export(projections, second_page)]
    monkeypatch.setattr(standard, "EXPORT_MOST", count - 1)
    with pytest.raises(InvalidFieldError) as refused:
        audit_export(projections, here)

    assert whole == [e.position for e in entries(projections, centers=frozenset({"cg-a"}))]
    assert refused.value.field == "since"
    assert (
        refused.value.reason == f"more than {count - 1:,} events match: export a shorter time range"
    )


def test_a_cursor_continues_only_the_order_it_was_given_for(
    projections: Projections, history: dict[str, Any]
) -> None:
    """A page's cursor names where its list stopped in its own order: taken to the other
    order it would skip or repeat events, so it is refused, naming the cursor."""
    orders: tuple[tuple[AuditOrder, AuditOrder], ...] = (("oldest", "newest"), ("newest", "oldest"))
    for given, other in orders:
        cursor = audit(projections, AuditQuery(EVERYWHERE, limit=2, order=given)).next_cursor
        assert cursor is not None
        with pytest.raises(InvalidFieldError) as refused:
            audit(projections, AuditQuery(EVERYWHERE, cursor=cursor, order=other))
        assert (refused.value.field, refused.value.reason) == (
            "cursor",
            "is not a cursor of this list",
        )


def test_an_order_other_than_oldest_or_newest_is_refused_naming_it(
    projections: Projections, history: dict[str, Any]
) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        audit(projections, AuditQuery(EVERYWHERE, order="latest"))  # type: ignore[arg-type]
    assert refused.value.field == "order"
    assert "oldest, newest" in refused.value.reason


def test_a_moment_without_a_time_zone_is_refused(
    projections: Projections, history: dict[str, Any]
) -> None:
    naive = history["start"].replace(tzinfo=None)

    with pytest.raises(InvalidFieldError) as refused:
        audit(projections, AuditQuery(EVERYWHERE, since=naive))
    assert refused.value.field == "since"


def test_an_unknown_case_lists_nothing(projections: Projections, history: dict[str, Any]) -> None:
    assert entries(projections, case_id=UUID(int=1)) == []


def test_the_events_are_kept_by_position_and_the_cases_by_id_alone(
    world: World, projections: Projections, history: dict[str, Any]
) -> None:
    """On SQLite the position is the events table's rowid: one B-tree of the rows by position,
    no second one of the positions; and the cases' rows are a B-tree by case id alone (WITHOUT
    ROWID). On PostgreSQL the position is a BIGINT key (positions pass 2**31)."""
    tables = projections.views["audit"].tables(1)
    table = tables.events
    engine = world.services.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            automatic = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND name LIKE 'sqlite_autoindex%'",
                (table.name,),
            ).all()
            positions = conn.exec_driver_sql(f"SELECT rowid, position FROM {table.name}").all()
            assert automatic == []
            assert positions
            assert all(rowid == position for rowid, position in positions)
            with pytest.raises(OperationalError, match="no such column: rowid"):
                conn.exec_driver_sql(f"SELECT rowid FROM {tables.cases.name}")
        else:
            kind = conn.exec_driver_sql(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = %(t)s AND column_name = 'position'",
                {"t": table.name},
            ).scalar()
            assert kind == "bigint"


def test_an_event_gone_from_the_log_fails_the_page_naming_its_position(
    services: Services, desk: Desk
) -> None:
    """The trail shows each event's facts from the log: an event deleted from the store behind
    the service's back (which `mediation audit verify` reports) is named, not shown empty."""
    projections = services.projections
    case_id = desk.register()
    desk.mediate(case_id)
    projections.catch_up()
    listed = entries(projections, case_id=case_id)
    gone = listed[1].position
    recorder = services.cases.recorder
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {recorder.events_table_name} WHERE rowid = ?", (gone,))
    else:
        assert isinstance(recorder, PostgresApplicationRecorder)
        table = f"{recorder.datastore.schema}.{recorder.events_table_name}"
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE notification_id = %s", (gone,))

    with pytest.raises(LookupError, match=f"position {gone}, which holds no case event"):
        entries(projections, case_id=case_id)
    first = audit(projections, AuditQuery(EVERYWHERE, case_id=case_id, limit=1)).items
    assert [e.position for e in first] == [listed[0].position]  # a page without it is shown


def test_the_csv_writes_text_a_spreadsheet_would_run_as_text_and_moments_in_utc() -> None:
    entry = AuditEntry(
        position=7,
        case_id=UUID(int=7),
        center="=cmd|' /C calc'!A0",
        version=2,
        type="Accepted",
        actor=Actor("@SUM(1+1)", Role.CLERK, "cg-a"),
        at=datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        status_before=None,
        status_after="awaiting_routing",
        data={"note": "-2+3"},
    )

    (header, line) = csv.reader(io.StringIO("".join(audit_csv([entry]))))

    assert header[:3] == ["position", "at", "case_id"]
    assert dict(zip(header, line, strict=True)) == {
        "position": "7",
        "at": "2026-03-02T01:30:00Z",
        "case_id": str(UUID(int=7)),
        "case_version": "2",
        "center": "'=cmd|' /C calc'!A0",
        "type": "Accepted",
        "actor": "'@SUM(1+1)",
        "actor_role": "clerk",
        "actor_center": "cg-a",
        "status_before": "",
        "status_after": "awaiting_routing",
        "data": '{"note":"-2+3"}',
    }
