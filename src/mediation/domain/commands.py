"""One command per action of domain.md: the plain values a user or a rule gives a case."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields, is_dataclass
from typing import ClassVar

from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import (
    Channel,
    Complexity,
    CourtDecision,
    Outcome,
    PartyRole,
    Referral,
    Risk,
)

SHORT = 200
LONG = 4000
SUPERVISIONS = 1000  # instructions a case may have: a number beyond is no instruction
PARTIES = 200  # parties of one dispute: a work crew's unpaid wages, a village's land


# Control characters other than tab and line breaks: no text of a case needs them, and
# PostgreSQL's text columns refuse NUL outright (a case holding one would stall the views).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(field: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    if not value.strip():
        raise InvalidFieldError(field, "must not be blank")
    if len(value) > limit:
        raise InvalidFieldError(field, f"must be at most {limit} characters")
    if CONTROL_CHARACTERS.search(value):
        raise InvalidFieldError(field, "must not contain control characters")


# Half of a UTF-16 surrogate pair, alone: JSON may carry one (`"\\ud800"`), but it is no
# character, and no text holding it can be stored or hashed (it was a 500, not a 422).
LONE_SURROGATES = re.compile(r"[\ud800-\udfff]")


def check_unicode(field: str, value: object) -> None:
    """Refuse a lone surrogate anywhere in a field's value (text, or text within it)."""
    if isinstance(value, str):
        if LONE_SURROGATES.search(value):
            raise InvalidFieldError(field, "must be valid Unicode text (a lone surrogate)")
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            check_unicode(f"{field}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_unicode(f"{field}.{key}", key)
            check_unicode(f"{field}.{key}", item)
    elif is_dataclass(value) and not isinstance(value, type):
        for spec in fields(value):
            check_unicode(f"{field}.{spec.name}", getattr(value, spec.name))


def _check_positive(field: str, value: int, limit: int) -> None:
    if not 1 <= value <= limit:
        raise InvalidFieldError(field, f"must be between 1 and {limit}")


@dataclass(frozen=True)
class Command:
    """Base of every command; `validate` checks what a value alone can tell."""

    ACTION: ClassVar[str] = ""
    TEXT_LIMITS: ClassVar[dict[str, int]] = {}

    def validate(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            check_unicode(spec.name, value)
            limit = self.TEXT_LIMITS.get(spec.name)
            if limit is not None:
                check_text(spec.name, value, limit)


@dataclass(frozen=True)
class NewParty:
    role: PartyRole
    name: str
    phone: str | None = None
    id_number: str | None = None

    def validate(self, place: str) -> None:
        check_text(f"{place}.name", self.name, SHORT)
        if self.phone is not None and not looks_like_phone(self.phone):
            raise InvalidFieldError(f"{place}.phone", PHONE_RULE)
        if self.id_number is not None and not looks_like_id_number(self.id_number):
            raise InvalidFieldError(f"{place}.id_number", ID_NUMBER_RULE)


PHONE_RULE = "must be 3 to 32 digits, spaces, + or -"
ID_NUMBER_RULE = "must be 4 to 32 letters or digits"


def looks_like_phone(value: str) -> bool:
    """A party's phone as the service takes it (see PHONE_RULE)."""
    digits = sum(ch.isdigit() for ch in value)
    return 3 <= digits <= 32 and all(ch.isdigit() or ch in " +-()" for ch in value)


def looks_like_id_number(value: str) -> bool:
    """A party's ID number as the service takes it (see ID_NUMBER_RULE)."""
    return 4 <= len(value) <= 32 and value.isalnum()


def _check_parties(parties: tuple[NewParty, ...]) -> None:
    if len(parties) > PARTIES:
        raise InvalidFieldError("parties", f"must be at most {PARTIES} parties")
    for index, party in enumerate(parties):
        party.validate(f"parties[{index}]")
    roles = {party.role for party in parties}
    for role in PartyRole:
        if role not in roles:
            raise InvalidFieldError("parties", f"at least one {role.value} is required")


@dataclass(frozen=True)
class Register(Command):
    ACTION: ClassVar[str] = "register"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {
        "dispute_type": 64,
        "summary": LONG,
        "place": SHORT,
        "center": 32,
    }

    dispute_type: str
    channel: Channel
    summary: str
    parties: tuple[NewParty, ...]
    risk: Risk = Risk.LOW
    complexity: Complexity = Complexity.GENERAL
    place: str | None = None
    center: str | None = None

    def validate(self) -> None:
        super().validate()
        _check_parties(self.parties)


@dataclass(frozen=True)
class Amend(Command):
    ACTION: ClassVar[str] = "amend"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"dispute_type": 64, "summary": LONG, "place": SHORT}

    summary: str | None = None
    dispute_type: str | None = None
    channel: Channel | None = None
    place: str | None = None
    complexity: Complexity | None = None
    parties: tuple[NewParty, ...] | None = None

    def validate(self) -> None:
        super().validate()
        if all(getattr(self, spec.name) is None for spec in fields(self)):
            raise InvalidFieldError("body", "name at least one field to change")
        if self.parties is not None:
            _check_parties(self.parties)


@dataclass(frozen=True)
class GradeRisk(Command):
    ACTION: ClassVar[str] = "grade_risk"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    risk: Risk
    reason: str | None = None


@dataclass(frozen=True)
class Accept(Command):
    ACTION: ClassVar[str] = "accept"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"note": LONG}
    note: str | None = None


@dataclass(frozen=True)
class Reject(Command):
    ACTION: ClassVar[str] = "reject"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    reason: str


@dataclass(frozen=True)
class Route(Command):
    ACTION: ClassVar[str] = "route"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"mediator": 64}
    mediator: str


@dataclass(frozen=True)
class Transfer(Command):
    ACTION: ClassVar[str] = "transfer"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"unit": SHORT, "reason": LONG}
    unit: str
    reason: str


@dataclass(frozen=True)
class ReceiveTransfer(Command):
    ACTION: ClassVar[str] = "receive_transfer"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"mediator": 64}
    mediator: str | None = None


@dataclass(frozen=True)
class ReturnTransfer(Command):
    ACTION: ClassVar[str] = "return_transfer"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    reason: str


@dataclass(frozen=True)
class RecordConsent(Command):
    ACTION: ClassVar[str] = "record_consent"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"party": 16, "note": LONG}
    party: str
    consent: bool
    note: str | None = None


@dataclass(frozen=True)
class AssignMediator(Command):
    ACTION: ClassVar[str] = "assign_mediator"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"mediator": 64, "reason": LONG}
    mediator: str
    reason: str


@dataclass(frozen=True)
class ScheduleSession(Command):
    ACTION: ClassVar[str] = "schedule_session"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"place": SHORT}
    at: dt.datetime
    place: str

    def validate(self) -> None:
        super().validate()
        if self.at.tzinfo is None:
            raise InvalidFieldError("at", "must carry a time zone offset, e.g. +08:00")


@dataclass(frozen=True)
class RecordSession(Command):
    ACTION: ClassVar[str] = "record_session"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"summary": LONG}
    summary: str


@dataclass(frozen=True)
class ExtendDeadline(Command):
    ACTION: ClassVar[str] = "extend_deadline"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    days: int
    reason: str
    consented_by: tuple[str, ...]

    def validate(self) -> None:
        super().validate()
        _check_positive("days", self.days, 365)


@dataclass(frozen=True)
class ReachAgreement(Command):
    ACTION: ClassVar[str] = "reach_agreement"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"terms": LONG * 4}
    terms: str
    signed_by: tuple[str, ...]
    signed_on: dt.date | None = None


@dataclass(frozen=True)
class Terminate(Command):
    ACTION: ClassVar[str] = "terminate"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    reason: str
    referral: Referral


@dataclass(frozen=True)
class Withdraw(Command):
    ACTION: ClassVar[str] = "withdraw"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    reason: str


@dataclass(frozen=True)
class ConfirmJudicially(Command):
    ACTION: ClassVar[str] = "confirm_judicially"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"court": SHORT}
    court: str
    decision: CourtDecision
    date: dt.date
    applied_on: dt.date | None = None


@dataclass(frozen=True)
class ApplyJudicially(Command):
    """The parties applied to a court for judicial confirmation (default: today); the court's
    decision follows with `confirm_judicially`."""

    ACTION: ClassVar[str] = "apply_judicially"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"court": SHORT}
    court: str
    applied_on: dt.date | None = None


@dataclass(frozen=True)
class RecordFollowUp(Command):
    ACTION: ClassVar[str] = "record_follow_up"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"notes": LONG}
    performed: bool
    notes: str | None = None


@dataclass(frozen=True)
class Close(Command):
    ACTION: ClassVar[str] = "close"
    outcome: Outcome

    def validate(self) -> None:
        if self.outcome not in (Outcome.RESOLVED, Outcome.BREACHED):
            raise InvalidFieldError("outcome", "must be resolved or breached")


@dataclass(frozen=True)
class Reopen(Command):
    ACTION: ClassVar[str] = "reopen"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    reason: str


@dataclass(frozen=True)
class AddNote(Command):
    ACTION: ClassVar[str] = "add_note"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"text": LONG}
    text: str


@dataclass(frozen=True)
class AttachDocument(Command):
    ACTION: ClassVar[str] = "attach_document"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {
        "title": SHORT,
        "media_type": 128,
        "reference": 1000,
        "sha256": 64,
    }
    title: str
    reference: str
    media_type: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Escalate(Command):
    ACTION: ClassVar[str] = "escalate"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"reason": LONG}
    reason: str
    levels: int = 1

    def validate(self) -> None:
        super().validate()
        _check_positive("levels", self.levels, 5)


@dataclass(frozen=True)
class EscalateBreach(Command):
    """An automated rule escalates a breach (a deadline passed, a red risk) exactly once."""

    ACTION: ClassVar[str] = "escalate_breach"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"breach": SHORT, "reason": LONG}
    breach: str
    reason: str


@dataclass(frozen=True)
class Supervise(Command):
    ACTION: ClassVar[str] = "supervise"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"instruction": LONG}
    instruction: str
    due: dt.date


@dataclass(frozen=True)
class AnswerSupervision(Command):
    """The center answers a supervision instruction: `number` counts them from 1, in the
    order they were given."""

    ACTION: ClassVar[str] = "answer_supervision"
    TEXT_LIMITS: ClassVar[dict[str, int]] = {"answer": LONG}
    number: int
    answer: str

    def validate(self) -> None:
        super().validate()
        _check_positive("number", self.number, SUPERVISIONS)


ACTION_COMMANDS: dict[str, type[Command]] = {
    cls.ACTION: cls
    for cls in (
        Amend,
        GradeRisk,
        Accept,
        Reject,
        Route,
        Transfer,
        ReceiveTransfer,
        ReturnTransfer,
        RecordConsent,
        AssignMediator,
        ScheduleSession,
        RecordSession,
        ExtendDeadline,
        ReachAgreement,
        Terminate,
        Withdraw,
        ApplyJudicially,
        ConfirmJudicially,
        RecordFollowUp,
        Close,
        Reopen,
        AddNote,
        AttachDocument,
        Escalate,
        Supervise,
        AnswerSupervision,
    )
}
"""Every action a case takes after registration, by name (the vocabulary definitions use).

`EscalateBreach` is not among them: only the rules process gives it, as the action `escalate_breach`."""
