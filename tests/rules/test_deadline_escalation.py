"""Every deadline of domain.md escalates once when it passes, again after a second period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from mediation.domain import commands as c
from mediation.domain.calendar import CHINA_STANDARD_TIME
from mediation.domain.values import Channel, Complexity, CourtDecision, Outcome, PartyRole, Risk
from mediation.store import Database
from mediation.workflows.registry import BUILT_IN
from tests.rules.conftest import Register, Rules, build_rules
from tests.support import FakeClock, Org, build_test_services


def history_types(rules: Rules, case_id: UUID, org: Org) -> list[tuple[str, str]]:
    entries = rules.services.cases.history(case_id, org.actors["clerk"])
    return [(e.type, e.actor.user) for e in entries]


def test_an_undecided_intake_escalates_once_after_a_day_and_again_after_two(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register()
    start = clock.now()

    assert rules.run(start + timedelta(hours=23)) == []
    first = rules.run(start + timedelta(days=1, seconds=1))
    assert rules.run(start + timedelta(days=1, hours=12)) == []  # the same breach: once
    second = rules.run(start + timedelta(days=2, seconds=1))

    assert [(e.rule, e.to_center) for e in first] == [("deadline_intake_decision", "cg")]
    assert [(e.rule, e.to_center) for e in second] == [("deadline_intake_decision", "city")]
    history = rules.services.cases.history(case_id, org.actors["clerk"])
    escalations = [e for e in history if e.type == "Escalated"]
    assert [e.actor.user for e in escalations] == ["rules:deadline_intake_decision"] * 2
    assert "deadline 'intake_decision' passed" in escalations[0].data["reason"]
    assert "within 1 day" in escalations[0].data["reason"]  # the rule it serves, quoted


@pytest.mark.parametrize(
    ("complexity", "days"),
    [(Complexity.SIMPLE, 1), (Complexity.GENERAL, 7), (Complexity.COMPLEX, 20)],
)
def test_routing_escalates_after_the_days_its_complexity_allows(
    rules: Rules, register: Register, clock: FakeClock, org: Org, complexity: Complexity, days: int
) -> None:
    case_id = register(complexity=complexity)
    rules.services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    accepted = clock.now()

    early = rules.run(accepted + timedelta(days=days) - timedelta(minutes=1))
    late = rules.run(accepted + timedelta(days=days, minutes=1))

    assert early == []
    assert [e.rule for e in late] == ["deadline_routing"]


@pytest.mark.parametrize(("complexity", "days"), [(Complexity.SIMPLE, 1), (Complexity.COMPLEX, 20)])
def test_routing_a_case_whose_complexity_was_amended_escalates_after_its_new_days(
    rules: Rules, register: Register, clock: FakeClock, org: Org, complexity: Complexity, days: int
) -> None:
    case_id = register(complexity=Complexity.GENERAL)  # 7 days to route
    rules.services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    accepted = clock.now()
    clock.advance(hours=2)
    rules.services.cases.act(case_id, c.Amend(complexity=complexity), org.actors["clerk"])

    early = rules.run(accepted + timedelta(days=days) - timedelta(minutes=1))
    late = rules.run(accepted + timedelta(days=days, minutes=1))

    assert early == []
    assert [e.rule for e in late] == ["deadline_routing"]


def test_a_transfer_not_received_within_three_days_escalates(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register()
    rules.services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    rules.services.cases.act(
        case_id, c.Transfer("城关区司法所", "labour matter"), org.actors["clerk"]
    )
    offered = clock.now()

    assert rules.run(offered + timedelta(days=2, hours=23)) == []
    assert [e.rule for e in rules.run(offered + timedelta(days=3, minutes=1))] == [
        "deadline_transfer_receipt"
    ]


def mediating(rules: Rules, register: Register, org: Org) -> UUID:
    case_id = register()
    cases, clerk, mia = rules.services.cases, org.actors["clerk"], org.actors["mia"]
    cases.act(case_id, c.Accept(), clerk)
    cases.act(case_id, c.Route("mia"), clerk)
    for party in ("p1", "p2"):
        cases.act(case_id, c.RecordConsent(party, consent=True), mia)
    return case_id


def test_mediation_escalates_thirty_days_after_assignment(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    mediating(rules, register, org)
    routed = clock.now()

    assert rules.run(routed + timedelta(days=29, hours=23)) == []
    assert [e.rule for e in rules.run(routed + timedelta(days=30, minutes=1))] == [
        "deadline_mediation"
    ]


def test_an_extension_with_consent_moves_the_mediation_deadline_and_prevents_the_escalation(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = mediating(rules, register, org)
    routed = clock.now()
    extension = c.ExtendDeadline(10, "awaiting a valuation report", ("p1", "p2"))
    rules.services.cases.act(case_id, extension, org.actors["mia"])

    assert rules.run(routed + timedelta(days=35)) == []
    assert [e.rule for e in rules.run(routed + timedelta(days=40, minutes=1))] == [
        "deadline_mediation"
    ]


def test_an_extension_agreed_after_the_first_escalation_escalates_when_it_passes_too(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = mediating(rules, register, org)
    routed = clock.now()
    first = rules.run(routed + timedelta(days=30, minutes=1))
    clock.advance(days=31)  # overdue, escalated: then the parties agree to ten days more
    extension = c.ExtendDeadline(10, "awaiting a valuation report", ("p1", "p2"))
    rules.services.cases.act(case_id, extension, org.actors["mia"])

    assert [e.rule for e in first] == ["deadline_mediation"]
    assert rules.run(routed + timedelta(days=39, hours=23)) == []
    extended = rules.run(routed + timedelta(days=40, minutes=1))
    assert [(e.rule, e.to_center) for e in extended] == [("deadline_mediation", "city")]
    assert rules.run(routed + timedelta(days=40, hours=12)) == []  # that breach: once


def test_grading_a_red_case_red_again_is_not_a_new_breach(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register(risk=Risk.RED)
    first = rules.run()
    clock.advance(hours=1)
    again = c.GradeRisk(Risk.RED, "threats repeated on the phone")
    rules.services.cases.act(case_id, again, org.actors["clerk"])

    assert [e.rule for e in first] == ["red_risk"]
    assert rules.run(clock.now() + timedelta(minutes=1)) == []
    assert rules.engine.index.due(clock.now() + timedelta(minutes=1), 10) == []  # no timer left


def test_a_case_graded_red_after_another_grade_escalates_again(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register(risk=Risk.RED)
    rules.run()
    for risk in (Risk.MEDIUM, Risk.RED):
        clock.advance(hours=1)
        rules.services.cases.act(case_id, c.GradeRisk(risk, "reassessed"), org.actors["clerk"])

    assert [(e.rule, e.to_center) for e in rules.run()] == [("red_risk", "city")]


def agreed(rules: Rules, register: Register, org: Org) -> UUID:
    case_id = mediating(rules, register, org)
    agreement = c.ReachAgreement("赔偿 300 元 pay 300 yuan", ("p1", "p2"))
    rules.services.cases.act(case_id, agreement, org.actors["mia"])
    return case_id


def test_an_application_for_judicial_confirmation_in_time_stops_its_window_whenever_the_court_decides(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = agreed(rules, register, org)
    agreed_at = clock.now()
    clerk = org.actors["clerk"]
    clock.advance(days=29)
    rules.services.cases.act(case_id, c.ApplyJudicially("城关区人民法院"), clerk)
    applied = clock.now().astimezone(CHINA_STANDARD_TIME).date()

    late = rules.run(agreed_at + timedelta(days=31))
    clock.advance(days=11)  # the court decides on day 40
    decision = c.ConfirmJudicially(
        "城关区人民法院",
        CourtDecision.CONFIRMED,
        clock.now().astimezone(CHINA_STANDARD_TIME).date(),
    )
    view = rules.services.cases.act(case_id, decision, clerk).view

    assert "deadline_judicial_confirmation" not in [e.rule for e in late]
    assert view.judicial_confirmation is not None
    assert view.judicial_confirmation["applied_on"] == applied


def test_a_follow_up_not_made_within_fifteen_days_escalates(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    agreed(rules, register, org)
    effective = clock.now()

    assert rules.run(effective + timedelta(days=14, hours=23)) == []
    assert [e.rule for e in rules.run(effective + timedelta(days=15, minutes=1))] == [
        "deadline_follow_up"
    ]


def test_the_judicial_confirmation_window_escalates_when_it_closes_unused(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = agreed(rules, register, org)
    effective = clock.now()
    rules.services.cases.act(case_id, c.RecordFollowUp(performed=True), org.actors["mia"])

    assert rules.run(effective + timedelta(days=29)) == []
    assert [e.rule for e in rules.run(effective + timedelta(days=30, minutes=1))] == [
        "deadline_judicial_confirmation"
    ]


def test_a_judicial_confirmation_recorded_in_time_stops_its_clock(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = agreed(rules, register, org)
    effective = clock.now()
    clock.advance(days=3)
    confirm = c.ConfirmJudicially("城关区人民法院", CourtDecision.CONFIRMED, clock.now().date())
    rules.services.cases.act(case_id, confirm, org.actors["clerk"])
    rules.services.cases.act(case_id, c.RecordFollowUp(performed=True), org.actors["mia"])
    rules.services.cases.act(case_id, c.Close(Outcome.RESOLVED), org.actors["clerk"])

    assert rules.run(effective + timedelta(days=90)) == []


def test_a_case_graded_red_escalates_at_once(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    red_at_intake = register(risk=Risk.RED)
    graded_later = register()
    rules.services.cases.act(graded_later, c.GradeRisk(Risk.RED, "threats"), org.actors["clerk"])

    done = rules.run(clock.now())

    assert sorted((str(e.case_id), e.rule) for e in done) == sorted(
        [(str(red_at_intake), "red_risk"), (str(graded_later), "red_risk")]
    )
    assert rules.run(clock.now() + timedelta(minutes=5)) == []


def test_a_supervision_instruction_escalates_when_its_day_ends(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register()
    rules.services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    due = clock.now().date() + timedelta(days=2)
    rules.services.cases.act(case_id, c.Supervise("三日内回复 reply", due), org.actors["sup"])
    day_ends = datetime(due.year, due.month, due.day, 16, 0, tzinfo=UTC)  # midnight in UTC+8

    assert [e.rule for e in rules.run(day_ends - timedelta(minutes=1))] == []
    assert [e.rule for e in rules.run(day_ends + timedelta(minutes=1))] == ["supervision"]


def test_an_instruction_answered_by_its_day_does_not_escalate_and_one_answered_late_does(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    cases, sup, clerk = rules.services.cases, org.actors["sup"], org.actors["clerk"]
    case_id = register()
    cases.act(case_id, c.Accept(), clerk)  # seven days to route: no other deadline meanwhile
    due = clock.now().date() + timedelta(days=1)
    cases.act(case_id, c.Supervise("report on the wall", due), sup)
    cases.act(case_id, c.Supervise("report on the noise", due), sup)
    cases.act(case_id, c.AnswerSupervision(1, "the wall is repaired"), clerk)
    day_ends = datetime(due.year, due.month, due.day, 16, 0, tzinfo=UTC)  # midnight in UTC+8
    clock.moment = day_ends + timedelta(hours=1)
    cases.act(case_id, c.AnswerSupervision(2, "the noise stopped"), clerk)  # a day late

    escalated = rules.run(day_ends + timedelta(hours=2))

    assert [(e.rule, e.breach) for e in escalated] == [("supervision", "supervision:1")]


def test_an_instruction_given_before_the_case_closed_does_not_escalate_after_it_reopens(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    cases, sup = rules.services.cases, org.actors["sup"]
    case_id = register()
    cases.act(case_id, c.Accept(), org.actors["clerk"])
    cases.act(case_id, c.Route("mia"), org.actors["clerk"])
    due = clock.now().date() + timedelta(days=2)
    cases.act(case_id, c.Supervise("三日内回复 reply", due), sup)
    cases.act(case_id, c.Withdraw("settled at home"), org.actors["clerk"])
    clock.advance(days=10)  # long past the instruction's day
    cases.act(case_id, c.Reopen("the agreement at home broke down"), sup)
    later = clock.now().date() + timedelta(days=1)
    cases.act(case_id, c.Supervise("report on the new mediation", later), sup)

    assert [e.rule for e in rules.run(clock.now() + timedelta(minutes=1))] == []
    assert [e.rule for e in rules.run(clock.now() + timedelta(days=2))] == ["supervision"]


def test_a_closed_case_escalates_nothing(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register(risk=Risk.RED)
    rules.services.cases.act(case_id, c.Reject("already before a court"), org.actors["clerk"])

    assert rules.run(clock.now() + timedelta(days=60)) == []


def test_a_restarted_rules_process_does_not_escalate_a_breach_twice(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register()
    late = clock.now() + timedelta(days=1, hours=1)
    assert len(rules.run(late)) == 1

    restarted = build_rules(rules.services, clock)  # a new process: nothing kept in memory

    assert restarted.run(late) == []
    history = rules.services.cases.history(case_id, org.actors["clerk"])
    assert sum(e.type == "Escalated" for e in history) == 1


def test_working_day_deadlines_skip_weekends_and_holidays(
    database: Database, clock: FakeClock, org: Org, tmp_path: Path
) -> None:
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    working = text.replace("version = 1", "version = 2").replace(
        'stops = ["accept", "reject"]\ndays = 1\nunit = "calendar"',
        'stops = ["accept", "reject"]\ndays = 1\nunit = "working"',
    )
    assert working.count('unit = "working"') == 1
    (tmp_path / "dispute.v2.toml").write_text(working, encoding="utf-8")
    # Wednesday 30 September 2026, 10:00 in Lhasa; 1-7 October are National Day holidays.
    clock.moment = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
    services = build_test_services(database, clock, workflows_dir=tmp_path)
    try:
        rules = build_rules(services, clock)
        command = c.Register(
            dispute_type="wages",
            channel=Channel.HOTLINE,
            summary="拖欠工资 unpaid wages",
            parties=(c.NewParty(PartyRole.APPLICANT, "甲"), c.NewParty(PartyRole.RESPONDENT, "乙")),
        )
        case = services.cases.register(command, org.actors["clerk"]).view
        assert case.workflow == "dispute@2"

        holiday = datetime(2026, 10, 7, 2, 30, tzinfo=UTC)
        next_working_day = datetime(2026, 10, 8, 2, 1, tzinfo=UTC)
        assert case.deadlines[0].due_at == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
        assert rules.run(holiday) == []
        assert [e.rule for e in rules.run(next_working_day)] == ["deadline_intake_decision"]
        # The second overdue period is one working day too: Friday 9 October, 10:00.
        second = datetime(2026, 10, 9, 2, 0, tzinfo=UTC)
        assert rules.run(second - timedelta(minutes=1)) == []
        assert [e.to_center for e in rules.run(second + timedelta(minutes=1))] == ["city"]
    finally:
        services.close()
