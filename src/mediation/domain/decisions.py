"""Deciding: check a command against the case, its workflow and the actor; then record it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from mediation.domain import commands as c
from mediation.domain.breaches import candidates
from mediation.domain.case import Case
from mediation.domain.chain import GENESIS
from mediation.domain.clocks import clock_changes, due_after, retimed
from mediation.domain.errors import (
    ActionNotAllowedError,
    BreachEscalatedAlreadyError,
    BreachGoneError,
    InvalidFieldError,
    PermissionDeniedError,
    RuleViolationError,
)
from mediation.domain.guards import GUARDS, application_date
from mediation.domain.ports import Context
from mediation.domain.values import Actor, Party, Role
from mediation.workflows import ActionUnavailableError, GuardRefusedError, Transition

# Actions any staff of the case's center may take even when a case has a mediator of its own.
SHARED_WITH_OTHER_MEDIATORS = frozenset({"add_note"})
# A supervision instruction (督办) is due within this many days: it asks for an answer, and a
# due date no calendar can pass would be one no rule ever enforces.
SUPERVISION_DAYS = 366


@dataclass(frozen=True)
class Decision:
    event: type[Case.Event]
    data: dict[str, Any] = field(default_factory=dict)
    clock_anchor: datetime | None = None
    retimed: dict[str, dict[str, Any]] = field(default_factory=dict)  # running clocks, due anew


def register_case(
    case_id: UUID, command: c.Register, actor: Actor, center: str, fingerprint: str, ctx: Context
) -> Case:
    """A new case in its workflow's initial status, its first clocks running."""
    command.validate()
    definition = ctx.workflow.definition
    if actor.role not in definition.register_roles:
        raise PermissionDeniedError(f"role '{actor.role}' may not register cases")
    started, _ = clock_changes(
        ctx.workflow, "register", {}, command.complexity, ctx.now, False, ctx.calendar
    )
    return Case._create(
        Case.Registered,
        id=case_id,
        timestamp=ctx.now,
        actor=actor,
        status=definition.initial,
        clocks_started=started,
        clocks_stopped=[],
        previous_hash=GENESIS,
        workflow=definition.key,
        center=center,
        dispute_type=command.dispute_type,
        channel=str(command.channel),
        summary=command.summary,
        place=command.place,
        risk=str(command.risk),
        complexity=str(command.complexity),
        parties=number_parties(command.parties),
        fingerprint=fingerprint,
    )


def execute(case: Case, command: c.Command, actor: Actor, ctx: Context) -> None:
    """Decide whether `actor` may give `command` now and, if so, record its event on `case`."""
    command.validate()
    authorize(case, command.ACTION, actor, ctx)
    transition = _transition(case, command, actor, ctx)
    decision = HANDLERS[type(command)](case, command, ctx)
    final = ctx.workflow.definition.statuses[transition.dest].final
    started, stopped = clock_changes(
        ctx.workflow,
        command.ACTION,
        case.clocks,
        case.complexity,
        decision.clock_anchor or ctx.now,
        final,
        ctx.calendar,
    )
    started |= {name: clock for name, clock in decision.retimed.items() if name not in stopped}
    case.trigger_event(
        decision.event,
        timestamp=ctx.now,
        actor=actor,
        status=transition.dest,
        clocks_started=started,
        clocks_stopped=stopped,
        previous_hash=case.head_hash,
        **decision.data,
    )


def authorize(case: Case, action: str, actor: Actor, ctx: Context) -> None:
    """Refuse an actor whose role lacks the action, or a mediator on another mediator's case."""
    spec = ctx.workflow.action(action)
    if actor.role not in spec.roles:
        allowed = ", ".join(sorted(spec.roles))
        raise PermissionDeniedError(
            f"role '{actor.role}' may not '{action}'; roles that may: {allowed}"
        )
    if (
        actor.role == Role.MEDIATOR
        and case.mediator != actor.user
        and action not in SHARED_WITH_OTHER_MEDIATORS
    ):
        if case.mediator is None:  # received from a transfer with no one named, or not routed
            raise PermissionDeniedError(
                f"the case has no mediator yet: a mediator may '{action}' once assigned "
                "(assign_mediator)"
            )
        raise PermissionDeniedError(f"only the case's mediator ({case.mediator}) may '{action}'")


def blocking_guard(case: Case, action: str, ctx: Context) -> tuple[str, str] | None:
    """The first guard (name, rule) that already forbids `action`, whatever its values."""
    for guard in ctx.workflow.action(action).guards:
        if GUARDS[guard](case, c.Command(), ctx) is not None:
            return guard, ctx.workflow.definition.guards[guard]
    return None


def _transition(case: Case, command: c.Command, actor: Actor, ctx: Context) -> Transition:
    try:
        return ctx.workflow.decide(
            case.status, command.ACTION, lambda guard: GUARDS[guard](case, command, ctx)
        )
    except ActionUnavailableError as refusal:
        yours = [a for a in refusal.allowed if actor.role in ctx.workflow.action(a).roles]
        raise ActionNotAllowedError(refusal.action, refusal.status, yours) from None
    except GuardRefusedError as refusal:
        raise RuleViolationError(
            refusal.action, refusal.guard, refusal.rule, refusal.detail
        ) from None


def number_parties(parties: tuple[c.NewParty, ...]) -> list[Party]:
    return [
        Party(f"p{n}", party.role, party.name, party.phone, party.id_number)
        for n, party in enumerate(parties, start=1)
    ]


def _party(case: Case, field_name: str, party: str) -> str:
    if party not in case.party_ids():
        known = ", ".join(case.party_ids())
        raise InvalidFieldError(field_name, f"no party '{party}' in this case (parties: {known})")
    return party


def _mediator(case: Case, mediator: str, ctx: Context) -> str:
    if not ctx.directory.is_mediator_of(mediator, case.center):
        raise InvalidFieldError(
            "mediator", f"'{mediator}' is not a mediator of center {case.center}"
        )
    return mediator


def _amend(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    """The changed fields; a new complexity also moves the deadlines that depend on it."""
    assert isinstance(cmd, c.Amend)
    names = ("summary", "dispute_type", "channel", "place", "complexity")
    changes = {n: str(getattr(cmd, n)) for n in names if getattr(cmd, n) is not None}
    parties = number_parties(cmd.parties) if cmd.parties is not None else None
    moved = {}
    if "complexity" in changes:
        moved = retimed(
            ctx.workflow,
            case.clocks,
            case.complexity,
            changes["complexity"],
            ctx.calendar,
            case.extensions,
        )
    return Decision(Case.Amended, {"changes": changes, "parties": parties}, retimed=moved)


def _grade_risk(_case: Case, cmd: c.Command, _ctx: Context) -> Decision:
    assert isinstance(cmd, c.GradeRisk)
    return Decision(Case.RiskGraded, {"risk": str(cmd.risk), "reason": cmd.reason})


def _route(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.Route)
    return Decision(Case.Routed, {"mediator": _mediator(case, cmd.mediator, ctx)})


def _receive_transfer(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.ReceiveTransfer)
    mediator = _mediator(case, cmd.mediator, ctx) if cmd.mediator else None
    unit = case.transfer["unit"] if case.transfer else ""
    return Decision(Case.TransferReceived, {"unit": unit, "mediator": mediator})


def _return_transfer(case: Case, cmd: c.Command, _ctx: Context) -> Decision:
    assert isinstance(cmd, c.ReturnTransfer)
    unit = case.transfer["unit"] if case.transfer else ""
    return Decision(Case.TransferReturned, {"unit": unit, "reason": cmd.reason})


def _record_consent(case: Case, cmd: c.Command, _ctx: Context) -> Decision:
    assert isinstance(cmd, c.RecordConsent)
    party = _party(case, "party", cmd.party)
    return Decision(
        Case.ConsentRecorded, {"party": party, "consent": cmd.consent, "note": cmd.note}
    )


def _assign_mediator(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.AssignMediator)
    mediator = _mediator(case, cmd.mediator, ctx)
    data = {"mediator": mediator, "previous": case.mediator, "reason": cmd.reason}
    return Decision(Case.MediatorAssigned, data)


def _extend_deadline(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.ExtendDeadline)
    for index, party in enumerate(cmd.consented_by):
        _party(case, f"consented_by[{index}]", party)
    name, spec = next(
        (n, s) for n, s in ctx.workflow.definition.clocks.items() if s.extended_by == cmd.ACTION
    )
    due = due_after(spec, case.clocks[name]["due_at"], cmd.days, ctx.calendar)
    data = {
        "clock": name,
        "days": cmd.days,
        "due_at": due,
        "reason": cmd.reason,
        "consented_by": list(cmd.consented_by),
    }
    return Decision(Case.DeadlineExtended, data)


def _reach_agreement(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.ReachAgreement)
    for index, party in enumerate(cmd.signed_by):
        _party(case, f"signed_by[{index}]", party)
    effective_on = cmd.signed_on or ctx.today
    if effective_on > ctx.today:
        raise InvalidFieldError("signed_on", "must not be in the future")
    began = _mediation_began(case, cmd.ACTION, ctx)
    if effective_on < began:
        raise InvalidFieldError("signed_on", f"must not be before mediation began ({began})")
    local_now = ctx.now.astimezone(ctx.calendar.zone)
    anchor = (
        ctx.now if effective_on == ctx.today else datetime.combine(effective_on, local_now.timetz())
    )
    data = {"terms": cmd.terms, "signed_by": list(cmd.signed_by), "effective_on": effective_on}
    return Decision(Case.AgreementReached, data, clock_anchor=anchor)


def _mediation_began(case: Case, action: str, ctx: Context) -> date:
    """The day this mediation began where the centers are: when the clocks that `action` stops
    started (the mediation deadline's, from routing, a transfer received or a reopening), and
    never before the case was registered. An agreement signed earlier would start its
    follow-up and confirmation deadlines already past."""
    zone = ctx.calendar.zone
    began = case.created_on.astimezone(zone).date()
    for name, clock in case.clocks.items():
        spec = ctx.workflow.definition.clocks.get(name)
        if spec is not None and action in spec.stops:
            began = max(began, clock["started_at"].astimezone(zone).date())
    return began


def _apply_judicially(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.ApplyJudicially)
    applied_on = _applied_on(case, cmd, ctx)
    if applied_on > ctx.today:
        raise InvalidFieldError("applied_on", "must not be in the future")
    return Decision(
        Case.JudicialApplicationRecorded, {"court": cmd.court, "applied_on": applied_on}
    )


def _confirm_judicially(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.ConfirmJudicially)
    applied_on = _applied_on(case, cmd, ctx)
    if cmd.date > ctx.today:
        raise InvalidFieldError("date", "must not be in the future")
    if applied_on > cmd.date:
        raise InvalidFieldError("applied_on", "must not be after the decision's date")
    data = {
        "court": cmd.court,
        "decision": str(cmd.decision),
        "decided_on": cmd.date,
        "applied_on": applied_on,
    }
    return Decision(Case.JudicialConfirmationRecorded, data)


def _applied_on(case: Case, cmd: c.Command, ctx: Context) -> date:
    """The day the parties applied for confirmation (see `guards.application_date`), which
    cannot be before the agreement took effect."""
    assert case.agreement is not None
    applied_on = application_date(case, cmd, ctx.today)
    assert applied_on is not None  # a command about judicial confirmation
    effective = case.agreement["effective_on"]
    if applied_on < effective:
        raise InvalidFieldError(
            "applied_on", f"must not be before the agreement took effect ({effective})"
        )
    return applied_on


def _escalate(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.Escalate)
    target = case.escalated_to or case.center
    steps = 0
    while steps < cmd.levels and (parent := ctx.directory.parent_of(target)) is not None:
        target, steps = parent, steps + 1
    data = {
        "reason": cmd.reason,
        "level": case.escalation_level + steps,
        "to_center": target,
        "breach": None,
    }
    return Decision(Case.Escalated, data)


def _escalate_breach(case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.EscalateBreach)
    if cmd.breach in case.breaches:
        raise BreachEscalatedAlreadyError(cmd.breach)
    if cmd.breach not in {b.key for b in candidates(case, ctx.workflow.definition, ctx.calendar)}:
        raise BreachGoneError(cmd.breach)
    decision = _escalate(case, c.Escalate(reason=cmd.reason), ctx)
    return Decision(Case.Escalated, {**decision.data, "breach": cmd.breach})


def _supervise(_case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.Supervise)
    if cmd.due < ctx.today:
        raise InvalidFieldError("due", "must not be in the past")
    if cmd.due > ctx.today + timedelta(days=SUPERVISION_DAYS):
        raise InvalidFieldError("due", f"must be within {SUPERVISION_DAYS} days from today")
    return Decision(Case.SupervisionInstructed, {"instruction": cmd.instruction, "due": cmd.due})


# A session is scheduled within this many days of today, either way (one held already may be
# recorded late): a moment beyond what the calendar's ends can show stopped the case's page.
SESSION_DAYS = 366


def _schedule_session(_case: Case, cmd: c.Command, ctx: Context) -> Decision:
    assert isinstance(cmd, c.ScheduleSession)
    if abs(cmd.at - ctx.now) > timedelta(days=SESSION_DAYS):
        raise InvalidFieldError("at", f"must be within {SESSION_DAYS} days from today")
    return Decision(Case.SessionScheduled, {"at": cmd.at, "place": cmd.place})


def _answer_supervision(case: Case, cmd: c.Command, _ctx: Context) -> Decision:
    assert isinstance(cmd, c.AnswerSupervision)
    given = len(case.supervisions)
    if cmd.number > given:
        raise InvalidFieldError("number", f"the case has {given} supervision instruction(s)")
    if "answered_at" in case.supervisions[cmd.number - 1]:
        raise InvalidFieldError("number", f"instruction {cmd.number} was answered already")
    return Decision(Case.SupervisionAnswered, {"number": cmd.number, "answer": cmd.answer})


def _copy(event: type[Case.Event], *names: str) -> Callable[[Case, c.Command, Context], Decision]:
    """A handler whose event records the command's fields as given."""

    def handler(_case: Case, cmd: c.Command, _ctx: Context) -> Decision:
        return Decision(event, {name: _plain(getattr(cmd, name)) for name in names})

    return handler


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, str) else value


HANDLERS: dict[type[c.Command], Callable[[Case, c.Command, Context], Decision]] = {
    c.Amend: _amend,
    c.GradeRisk: _grade_risk,
    c.Accept: _copy(Case.Accepted, "note"),
    c.Reject: _copy(Case.Rejected, "reason"),
    c.Route: _route,
    c.Transfer: _copy(Case.TransferOffered, "unit", "reason"),
    c.ReceiveTransfer: _receive_transfer,
    c.ReturnTransfer: _return_transfer,
    c.RecordConsent: _record_consent,
    c.AssignMediator: _assign_mediator,
    c.ScheduleSession: _schedule_session,
    c.RecordSession: _copy(Case.SessionHeld, "summary"),
    c.ExtendDeadline: _extend_deadline,
    c.ReachAgreement: _reach_agreement,
    c.Terminate: _copy(Case.Terminated, "reason", "referral"),
    c.Withdraw: _copy(Case.Withdrawn, "reason"),
    c.ApplyJudicially: _apply_judicially,
    c.ConfirmJudicially: _confirm_judicially,
    c.RecordFollowUp: _copy(Case.FollowUpRecorded, "performed", "notes"),
    c.Close: _copy(Case.Closed, "outcome"),
    c.Reopen: _copy(Case.Reopened, "reason"),
    c.AddNote: _copy(Case.NoteAdded, "text"),
    c.AttachDocument: _copy(Case.DocumentAttached, "title", "reference", "media_type", "sha256"),
    c.Escalate: _escalate,
    c.EscalateBreach: _escalate_breach,
    c.Supervise: _supervise,
    c.AnswerSupervision: _answer_supervision,
}
assert set(HANDLERS) >= set(c.ACTION_COMMANDS.values()), "every action needs a handler"
