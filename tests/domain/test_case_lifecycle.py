"""A case's life through the Case aggregate and its decisions: each step records who and where."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mediation.domain import VOCABULARY
from mediation.domain import commands as c
from mediation.domain.breaches import candidates, due_breaches, supervision_overdue_at
from mediation.domain.calendar import CHINA_STANDARD_TIME
from mediation.domain.case import Case
from mediation.domain.errors import (
    ActionNotAllowedError,
    BreachEscalatedAlreadyError,
    BreachGoneError,
    InvalidFieldError,
    PermissionDeniedError,
    RuleViolationError,
)
from mediation.domain.guards import GUARDS
from mediation.domain.values import Actor, Outcome, PartyRole, Referral, Risk, Role
from mediation.workflows import Workflow, load_definition
from mediation.workflows.registry import BUILT_IN

if TYPE_CHECKING:
    from tests.domain.desk import Desk


def test_a_case_is_registered_in_intake_with_numbered_parties(desk: Desk) -> None:
    case = desk.register()

    assert case.status == "registered"
    assert case.version == 1
    assert case.workflow == "dispute@1"
    assert case.center == desk.TOWN
    assert case.registered_by == desk.clerk
    assert [(p.id, p.role, p.name) for p in case.parties] == [
        ("p1", PartyRole.APPLICANT, "ཚེ་རིང་"),
        ("p2", PartyRole.RESPONDENT, "王五"),
    ]
    assert case.parties[0].id_number == "540102199001011234"


def test_a_case_walks_from_registration_to_closure(desk: Desk) -> None:
    case = desk.register()
    steps: list[tuple[c.Command, Actor, str]] = [
        (c.Accept(), desk.clerk, "awaiting_routing"),
        (c.Route("mia"), desk.clerk, "mediating"),
        (c.RecordConsent("p1", True), desk.mediator, "mediating"),
        (c.RecordConsent("p2", True), desk.mediator, "mediating"),
        (
            c.ScheduleSession(desk.START + timedelta(days=2), "调解室 room 1"),
            desk.mediator,
            "mediating",
        ),
        (c.RecordSession("both sides heard; quiet hours agreed"), desk.mediator, "mediating"),
        (
            c.ReachAgreement("no music after 22:00", ("p1", "p2")),
            desk.mediator,
            "agreement_in_force",
        ),
        (c.RecordFollowUp(True, "quiet since"), desk.mediator, "agreement_in_force"),
        (c.Close(Outcome.RESOLVED), desk.clerk, "closed"),
    ]
    assert len(case.collect_events()) == 1

    for version, (command, actor, status) in enumerate(steps, start=2):
        desk.do(case, command, actor)
        [event] = case.collect_events()
        assert isinstance(event, Case.Event)
        assert (event.actor, event.status, event.originator_version) == (actor, status, version)
        assert case.version == version
        assert case.status == status

    assert case.outcome == "resolved"
    assert case.mediator == "mia"
    assert case.consents == {"p1": True, "p2": True}
    assert [s["held"] for s in case.sessions] == [True]
    assert case.agreement is not None
    assert case.agreement["effective_on"] == desk.START.date()
    assert case.closed_at == desk.START


def test_events_are_named_in_the_past_tense(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")

    names = [type(event).__name__ for event in case.collect_events()]

    assert names == [
        "Registered",
        "Accepted",
        "Routed",
        "ConsentRecorded",
        "ConsentRecorded",
        "AgreementReached",
        "FollowUpRecorded",
        "Closed",
    ]


def test_rejection_closes_the_case_with_outcome_rejected(desk: Desk) -> None:
    case = desk.do(desk.register(), c.Reject("already before the Chengguan court"))

    assert case.status == "closed"
    assert case.outcome == "rejected"
    assert case.closed_at == desk.START
    assert case.clocks == {}


def test_a_received_transfer_goes_to_mediation(desk: Desk) -> None:
    case = desk.walk(desk.register(), "transfer_pending")
    assert case.transfer is not None
    assert case.transfer["unit"] == desk.UNIT

    desk.do(case, c.ReceiveTransfer("tenzin"))

    assert case.status == "mediating"
    assert case.transfer is None
    assert case.mediator == "tenzin"
    assert case.was_mediated


def test_a_transfer_received_without_a_mediator_leaves_the_case_unassigned(desk: Desk) -> None:
    case = desk.do(desk.walk(desk.register(), "transfer_pending"), c.ReceiveTransfer())

    assert case.status == "mediating"
    assert case.mediator is None


def test_no_mediator_works_a_case_until_one_is_assigned_to_it(desk: Desk) -> None:
    case = desk.do(desk.walk(desk.register(), "transfer_pending"), c.ReceiveTransfer())

    for mediator in (desk.mediator, desk.other_mediator):
        with pytest.raises(PermissionDeniedError, match="no mediator yet"):
            desk.do(case, c.RecordConsent("p1", True), mediator)
    desk.do(case, c.AssignMediator(desk.mediator.user, "the unit named none"), desk.clerk)
    desk.do(case, c.RecordConsent("p1", True), desk.mediator)

    assert case.consents == {"p1": True}


def test_a_case_awaiting_a_transfer_may_be_amended(desk: Desk) -> None:
    case = desk.walk(desk.register(), "transfer_pending")

    desk.do(case, c.Amend(summary="wages unpaid since May"))

    assert (case.status, case.summary) == ("transfer_pending", "wages unpaid since May")


def test_a_case_withdrawn_while_a_transfer_is_offered_keeps_no_pending_transfer(
    desk: Desk,
) -> None:
    case = desk.walk(desk.register(), "transfer_pending")

    desk.do(case, c.Withdraw("settled between themselves"))

    assert (case.status, case.transfer) == ("closed", None)


def test_a_returned_transfer_goes_back_to_routing(desk: Desk) -> None:
    case = desk.walk(desk.register(), "transfer_pending")

    desk.do(case, c.ReturnTransfer("not a labour matter"))

    assert case.status == "awaiting_routing"
    assert case.transfer is None
    assert not case.was_mediated
    [*_, event] = case.collect_events()
    assert isinstance(event, Case.TransferReturned)
    assert event.unit == desk.UNIT


def test_termination_closes_with_the_referral_given(desk: Desk) -> None:
    case = desk.walk(desk.register(), "mediating")

    desk.do(case, c.Terminate("positions too far apart", Referral.LITIGATION))

    assert case.status == "closed"
    assert case.outcome == "referred"
    [*_, event] = case.collect_events()
    assert isinstance(event, Case.Terminated)
    assert event.referral == "litigation"


@pytest.mark.parametrize(
    "status", ["registered", "awaiting_routing", "transfer_pending", "mediating"]
)
def test_the_applicant_may_withdraw_from_any_open_phase(desk: Desk, status: str) -> None:
    case = desk.walk(desk.register(), status)

    desk.do(case, c.Withdraw("settled between themselves"))

    assert case.status == "closed"
    assert case.outcome == "withdrawn"


def test_a_closed_case_cannot_be_withdrawn(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")

    with pytest.raises(ActionNotAllowedError, match=r"allowed now: add_note$"):
        desk.do(case, c.Withdraw("too late"))


def test_a_reopened_case_returns_to_mediation_without_its_agreement(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")

    desk.do(case, c.Reopen("the respondent stopped paying"), desk.supervisor)

    assert case.status == "mediating"
    assert case.outcome is None
    assert case.closed_at is None
    assert case.agreement is None
    assert case.follow_ups == []


def test_a_reopened_mediation_needs_each_partys_consent_again(desk: Desk) -> None:
    case = desk.walk(desk.register(), "closed")
    desk.do(case, c.Reopen("the agreement was found unfair"), desk.supervisor)
    parties = tuple(case.party_ids())

    with pytest.raises(RuleViolationError, match=r"PML art\. 17"):
        desk.do(case, c.ReachAgreement("pays 800 yuan", parties))
    for party in parties:
        desk.do(case, c.RecordConsent(party, True))
    desk.do(case, c.ReachAgreement("pays 800 yuan", parties))

    assert case.status == "agreement_in_force"


def test_notes_and_documents_record_who_added_them(desk: Desk) -> None:
    case = desk.walk(desk.register(), "mediating")

    desk.do(case, c.AddNote("applicant called: ཐུགས་རྗེ་ཆེ།"), desk.other_mediator)
    desk.do(case, c.AttachDocument("ID copy", "archive://42", "image/png"), desk.mediator)

    assert case.notes == [{"at": desk.START, "by": "tenzin", "text": "applicant called: ཐུགས་རྗེ་ཆེ།"}]
    assert case.documents[0]["by"] == "mia"


def test_grading_risk_and_supervising_are_recorded(desk: Desk) -> None:
    case = desk.register()

    desk.do(case, c.GradeRisk(Risk.RED, "threats of violence"))
    desk.do(case, c.Supervise("report by Friday", date(2026, 3, 6)), desk.supervisor)

    assert case.risk == "red"
    assert case.supervisions[0]["due"] == date(2026, 3, 6)
    assert case.supervisions[0]["by"] == "boss"


def test_a_supervision_instruction_due_beyond_a_year_is_refused_naming_its_due_date(
    desk: Desk,
) -> None:
    case = desk.register()
    today = desk.ctx.today

    for too_late in (today + timedelta(days=367), date.max):
        with pytest.raises(InvalidFieldError, match="within 366 days") as refused:
            desk.do(case, c.Supervise("report some day", too_late), desk.supervisor)
        assert refused.value.field == "due"
    within = today + timedelta(days=366)
    desk.do(case, c.Supervise("report within the year", within), desk.supervisor)

    assert [s["due"] for s in case.supervisions] == [within]


def test_an_instruction_due_on_the_calendars_last_day_never_falls_due() -> None:
    """Such instructions were accepted before due dates were bounded; the rules must pass them."""
    assert supervision_overdue_at(date.max, CHINA_STANDARD_TIME) == datetime.max.replace(tzinfo=UTC)
    assert supervision_overdue_at(date(2026, 3, 6), CHINA_STANDARD_TIME) == datetime(
        2026, 3, 7, tzinfo=CHINA_STANDARD_TIME
    )


def test_an_agreement_signed_before_its_mediation_began_is_refused(desk: Desk) -> None:
    case = desk.register()
    desk.now += timedelta(days=3)
    desk.walk(case, "mediating")  # routed three days after the registration
    began = desk.ctx.today
    parties = tuple(case.party_ids())
    for party in parties:
        desk.do(case, c.RecordConsent(party, True))

    for signed_on in (began - timedelta(days=1), date(2001, 1, 1)):
        with pytest.raises(InvalidFieldError, match=f"before mediation began \\({began}\\)"):
            desk.do(case, c.ReachAgreement("pays 500 yuan", parties, signed_on=signed_on))
    desk.do(case, c.ReachAgreement("pays 500 yuan", parties, signed_on=began))

    assert case.agreement is not None
    assert case.agreement["effective_on"] == began


def test_a_confirmation_window_ending_on_a_rest_day_ends_on_the_next_working_day(
    desk: Desk,
) -> None:
    """Civil Code art. 203; the desk's calendar has weekends and no holidays."""
    desk.now = datetime(2026, 9, 3, 2, 0, tzinfo=UTC)  # Thursday: day 30 is Saturday 3 October
    cases = [desk.walk(desk.register(), "agreement_in_force") for _ in range(2)]
    desk.now = datetime(2026, 10, 6, 2, 0, tzinfo=UTC)
    court = "城关区人民法院"

    desk.do(cases[0], c.ApplyJudicially(court, applied_on=date(2026, 10, 5)))  # the Monday
    with pytest.raises(RuleViolationError, match="window ended 2026-10-05"):
        desk.do(cases[1], c.ApplyJudicially(court, applied_on=date(2026, 10, 6)))

    assert cases[0].applied_judicially == {"court": court, "applied_on": date(2026, 10, 5)}
    assert cases[1].applied_judicially is None


def test_the_parties_apply_for_judicial_confirmation_once(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    desk.do(case, c.ApplyJudicially("城关区人民法院"))

    with pytest.raises(RuleViolationError, match="applied on"):
        desk.do(case, c.ApplyJudicially("另一法院"))
    assert case.applied_judicially is not None
    assert case.applied_judicially["court"] == "城关区人民法院"


def test_amending_changes_the_named_fields_only(desk: Desk) -> None:
    case = desk.register()

    desk.do(case, c.Amend(summary="noise and a blocked lane"))

    assert case.summary == "noise and a blocked lane"
    assert case.dispute_type == "neighbour"


def test_a_mediator_cannot_accept_a_case(desk: Desk) -> None:
    case = desk.register()

    with pytest.raises(PermissionDeniedError, match="role 'mediator' may not 'accept'"):
        desk.do(case, c.Accept(), desk.mediator)
    assert case.version == 1


def test_only_the_assigned_mediator_records_consent(desk: Desk) -> None:
    case = desk.walk(desk.register(), "mediating")

    with pytest.raises(PermissionDeniedError, match=r"only the case's mediator \(mia\)"):
        desk.do(case, c.RecordConsent("p1", True), desk.other_mediator)
    assert case.consents == {}


def test_a_deadline_rule_escalates_as_a_named_system_actor(desk: Desk) -> None:
    case = desk.register()
    rule = Actor.rule("deadline", desk.TOWN)

    desk.do(case, c.Escalate("intake decision overdue"), rule)

    [*_, event] = case.collect_events()
    assert isinstance(event, Case.Escalated)
    assert event.actor.user == "rules:deadline"
    assert event.actor.role == Role.RULES
    assert case.escalated_to == desk.COUNTY
    assert case.escalation_level == 1


def breach_keys(desk: Desk, case: Case, prefix: str) -> list[str]:
    found = candidates(case, desk.workflow.definition, desk.ctx.calendar)
    return [breach.key for breach in found if breach.key.startswith(prefix)]


def test_a_rule_escalates_each_breach_exactly_once(desk: Desk) -> None:
    case = desk.register()
    rule = Actor.rule("deadline", desk.TOWN)
    first, second = breach_keys(desk, case, "deadline:intake_decision:")
    breach = c.EscalateBreach(first, "intake decision overdue")
    desk.do(case, breach, rule)

    with pytest.raises(BreachEscalatedAlreadyError):
        desk.do(case, breach, rule)

    assert case.breaches == [first]
    assert case.escalation_level == 1
    desk.do(case, c.EscalateBreach(second, "overdue again"), rule)
    assert (case.escalated_to, case.breaches[-1]) == (desk.CITY, second)


def test_a_deadline_extended_before_it_passed_keeps_the_keys_cases_already_recorded(
    desk: Desk,
) -> None:
    """Cases escalated before extensions got keys of their own hold `...:1` for the extended
    deadline: it must stay answered, or every such case would escalate again on upgrade."""
    case = desk.walk(desk.register(), "mediating")
    for party in case.party_ids():
        desk.do(case, c.RecordConsent(party, True))
    desk.do(case, c.ExtendDeadline(10, "a valuation report", tuple(case.party_ids())))
    [first, second] = breach_keys(desk, case, "deadline:mediation:")
    rule = Actor.rule("deadline_mediation", desk.TOWN)
    desk.do(case, c.EscalateBreach(first, "the extended deadline passed"), rule)

    later = desk.now + timedelta(days=41)
    due = due_breaches(case, desk.workflow.definition, desk.ctx.calendar, later)

    assert first.endswith(":1")
    assert ":e" not in first
    assert [b.key for b in due] == []  # the second period is 40 days later still
    assert second not in case.breaches


def test_a_rule_may_not_escalate_a_breach_the_case_no_longer_has(desk: Desk) -> None:
    case = desk.register(risk=Risk.RED)
    rule = Actor.rule("red_risk", desk.TOWN)
    [red] = breach_keys(desk, case, "risk:red:")
    desk.do(case, c.GradeRisk(Risk.LOW, "the parties were reconciled"))  # after the rule looked

    for key in (red, "deadline:nothing:like:this"):
        with pytest.raises(BreachGoneError):
            desk.do(case, c.EscalateBreach(key, "risk graded red"), rule)
    assert (case.escalation_level, case.breaches) == (0, [])


def test_a_rules_actor_may_not_decide_the_case_itself(desk: Desk) -> None:
    with pytest.raises(PermissionDeniedError):
        desk.do(desk.register(), c.Accept(), Actor.rule("deadline", desk.TOWN))


def test_replay_rebuilds_the_same_case_without_any_rules(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = desk.walk(desk.register(), "mediating")
    desk.consent_all(case)
    desk.do(case, c.ExtendDeadline(10, "waiting for a valuation", ("p1", "p2")))
    events = list(case.collect_events())
    desk.walk(case, "closed")
    desk.do(case, c.Reopen("breach"), desk.supervisor)
    desk.do(case, c.Escalate("second breach"), desk.supervisor)
    events += case.collect_events()

    def refuse(*_args: object) -> str:
        raise AssertionError("replay consulted the workflow or a guard")

    for name in GUARDS:  # replay must not even ask today's rules
        monkeypatch.setitem(GUARDS, name, refuse)
    monkeypatch.setattr(Workflow, "decide", refuse)
    rebuilt = desk.replay(events)

    assert vars(rebuilt) == vars(case)
    assert (rebuilt.status, rebuilt.version) == ("mediating", case.version)
    assert rebuilt.extensions == {}  # reopening started a new mediation clock
    assert rebuilt.escalated_to == desk.COUNTY


@pytest.fixture
def lax_workflow(tmp_path: Path) -> Workflow:
    """An older deployment of dispute@1 whose sessions had no consent guards."""
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    guarded = 'roles = ["mediator"]\nguards = ["no_party_refused", "all_parties_consented"]\n'
    assert text.count(guarded) == 2
    (tmp_path / "dispute.lax.toml").write_text(
        text.replace(guarded, 'roles = ["mediator"]\n'), encoding="utf-8"
    )
    return Workflow(load_definition(tmp_path / "dispute.lax.toml", VOCABULARY))


def test_replay_keeps_what_an_older_workflow_allowed_though_todays_guards_refuse(
    desk: Desk, workflow: Workflow, lax_workflow: Workflow
) -> None:
    desk.workflow = lax_workflow
    case = desk.walk(desk.register(), "mediating")
    desk.do(case, c.RecordConsent("p2", False, "refuses mediation"))
    desk.do(case, c.ScheduleSession(desk.START + timedelta(days=1), "old hall"))
    events = case.collect_events()

    rebuilt = desk.replay(events)

    assert rebuilt.consents == {"p2": False}
    assert rebuilt.sessions[0]["place"] == "old hall"
    assert rebuilt.version == case.version
    desk.workflow = workflow
    with pytest.raises(RuleViolationError, match=r"PML art\. 17"):
        desk.do(rebuilt, c.ScheduleSession(desk.START + timedelta(days=2), "new hall"))
