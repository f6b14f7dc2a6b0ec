"""Commands refuse bad values naming the field; a refused command leaves the case untouched."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pytest

from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import Channel, CourtDecision, Outcome, PartyRole

if TYPE_CHECKING:
    from tests.domain.desk import Desk

APPLICANT = c.NewParty(PartyRole.APPLICANT, "ཚེ་རིང་")
RESPONDENT = c.NewParty(PartyRole.RESPONDENT, "王五")


def register(*parties: c.NewParty, summary: str = "噪音纠纷") -> c.Register:
    return c.Register("neighbour", Channel.HOTLINE, summary, parties or (APPLICANT, RESPONDENT))


def invalid_field(command: c.Command) -> InvalidFieldError:
    with pytest.raises(InvalidFieldError) as refusal:
        command.validate()
    return refusal.value


def test_a_well_formed_registration_in_three_scripts_is_valid() -> None:
    register(
        c.NewParty(PartyRole.APPLICANT, "ཚེ་རིང་ Tsering", "+86 138-0000-0000", "54010219900101123X"),
        RESPONDENT,
        summary="隔壁 ཁྱིམ་མཚེས། neighbour's music",
    ).validate()


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (register(summary="   "), "summary"),
        (c.Reject(""), "reason"),
        (c.Reject(" \n\t"), "reason"),
        (c.Transfer("  ", "labour"), "unit"),
        (c.Withdraw("\u3000"), "reason"),  # an ideographic space is blank too
        (c.AddNote(" "), "text"),
        (c.Accept(note=" "), "note"),
        (c.Route(""), "mediator"),
    ],
)
def test_blank_text_is_refused_naming_the_field(command: c.Command, field: str) -> None:
    error = invalid_field(command)

    assert (error.field, error.reason) == (field, "must not be blank")


@pytest.mark.parametrize(
    ("command", "field", "limit"),
    [
        (register(summary="纠" * 4001), "summary", 4000),
        (c.Reject("x" * 4001), "reason", 4000),
        (c.Transfer("u" * 201, "labour"), "unit", 200),
        (c.RecordConsent("p" * 17, True), "party", 16),
        (c.AttachDocument("scan", "archive://1", sha256="f" * 65), "sha256", 64),
    ],
)
def test_over_long_text_is_refused_naming_the_field(
    command: c.Command, field: str, limit: int
) -> None:
    error = invalid_field(command)

    assert (error.field, error.reason) == (field, f"must be at most {limit} characters")


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (register(summary="a wall\x00"), "summary"),  # PostgreSQL text refuses NUL
        (c.AddNote("bell \x07"), "text"),
        (c.Reject("escape \x1b[31m"), "reason"),
        (c.Accept(note="delete \x7f"), "note"),
        (register(c.NewParty(PartyRole.APPLICANT, "次仁\x00"), RESPONDENT), "parties[0].name"),
    ],
)
def test_text_with_control_characters_is_refused_naming_the_field(
    command: c.Command, field: str
) -> None:
    error = invalid_field(command)

    assert (error.field, error.reason) == (field, "must not contain control characters")


def test_tabs_and_line_breaks_are_text_like_any_other() -> None:
    c.AddNote("first line\r\n\tsecond line\nthird").validate()


def test_text_at_its_limit_is_accepted() -> None:
    c.Reject("ཀ" * 4000).validate()


def test_a_long_party_name_is_refused_naming_the_party() -> None:
    error = invalid_field(register(c.NewParty(PartyRole.APPLICANT, "名" * 201), RESPONDENT))

    assert error.field == "parties[0].name"


@pytest.mark.parametrize("phone", ["12", "call me", "138 0000 0000 ext. 5", "1" * 33])
def test_a_bad_phone_is_refused_naming_the_party(phone: str) -> None:
    party = c.NewParty(PartyRole.RESPONDENT, "王五", phone=phone)

    assert invalid_field(register(APPLICANT, party)).field == "parties[1].phone"


@pytest.mark.parametrize("id_number", ["123", "5401-0219", "5" * 33, "54010219900101123 "])
def test_a_bad_id_number_is_refused_naming_the_party(id_number: str) -> None:
    party = c.NewParty(PartyRole.APPLICANT, "ཚེ་རིང་", id_number=id_number)

    assert invalid_field(register(party, RESPONDENT)).field == "parties[0].id_number"


@pytest.mark.parametrize(
    ("parties", "missing"),
    [((APPLICANT,), "respondent"), ((RESPONDENT,), "applicant"), ((), "applicant")],
    ids=["no-respondent", "no-applicant", "nobody"],
)
def test_a_registration_needs_an_applicant_and_a_respondent(
    parties: tuple[c.NewParty, ...], missing: str
) -> None:
    command = c.Register("neighbour", Channel.GRID, "噪音纠纷", parties)

    error = invalid_field(command)

    assert (error.field, error.reason) == ("parties", f"at least one {missing} is required")


def test_a_session_time_without_a_time_zone_is_refused() -> None:
    error = invalid_field(c.ScheduleSession(datetime(2026, 3, 4, 10, 0), "room 1"))

    assert error.field == "at"
    c.ScheduleSession(datetime(2026, 3, 4, 10, 0, tzinfo=UTC), "room 1").validate()


@pytest.mark.parametrize("days", [0, -3, 366])
def test_extension_days_out_of_range_are_refused(days: int) -> None:
    error = invalid_field(c.ExtendDeadline(days, "valuation", ("p1", "p2")))

    assert (error.field, error.reason) == ("days", "must be between 1 and 365")


@pytest.mark.parametrize("levels", [0, 6])
def test_escalation_levels_out_of_range_are_refused(levels: int) -> None:
    assert invalid_field(c.Escalate("overdue", levels)).field == "levels"


@pytest.mark.parametrize(
    "outcome", [Outcome.REFERRED, Outcome.WITHDRAWN, Outcome.REJECTED], ids=str
)
def test_closing_takes_only_resolved_or_breached(outcome: Outcome) -> None:
    error = invalid_field(c.Close(outcome))

    assert (error.field, error.reason) == ("outcome", "must be resolved or breached")
    c.Close(Outcome.RESOLVED).validate()
    c.Close(Outcome.BREACHED).validate()


def test_an_amendment_must_change_something() -> None:
    assert invalid_field(c.Amend()).field == "body"
    c.Amend(summary="a new summary").validate()


def test_amended_parties_still_need_both_sides() -> None:
    assert invalid_field(c.Amend(parties=(APPLICANT,))).field == "parties"


def test_every_action_has_one_command() -> None:
    assert all(action == cls.ACTION for action, cls in c.ACTION_COMMANDS.items())
    assert len(c.ACTION_COMMANDS) == 26  # domain.md's 24, answer_supervision, apply_judicially


# Values only the case can judge: refused naming the field, and nothing is recorded.


def assert_refused_untouched(desk: Desk, case: Case, command: c.Command, field: str) -> None:
    version = case.version
    case.collect_events()

    with pytest.raises(InvalidFieldError) as refusal:
        desk.do(case, command)

    assert refusal.value.field == field
    assert case.version == version
    assert case.collect_events() == []


def test_a_blank_reason_is_refused_before_anything_is_recorded(desk: Desk) -> None:
    assert_refused_untouched(desk, desk.register(), c.Reject("  "), "reason")


def test_consent_of_an_unknown_party_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "mediating")

    assert_refused_untouched(desk, case, c.RecordConsent("p9", True), "party")
    assert case.consents == {}


def test_an_extension_consented_by_an_unknown_party_is_refused(desk: Desk) -> None:
    case = desk.consent_all(desk.walk(desk.register(), "mediating"))
    extension = c.ExtendDeadline(10, "valuation", ("p1", "p2", "p7"))

    assert_refused_untouched(desk, case, extension, "consented_by[2]")


def test_routing_to_someone_not_a_mediator_of_the_center_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "awaiting_routing")

    assert_refused_untouched(desk, case, c.Route("kelsang"), "mediator")  # a county mediator
    assert case.status == "awaiting_routing"
    assert case.mediator is None


def test_a_recusal_to_someone_not_a_mediator_of_the_center_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "mediating")

    assert_refused_untouched(desk, case, c.AssignMediator("dolma", "recusal"), "mediator")


def test_a_supervision_due_in_the_past_is_refused(desk: Desk) -> None:
    case = desk.register()
    yesterday = date(2026, 3, 1)

    assert_refused_untouched(desk, case, c.Supervise("report back", yesterday), "due")


def test_an_agreement_signed_in_the_future_is_refused(desk: Desk) -> None:
    case = desk.consent_all(desk.walk(desk.register(), "mediating"))
    agreement = c.ReachAgreement("pay", ("p1", "p2"), signed_on=date(2026, 3, 3))

    assert_refused_untouched(desk, case, agreement, "signed_on")


def test_an_agreement_signed_today_in_lhasa_after_midnight_is_accepted(desk: Desk) -> None:
    case = desk.consent_all(desk.walk(desk.register(), "mediating"))
    desk.now = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 01:00 on 3 March in Lhasa
    local_today = date(2026, 3, 3)

    desk.do(case, c.ReachAgreement("pay", ("p1", "p2"), signed_on=local_today))

    assert case.agreement is not None
    assert case.agreement["effective_on"] == local_today


def test_a_confirmation_applied_for_after_its_decision_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    command = c.ConfirmJudicially(
        "court", CourtDecision.CONFIRMED, date(2026, 3, 5), applied_on=date(2026, 3, 6)
    )
    desk.now = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)

    assert_refused_untouched(desk, case, command, "applied_on")


def test_a_court_decision_dated_in_the_future_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    command = c.ConfirmJudicially("court", CourtDecision.CONFIRMED, date(2026, 3, 9))

    assert_refused_untouched(desk, case, command, "date")


def test_a_court_application_before_the_agreement_took_effect_is_refused(desk: Desk) -> None:
    case = desk.walk(desk.register(), "agreement_in_force")
    command = c.ConfirmJudicially("court", CourtDecision.CONFIRMED, date(2026, 3, 1))

    assert_refused_untouched(desk, case, command, "applied_on")


def test_registering_without_a_respondent_creates_no_case(desk: Desk) -> None:
    with pytest.raises(InvalidFieldError) as refusal:
        desk.register(parties=(APPLICANT,))

    assert refusal.value.field == "parties"
