"""The queue: open cases of the caller's centers, filtered, soonest deadline first, in pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from mediation.domain import commands as c
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import CourtDecision, Referral, Risk
from mediation.projections import QueueCounts, QueueItem, QueueQuery, queue, queue_summary
from mediation.projections.queue import next_deadline
from tests.projections.projection_support import World, registration, selects_of, sqlite_plan

HERE = frozenset({"cg-a"})
DZ = frozenset({"dz"})


def listed(world: World, **filters: Any) -> list[QueueItem]:
    world.projections.catch_up()
    centers = filters.pop("centers", HERE)
    now = filters.pop("now", world.clock.now())
    return queue(world.projections, QueueQuery(centers, limit=200, **filters), now).items


def ids(items: list[QueueItem]) -> list[UUID]:
    return [item.id for item in items]


@pytest.fixture(scope="module")
def cases(world: World) -> dict[str, UUID]:
    """Cases in every phase of cg-a, one at dz, one closed, an hour apart."""
    desk, clock = world.desk, world.clock
    made: dict[str, UUID] = {}
    made["intake"] = desk.register(registration(summary="长" * 100, risk=Risk.RED))
    clock.advance(hours=1)
    made["routing"] = desk.register(registration(dispute_type="labour"))
    desk.act(made["routing"], c.Accept())
    clock.advance(hours=1)
    made["mia"] = desk.register()
    desk.mediate(made["mia"], "mia")
    clock.advance(hours=1)
    made["mo"] = desk.register()
    desk.mediate(made["mo"], "mo")
    desk.act(made["mo"], c.Escalate("too slow"), "sup")
    made["rejected"] = desk.register()
    desk.act(made["rejected"], c.Reject("already before a court"))
    made["elsewhere"] = desk.register(by="dz_clerk")
    return made


def test_the_queue_lists_the_open_cases_of_the_given_centers_soonest_deadline_first(
    world: World, cases: dict[str, UUID]
) -> None:
    items = listed(world)

    assert ids(items) == [cases["intake"], cases["routing"], cases["mia"], cases["mo"]]
    first = items[0]
    assert (first.phase, first.status, first.next_clock) == (
        "intake",
        "registered",
        "intake_decision",
    )
    assert first.next_deadline == world.clock.now() - timedelta(hours=3) + timedelta(days=1)
    assert first.summary == "长" * 80
    assert (first.risk, first.overdue, first.escalation_level) == ("red", False, 0)
    assert (items[3].assignee, items[3].escalation_level) == ("mo", 1)


def test_a_supervisor_sees_the_centers_below_and_no_one_sees_other_centers(
    world: World, cases: dict[str, UUID]
) -> None:
    everywhere = listed(world, centers=frozenset({"city", "cg", "cg-a", "dz"}))
    dz_only = listed(world, centers=frozenset({"dz"}))

    assert cases["elsewhere"] in ids(everywhere)
    assert cases["elsewhere"] in ids(dz_only)
    assert not set(ids(dz_only)) & {cases[name] for name in ("intake", "routing", "mia", "mo")}


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({"phase": "mediation"}, ["mia", "mo"]),
    ({"status": "awaiting_routing"}, ["routing"]),
    ({"assignee": "mo"}, ["mo"]),
    ({"dispute_type": "labour"}, ["routing"]),
    ({"risk": "red"}, ["intake"]),
    ({"escalated": True}, ["mo"]),
    ({"escalated": False}, ["intake", "routing", "mia"]),
    ({"phase": "mediation", "escalated": False}, ["mia"]),
]


def test_each_filter_narrows_the_queue(world: World, cases: dict[str, UUID]) -> None:
    got = [ids(listed(world, **filters)) for filters, _names in FILTERS]

    assert got == [[cases[name] for name in names] for _filters, names in FILTERS]


def test_overdue_lists_the_cases_past_their_next_deadline(
    world: World, cases: dict[str, UUID]
) -> None:
    later = world.clock.now() + timedelta(hours=22)  # intake (1 day) is past; routing (7) is not

    overdue = listed(world, overdue=True, now=later)
    on_time = listed(world, overdue=False, now=later)

    assert ids(overdue) == [cases["intake"]]
    assert overdue[0].overdue
    assert ids(on_time) == [cases["routing"], cases["mia"], cases["mo"]]


def test_a_closed_case_leaves_the_queue_and_a_reopened_one_comes_back(
    world: World, cases: dict[str, UUID]
) -> None:
    desk = world.desk
    case_id = desk.register(by="dz_clerk")
    desk.mediate(case_id, "dawa", by="dz_clerk")
    desk.act(case_id, c.Terminate("no agreement", Referral.LITIGATION), "dawa")
    assert case_id not in ids(listed(world, centers=DZ))

    desk.act(case_id, c.Reopen("the parties asked again"), "dz_sup")

    back = [item for item in listed(world, centers=DZ) if item.id == case_id]
    assert [(i.status, i.assignee, i.next_clock) for i in back] == [
        ("mediating", "dawa", "mediation")
    ]


def test_a_case_without_a_running_deadline_comes_last(world: World, cases: dict[str, UUID]) -> None:
    desk = world.desk
    case_id = desk.register(by="dz_clerk")
    desk.mediate(case_id, "dawa", by="dz_clerk")
    desk.act(case_id, c.ReachAgreement("pay", ("p1", "p2")), "dawa")
    today = world.clock.now().date()
    court = c.ConfirmJudicially("达孜区人民法院", CourtDecision.CONFIRMED, today)
    desk.act(case_id, court, "dz_clerk")
    desk.act(case_id, c.RecordFollowUp(performed=True), "dawa")

    items = listed(world, centers=DZ)

    assert (items[-1].id, items[-1].next_deadline, items[-1].overdue) == (case_id, None, False)


def test_pages_follow_each_other_without_gaps_or_repeats(
    world: World, cases: dict[str, UUID]
) -> None:
    world.projections.catch_up()
    seen, cursor = [], None
    for _page in range(3):
        query = QueueQuery(HERE, limit=2, cursor=cursor)
        page = queue(world.projections, query, world.clock.now())
        seen.append(ids(page.items))
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [[cases["intake"], cases["routing"]], [cases["mia"], cases["mo"]]]


@pytest.mark.parametrize("cursor", ["nonsense", "WyJhdWRpdCIsM10", "W10"])
def test_a_cursor_not_given_by_the_queue_is_refused(world: World, cursor: str) -> None:
    with pytest.raises(InvalidFieldError) as refused:
        queue(world.projections, QueueQuery(HERE, cursor=cursor), world.clock.now())
    assert refused.value.field == "cursor"


@pytest.mark.parametrize("limit", [0, 201])
def test_a_page_size_outside_1_to_200_is_refused(world: World, limit: int) -> None:
    with pytest.raises(InvalidFieldError):
        queue(world.projections, QueueQuery(HERE, limit=limit), world.clock.now())


def counted(items: list[QueueItem], key: str) -> dict[str, QueueCounts]:
    found: dict[str, QueueCounts] = {}
    for item in items:
        one = QueueCounts(1, int(item.overdue))
        found[getattr(item, key)] = found.get(getattr(item, key), QueueCounts(0, 0)) + one
    return found


@pytest.mark.parametrize(
    ("centers", "assignee"),
    [(HERE, None), (frozenset({"city", "cg", "cg-a", "dz"}), None), (DZ, None), (HERE, "mo")],
)
def test_the_summary_counts_the_open_and_overdue_cases_the_queue_lists_by_phase_and_center(
    world: World, cases: dict[str, UUID], centers: frozenset[str], assignee: str | None
) -> None:
    later = world.clock.now() + timedelta(hours=22)  # the intake deadline (1 day) has passed
    items = listed(world, centers=centers, assignee=assignee, now=later)

    summary = queue_summary(world.projections, centers, later, assignee)

    assert summary.total == QueueCounts(len(items), sum(item.overdue for item in items))
    assert summary.phases == counted(items, "phase")
    assert summary.centers == counted(items, "center")
    assert items  # each scope lists something to count


def test_the_summary_counts_a_case_overdue_from_just_after_its_deadline(
    world: World, cases: dict[str, UUID]
) -> None:
    items = listed(world)
    due = next(item.next_deadline for item in items if item.id == cases["intake"])
    assert due is not None
    sharing = sum(1 for item in items if item.next_deadline == due)

    at_due = queue_summary(world.projections, HERE, due)
    just_after = queue_summary(world.projections, HERE, due + timedelta(microseconds=1))

    assert just_after.total.overdue == at_due.total.overdue + sharing
    assert just_after.phases["intake"].overdue == at_due.phases["intake"].overdue + 1
    assert just_after.total.open == at_due.total.open == len(items)


QUEUE_READS = [
    pytest.param({}, id="one center"),
    pytest.param({"centers": frozenset({"cg-a", "dz"})}, id="centers merged"),
    pytest.param({"assignee": "mia"}, id="assignee"),
    pytest.param({"phase": "mediation", "overdue": False}, id="phase"),
    pytest.param({"risk": "red"}, id="risk"),
]


@pytest.mark.parametrize("filters", QUEUE_READS)
def test_the_queue_reads_its_pages_and_counts_from_indexes_of_the_open_cases_alone(
    world: World, cases: dict[str, UUID], filters: dict[str, Any]
) -> None:
    """Closed cases keep their rows (a reopened case comes back) but are in no index of the
    queue: each is partial, of the open cases, and SQLite reads every page and count through
    one of them; on PostgreSQL, whose planner decides with statistics of its own, the indexes
    are partial alike."""
    engine = world.services.engine
    world.projections.catch_up()
    table = world.projections.read("queue", lambda _conn, tables: tables.cases)
    centers = filters.get("centers", HERE)
    with selects_of(engine, table.name) as statements:
        listed(world, **filters)
        queue_summary(world.projections, centers, world.clock.now(), filters.get("assignee"))

    indexes = {index.name for index in table.indexes}
    if engine.dialect.name != "sqlite":
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = %(t)s",
                {"t": table.name},
            ).all()
        partial = {
            name for name, definition in found if definition.endswith("WHERE (is_open = true)")
        }
        assert partial == indexes
        return
    assert statements
    for statement in statements:
        plan = sqlite_plan(engine, statement)
        assert any(f"INDEX {name} " in plan for name in indexes), plan
    with engine.connect() as conn:
        sql = [
            row[0]
            for row in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table.name,)
            )
            if row[0] is not None
        ]
    assert len(sql) == len(indexes)
    assert all(text.endswith("WHERE is_open = 1") for text in sql), sql


@pytest.mark.parametrize(
    ("clocks", "expected"),
    [
        ({}, (None, None)),
        (
            {"routing": "2026-03-02T01:00:00.000001+00:00"},
            ("2026-03-02T01:00:00.000001", "routing"),
        ),
        (
            {
                "mediation": "2026-03-09T01:00:00.000001+00:00",
                "routing": "2026-03-02T01:00:00.000001+00:00",
                "intake": "2026-03-02T01:00:00.000001+00:00",
            },
            ("2026-03-02T01:00:00.000001", "intake"),
        ),
    ],
    ids=["none", "one", "earliest-then-name"],
)
def test_the_next_deadline_is_the_earliest_running_clock_ties_by_name(
    clocks: dict[str, str], expected: tuple[str | None, str | None]
) -> None:
    due, name = next_deadline(clocks)

    moment = (
        None if expected[0] is None else datetime.fromisoformat(expected[0]).replace(tzinfo=UTC)
    )
    assert (due, name) == (moment, expected[1])
