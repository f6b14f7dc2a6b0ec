"""Deadlines: which actions start and stop each clock, and when each falls due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest

from mediation.domain import VOCABULARY
from mediation.domain import commands as c
from mediation.domain.calendar import WorkingCalendar
from mediation.domain.case import Case
from mediation.domain.clocks import add_days, clock_changes, due_after
from mediation.domain.values import Complexity, Referral
from mediation.workflows import ClockSpec, Workflow, WorkflowRegistry
from mediation.workflows.registry import BUILT_IN

if TYPE_CHECKING:
    from tests.domain.desk import Desk

LHASA = timezone(timedelta(hours=8))
FRIDAY = datetime(2026, 3, 6, 17, 30, tzinfo=LHASA)


def due(case: Case, clock: str) -> datetime:
    moment = case.clocks[clock]["due_at"]
    assert isinstance(moment, datetime)
    return moment


def test_registration_starts_the_one_day_intake_decision(desk: Desk) -> None:
    case = desk.register()

    assert case.clocks == {
        "intake_decision": {"started_at": desk.START, "due_at": desk.START + timedelta(days=1)}
    }


@pytest.mark.parametrize(
    ("complexity", "days"),
    [(Complexity.SIMPLE, 1), (Complexity.GENERAL, 7), (Complexity.COMPLEX, 20)],
)
def test_accepting_stops_intake_and_starts_routing_by_complexity(
    desk: Desk, complexity: Complexity, days: int
) -> None:
    case = desk.register(complexity=complexity)

    desk.do(case, c.Accept())

    assert set(case.clocks) == {"routing"}
    assert due(case, "routing") == desk.START + timedelta(days=days)


def test_routing_starts_the_30_day_mediation_clock(desk: Desk) -> None:
    case = desk.walk(desk.register(), "awaiting_routing")
    desk.now = desk.START + timedelta(days=3)

    desk.do(case, c.Route("mia"))

    assert set(case.clocks) == {"mediation"}
    assert case.clocks["mediation"]["started_at"] == desk.now
    assert due(case, "mediation") == desk.now + timedelta(days=30)


def test_a_transfer_runs_its_own_three_day_clock(desk: Desk) -> None:
    case = desk.walk(desk.register(), "transfer_pending")

    assert set(case.clocks) == {"transfer_receipt"}
    assert due(case, "transfer_receipt") == desk.START + timedelta(days=3)


def test_a_returned_transfer_restarts_routing(desk: Desk) -> None:
    case = desk.walk(desk.register(complexity=Complexity.COMPLEX), "transfer_pending")
    desk.now = desk.START + timedelta(days=2)

    desk.do(case, c.ReturnTransfer("outside our remit"))

    assert set(case.clocks) == {"routing"}
    assert due(case, "routing") == desk.now + timedelta(days=20)


def test_a_received_transfer_starts_mediation(desk: Desk) -> None:
    case = desk.walk(desk.register(), "transfer_pending")

    desk.do(case, c.ReceiveTransfer("tenzin"))

    assert set(case.clocks) == {"mediation"}


def test_an_extension_moves_the_mediation_due_date_by_the_days_given(desk: Desk) -> None:
    case = desk.consent_all(desk.walk(desk.register(), "mediating"))
    before = due(case, "mediation")

    desk.do(case, c.ExtendDeadline(12, "waiting for a valuation", ("p1", "p2")))

    assert due(case, "mediation") == before + timedelta(days=12)
    assert case.clocks["mediation"]["started_at"] == desk.START


def test_an_agreement_starts_follow_up_and_confirmation_from_its_effective_date(
    desk: Desk,
) -> None:
    case = desk.consent_all(desk.walk(desk.register(), "mediating"))
    desk.now = datetime(2026, 3, 20, 15, 0, tzinfo=UTC)
    signed = date(2026, 3, 18)

    desk.do(case, c.ReachAgreement("pay 500 yuan", ("p1", "p2"), signed_on=signed))

    anchor = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)
    assert set(case.clocks) == {"follow_up", "judicial_confirmation"}
    assert case.clocks["follow_up"] == {"started_at": anchor, "due_at": anchor + timedelta(15)}
    assert due(case, "judicial_confirmation") == anchor + timedelta(days=30)


def test_a_follow_up_visit_stops_its_clock(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")

    desk.do(case, c.RecordFollowUp(True, "paid"))

    assert set(case.clocks) == {"judicial_confirmation"}


@pytest.mark.parametrize(
    ("status", "ending"),
    [
        ("registered", c.Reject("already before a court")),
        ("awaiting_routing", c.Withdraw("settled")),
        ("transfer_pending", c.Withdraw("settled")),
        ("mediating", c.Terminate("no common ground", Referral.ARBITRATION)),
        ("agreement_in_force", c.Withdraw("moved away")),
    ],
)
def test_reaching_a_final_status_stops_every_clock(
    desk: Desk, status: str, ending: c.Command
) -> None:
    case = desk.walk(desk.register(), status)
    assert case.clocks

    desk.do(case, ending)

    assert case.status == "closed"
    assert case.clocks == {}
    [*_, event] = case.collect_events()
    assert isinstance(event, Case.Event)
    assert event.clocks_started == {}


def test_closing_stops_an_unused_confirmation_window(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")

    assert case.clocks == {}


def test_reopening_starts_a_fresh_mediation_clock(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")
    desk.now = desk.START + timedelta(days=40)

    desk.do(case, c.Reopen("breach"), desk.supervisor)

    assert due(case, "mediation") == desk.now + timedelta(days=30)


def test_events_record_the_clocks_they_moved(desk: Desk) -> None:
    case = desk.register()
    desk.do(case, c.Accept())

    registered, accepted = case.collect_events()

    assert isinstance(registered, Case.Event)
    assert isinstance(accepted, Case.Event)
    assert list(registered.clocks_started) == ["intake_decision"]
    assert accepted.clocks_stopped == ["intake_decision"]
    assert list(accepted.clocks_started) == ["routing"]


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (FRIDAY, 1, datetime(2026, 3, 9, 17, 30, tzinfo=LHASA)),  # Monday
        (FRIDAY, 5, datetime(2026, 3, 13, 17, 30, tzinfo=LHASA)),  # next Friday
        (datetime(2026, 3, 7, 8, 0, tzinfo=LHASA), 1, datetime(2026, 3, 9, 8, 0, tzinfo=LHASA)),
        (datetime(2026, 3, 2, 9, 0, tzinfo=LHASA), 4, datetime(2026, 3, 6, 9, 0, tzinfo=LHASA)),
    ],
    ids=["friday+1", "friday+5", "saturday+1", "monday+4"],
)
def test_working_days_skip_the_weekend(start: datetime, days: int, expected: datetime) -> None:
    assert add_days(start, days, "working") == expected


def test_working_days_are_counted_in_the_centers_local_time() -> None:
    friday_evening_utc = datetime(2026, 3, 6, 17, 30, tzinfo=UTC)  # Saturday 01:30 in Lhasa

    due = add_days(friday_evening_utc, 1, "working")

    assert due == datetime(2026, 3, 9, 1, 30, tzinfo=LHASA)  # Monday, same local time
    assert due.tzinfo is UTC


def test_calendar_days_count_the_weekend() -> None:
    assert add_days(FRIDAY, 1, "calendar") == datetime(2026, 3, 7, 17, 30, tzinfo=LHASA)


@pytest.fixture(scope="module")
def working_days(tmp_path_factory: pytest.TempPathFactory) -> Workflow:
    """Dispute v2: the intake decision counted in working days."""
    folder = tmp_path_factory.mktemp("definitions")
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    old = 'days = 1\nunit = "calendar"'
    assert text.count(old) == 1
    text = text.replace("version = 1\n", "version = 2\n").replace(old, 'days = 1\nunit = "working"')
    (folder / "dispute.v2.toml").write_text(text, encoding="utf-8")
    return WorkflowRegistry.load(VOCABULARY, folder).latest("dispute")


def test_a_working_day_clock_started_on_friday_falls_due_on_monday(working_days: Workflow) -> None:
    started, stopped = clock_changes(working_days, "register", {}, "general", FRIDAY, final=False)

    assert stopped == []
    assert started == {
        "intake_decision": {
            "started_at": FRIDAY,
            "due_at": datetime(2026, 3, 9, 17, 30, tzinfo=LHASA),
        }
    }


def test_a_running_clock_is_not_restarted(desk: Desk) -> None:
    running = {"mediation": {"started_at": FRIDAY, "due_at": FRIDAY + timedelta(days=30)}}

    started, stopped = clock_changes(desk.workflow, "reopen", running, "general", desk.START, False)

    assert (started, stopped) == ({}, [])


JUDICIAL = (
    'stops = ["apply_judicially", "confirm_judicially", "close"]\ndays = 30\nunit = "calendar"'
)


@pytest.fixture(scope="module")
def judicial_on_working_day(tmp_path_factory: pytest.TempPathFactory) -> Workflow:
    """Dispute v2: the judicial-confirmation window's clock ends on a working day."""
    folder = tmp_path_factory.mktemp("definitions")
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    assert text.count(JUDICIAL) == 1
    text = text.replace("version = 1\n", "version = 2\n")
    text = text.replace(JUDICIAL, f"{JUDICIAL}\nends_on_working_day = true")
    (folder / "dispute.v2.toml").write_text(text, encoding="utf-8")
    return WorkflowRegistry.load(VOCABULARY, folder).latest("dispute")


def test_a_clock_that_ends_on_a_working_day_moves_from_a_sunday_to_monday(
    judicial_on_working_day: Workflow,
) -> None:
    started, _stopped = clock_changes(
        judicial_on_working_day, "reach_agreement", {}, "general", FRIDAY, final=False
    )

    sunday = FRIDAY + timedelta(days=30)
    assert sunday.weekday() == 6
    assert started["judicial_confirmation"]["due_at"] == sunday + timedelta(days=1)
    assert started["follow_up"]["due_at"] == FRIDAY + timedelta(days=15)  # a Saturday: stays


def test_without_the_option_a_clock_falls_due_on_a_rest_day(desk: Desk) -> None:
    started, _stopped = clock_changes(
        desk.workflow, "reach_agreement", {}, "general", FRIDAY, final=False
    )

    assert started["judicial_confirmation"]["due_at"] == FRIDAY + timedelta(days=30)


def test_a_clock_that_ends_on_a_working_day_skips_holidays_too_and_keeps_the_time() -> None:
    spec = ClockSpec(
        "mediation", "rule", frozenset(), frozenset(), {"*": 30}, ends_on_working_day=True
    )
    holidays = WorkingCalendar(holidays=frozenset({date(2026, 4, 6)}), zone=LHASA)

    due = due_after(spec, FRIDAY, 30, holidays)  # Sunday 5 April, then the Monday holiday

    assert due == datetime(2026, 4, 7, 17, 30, tzinfo=LHASA)
    assert due_after(spec, due, 4, holidays) == datetime(2026, 4, 13, 17, 30, tzinfo=LHASA)
