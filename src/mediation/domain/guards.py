"""The guards a workflow definition may name: each answers None (holds) or why it does not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time

from mediation.domain.case import Case
from mediation.domain.commands import (
    ApplyJudicially,
    AssignMediator,
    Command,
    ConfirmJudicially,
    ExtendDeadline,
    ReachAgreement,
)
from mediation.domain.ports import Context

Guard = Callable[[Case, Command, Context], str | None]


def _missing(case: Case, given: set[str]) -> str | None:
    missing = [party for party in case.party_ids() if party not in given]
    return f"missing: {', '.join(missing)}" if missing else None


def no_party_refused(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    refused = [party for party, consent in case.consents.items() if not consent]
    return f"refused by {', '.join(refused)}" if refused else None


def all_parties_consented(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    return _missing(case, {party for party, consent in case.consents.items() if consent})


def all_consent_to_extension(case: Case, cmd: Command, _ctx: Context) -> str | None:
    if not isinstance(cmd, ExtendDeadline):
        return None  # needs the command's values: cannot tell before it is given
    return _missing(case, set(cmd.consented_by))


def extension_available(case: Case, _cmd: Command, ctx: Context) -> str | None:
    clock = _extended_clock(ctx)
    if clock is None or clock not in case.clocks:
        return "no extendable deadline is running"
    limit = ctx.workflow.definition.clocks[clock].max_extensions
    used = case.extensions.get(clock, 0)
    return None if used < limit else f"extended {used} time(s) already; limit {limit}"


def _extended_clock(ctx: Context) -> str | None:
    for name, spec in ctx.workflow.definition.clocks.items():
        if spec.extended_by == "extend_deadline":
            return name
    return None


def signed_by_every_party(case: Case, cmd: Command, _ctx: Context) -> str | None:
    if not isinstance(cmd, ReachAgreement):
        return None  # needs the command's values: cannot tell before it is given
    return _missing(case, set(cmd.signed_by))


def application_date(case: Case, cmd: Command, today: date) -> date | None:
    """The day the parties applied for judicial confirmation, as the command gives it: the
    application's own (default today); for the court's decision, the recorded application's,
    else the decision's day. None for other commands."""
    if isinstance(cmd, ApplyJudicially):
        return cmd.applied_on or today
    if isinstance(cmd, ConfirmJudicially):
        application = case.applied_judicially
        recorded = application["applied_on"] if application is not None else None
        return cmd.applied_on or recorded or cmd.date
    return None


def within_confirmation_window(case: Case, cmd: Command, ctx: Context) -> str | None:
    """The parties applied within the window; a window whose last day is a holiday or a rest
    day ends on the next working day (Civil Code art. 203)."""
    applied = application_date(case, cmd, ctx.today)
    if applied is None:
        return None  # needs the command's values: cannot tell before it is given
    assert case.agreement is not None
    spec = ctx.workflow.definition.clocks.get("judicial_confirmation")
    days, unit = (spec.days_for(case.complexity), spec.unit) if spec else (30, "calendar")
    effective = datetime.combine(case.agreement["effective_on"], time(12), ctx.calendar.zone)
    last_day = ctx.calendar.on_working_day(ctx.calendar.add(effective, days, unit)).date()
    return None if applied <= last_day else f"applied {applied}, window ended {last_day}"


def not_applied_twice(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    application = case.applied_judicially
    if application is None:
        return None
    return f"the parties applied on {application['applied_on']} already"


def followed_up(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    return None if case.follow_ups else "no follow-up visit recorded"


def mediator_changes(case: Case, cmd: Command, _ctx: Context) -> str | None:
    if not isinstance(cmd, AssignMediator):
        return None  # needs the command's values: cannot tell before it is given
    return None if cmd.mediator != case.mediator else f"{cmd.mediator} is the mediator already"


def was_mediated(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    return None if case.was_mediated else f"closed as {case.outcome} before mediation"


def not_confirmed_twice(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    return None if case.judicial_confirmation is None else "a decision is recorded already"


def has_unanswered_supervision(case: Case, _cmd: Command, _ctx: Context) -> str | None:
    unanswered = [s for s in case.supervisions if "answered_at" not in s]
    return None if unanswered else "no supervision instruction awaits an answer"


def has_higher_level(case: Case, _cmd: Command, ctx: Context) -> str | None:
    current = case.escalated_to or case.center
    return None if ctx.directory.parent_of(current) else f"{current} is the top of the hierarchy"


GUARDS: dict[str, Guard] = {
    guard.__name__: guard
    for guard in (
        no_party_refused,
        all_parties_consented,
        all_consent_to_extension,
        extension_available,
        signed_by_every_party,
        within_confirmation_window,
        followed_up,
        mediator_changes,
        was_mediated,
        not_confirmed_twice,
        not_applied_twice,
        has_higher_level,
        has_unanswered_supervision,
    )
}
