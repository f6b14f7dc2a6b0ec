"""The rules of practice the guards enforce; every refusal quotes the rule from the definition."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import pytest

from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.decisions import blocking_guard
from mediation.domain.errors import PermissionDeniedError, RuleViolationError
from mediation.domain.values import CourtDecision, Outcome, Referral

if TYPE_CHECKING:
    from tests.domain.desk import Desk


def session(desk: Desk) -> c.ScheduleSession:
    return c.ScheduleSession(desk.START + timedelta(days=2), "调解室 room 1")


def agreement(*signed_by: str) -> c.ReachAgreement:
    return c.ReachAgreement("王五 pays 500 yuan by 31 March", signed_by)


def refused(desk: Desk, case: Case, command: c.Command, guard: str) -> RuleViolationError:
    """Give `command`; assert that `guard` refuses it quoting its rule, and nothing is recorded."""
    version = case.version
    with pytest.raises(RuleViolationError) as refusal:
        desk.do(case, command)
    rule = desk.workflow.definition.guards[guard]
    assert (refusal.value.guard, refusal.value.rule) == (guard, rule)
    assert rule in str(refusal.value)
    assert case.version == version
    return refusal.value


@pytest.fixture
def mediating(desk: Desk) -> Case:
    return desk.walk(desk.register(), "mediating")


@pytest.fixture
def consented(desk: Desk, mediating: Case) -> Case:
    return desk.consent_all(mediating)


def test_schedule_session_is_refused_until_every_party_consents(
    desk: Desk, mediating: Case
) -> None:
    desk.do(mediating, c.RecordConsent("p1", True))

    error = refused(desk, mediating, session(desk), "all_parties_consented")

    assert error.detail == "missing: p2"
    assert "PML art. 17" in error.rule
    desk.do(mediating, c.RecordConsent("p2", True))
    desk.do(mediating, session(desk))
    assert len(mediating.sessions) == 1


def test_one_partys_refusal_blocks_sessions_even_after_the_others_consented(
    desk: Desk, mediating: Case
) -> None:
    desk.do(mediating, c.RecordConsent("p1", True))
    desk.do(mediating, c.RecordConsent("p2", False, "不愿调解: will go to court"))

    error = refused(desk, mediating, session(desk), "no_party_refused")

    assert error.detail == "refused by p2"
    assert error.rule.startswith("PML art. 17")
    refused(desk, mediating, c.RecordSession("held anyway"), "no_party_refused")


def test_a_refusal_blocks_an_agreement_signed_by_everyone(desk: Desk, consented: Case) -> None:
    desk.do(consented, c.RecordConsent("p1", False, "changed her mind"))

    refused(desk, consented, agreement("p1", "p2"), "no_party_refused")


def test_a_refused_mediation_can_still_be_terminated(desk: Desk, mediating: Case) -> None:
    desk.do(mediating, c.RecordConsent("p2", False))

    desk.do(mediating, c.Terminate("respondent refuses mediation", Referral.LITIGATION))

    assert mediating.outcome == "referred"


def test_extension_needs_every_partys_consent(desk: Desk, consented: Case) -> None:
    due = consented.clocks["mediation"]["due_at"]

    error = refused(
        desk, consented, c.ExtendDeadline(10, "valuation", ("p1",)), "all_consent_to_extension"
    )

    assert error.detail == "missing: p2"
    assert consented.clocks["mediation"]["due_at"] == due


def test_the_deadline_is_extended_only_once(desk: Desk, consented: Case) -> None:
    extension = c.ExtendDeadline(10, "waiting for a valuation", ("p1", "p2"))
    desk.do(consented, extension)

    error = refused(desk, consented, extension, "extension_available")

    assert error.detail == "extended 1 time(s) already; limit 1"


def test_a_supervisor_may_extend_too(desk: Desk, consented: Case) -> None:
    desk.do(consented, c.ExtendDeadline(5, "holiday", ("p1", "p2")), desk.supervisor)

    assert consented.extensions == {"mediation": 1}


def test_a_reopened_mediation_may_be_extended_once_again(desk: Desk, consented: Case) -> None:
    desk.do(consented, c.ExtendDeadline(10, "valuation", ("p1", "p2")))
    desk.walk(consented, "closed")
    desk.do(consented, c.Reopen("the respondent stopped paying"))

    desk.do(consented, c.ExtendDeadline(10, "new valuation", ("p1", "p2")))

    assert consented.extensions == {"mediation": 1}


def test_an_agreement_needs_every_partys_signature(desk: Desk, consented: Case) -> None:
    error = refused(desk, consented, agreement("p1"), "signed_by_every_party")

    assert error.detail == "missing: p2"
    assert consented.agreement is None


def test_closing_needs_a_follow_up_visit(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")

    refused(desk, case, c.Close(Outcome.RESOLVED), "followed_up")

    desk.do(case, c.RecordFollowUp(False, "not paid yet"))
    desk.do(case, c.Close(Outcome.BREACHED))
    assert case.outcome == "breached"


def test_only_a_supervisor_may_reopen(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")

    with pytest.raises(PermissionDeniedError, match="roles that may: supervisor"):
        desk.do(case, c.Reopen("agreement unfair"), desk.clerk)

    assert case.status == "closed"


@pytest.mark.parametrize(
    "close",
    [c.Reject("not mediable"), c.Withdraw("settled at home")],
    ids=["rejected", "withdrawn"],
)
def test_a_case_closed_before_mediation_cannot_be_reopened(desk: Desk, close: c.Command) -> None:
    case = desk.do(desk.register(), close)

    error = refused(desk, case, c.Reopen("try again"), "was_mediated")

    assert error.detail == f"closed as {case.outcome} before mediation"


def test_judicial_confirmation_within_30_days_of_the_agreement_is_recorded(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    last_day = desk.START.date() + timedelta(days=30)
    desk.now = datetime.combine(last_day, time(3), UTC)  # the court's decision is recorded that day

    desk.do(case, c.ConfirmJudicially("城关区人民法院", CourtDecision.CONFIRMED, last_day))

    assert case.judicial_confirmation is not None
    assert case.judicial_confirmation["applied_on"] == last_day


def test_judicial_confirmation_outside_the_30_day_window_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    late = desk.START.date() + timedelta(days=31)
    desk.now = datetime.combine(late, time(3), UTC)

    error = refused(
        desk,
        case,
        c.ConfirmJudicially("court", CourtDecision.CONFIRMED, late),
        "within_confirmation_window",
    )

    assert "PML art. 33" in error.rule
    assert error.detail == f"applied {late}, window ended {date(2026, 4, 1)}"


def test_an_application_in_time_counts_even_when_the_court_decides_later(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    command = c.ConfirmJudicially(
        "court", CourtDecision.REFUSED, date(2026, 5, 20), applied_on=date(2026, 3, 20)
    )
    desk.now = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)

    desk.do(case, command)

    assert case.judicial_confirmation is not None
    assert case.judicial_confirmation["decision"] == "refused"


def test_a_court_decides_on_confirmation_once(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    confirm = c.ConfirmJudicially("court", CourtDecision.CONFIRMED, date(2026, 3, 10))
    desk.now = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
    desk.do(case, confirm)

    refused(desk, case, confirm, "not_confirmed_twice")


def test_escalation_climbs_one_level_at_a_time_and_stops_at_the_top(desk: Desk) -> None:
    case = desk.register()
    desk.do(case, c.Escalate("red risk"))
    desk.do(case, c.Escalate("still unresolved"))
    assert (case.escalated_to, case.escalation_level) == (desk.CITY, 2)

    error = refused(desk, case, c.Escalate("and again"), "has_higher_level")

    assert error.detail == f"{desk.CITY} is the top of the hierarchy"


def test_escalating_several_levels_stops_at_the_top(desk: Desk) -> None:
    case = desk.do(desk.register(), c.Escalate("violence threatened", levels=5))

    assert (case.escalated_to, case.escalation_level) == (desk.CITY, 2)


def test_a_recusal_must_change_the_mediator(desk: Desk, mediating: Case) -> None:
    error = refused(desk, mediating, c.AssignMediator("mia", "party asked"), "mediator_changes")

    assert error.detail == "mia is the mediator already"
    desk.do(mediating, c.AssignMediator("tenzin", "applicant is mia's cousin"))
    assert mediating.mediator == "tenzin"
    [*_, event] = mediating.collect_events()
    assert isinstance(event, Case.MediatorAssigned)
    assert event.previous == "mia"


def test_blocking_guard_names_the_rule_that_forbids_an_action_already(
    desk: Desk, mediating: Case
) -> None:
    rule = desk.workflow.definition.guards["all_parties_consented"]

    assert blocking_guard(mediating, "schedule_session", desk.ctx) == (
        "all_parties_consented",
        rule,
    )
    desk.consent_all(mediating)
    assert blocking_guard(mediating, "schedule_session", desk.ctx) is None


def test_blocking_guard_leaves_guards_that_need_the_commands_values(
    desk: Desk, consented: Case
) -> None:
    assert blocking_guard(consented, "reach_agreement", desk.ctx) is None
    assert blocking_guard(consented, "assign_mediator", desk.ctx) is None
