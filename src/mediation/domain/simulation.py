"""Shadow-testing a rule change: replay a case's recorded history under another definition's clocks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mediation.domain.breaches import Run, deadline_periods
from mediation.domain.calendar import WorkingCalendar
from mediation.domain.case import Case
from mediation.domain.clocks import clock_changes, due_after, retimed
from mediation.workflows import Workflow

EVENT_ACTIONS: dict[type[Case.Event], str] = {
    Case.Registered: "register",
    Case.Amended: "amend",
    Case.RiskGraded: "grade_risk",
    Case.Accepted: "accept",
    Case.Rejected: "reject",
    Case.Routed: "route",
    Case.TransferOffered: "transfer",
    Case.TransferReceived: "receive_transfer",
    Case.TransferReturned: "return_transfer",
    Case.ConsentRecorded: "record_consent",
    Case.MediatorAssigned: "assign_mediator",
    Case.SessionScheduled: "schedule_session",
    Case.SessionHeld: "record_session",
    Case.DeadlineExtended: "extend_deadline",
    Case.AgreementReached: "reach_agreement",
    Case.Terminated: "terminate",
    Case.Withdrawn: "withdraw",
    Case.JudicialApplicationRecorded: "apply_judicially",
    Case.JudicialConfirmationRecorded: "confirm_judicially",
    Case.FollowUpRecorded: "record_follow_up",
    Case.Closed: "close",
    Case.Reopened: "reopen",
    Case.NoteAdded: "add_note",
    Case.DocumentAttached: "attach_document",
    Case.Escalated: "escalate",
    Case.SupervisionInstructed: "supervise",
    Case.SupervisionAnswered: "answer_supervision",
}
"""The action each kind of event records: how a history is read back as the actions it took."""


@dataclass(frozen=True, order=True)
class SimulatedBreach:
    at: datetime
    clock: str
    period: int


def deadline_breaches(
    events: Iterable[Case.Event],
    workflow: Workflow,
    calendar: WorkingCalendar,
    until: datetime,
) -> list[SimulatedBreach]:
    """The deadline breaches the history would have had under `workflow`'s clocks, up to `until`."""
    final_statuses = {s for s, spec in workflow.definition.statuses.items() if spec.final}
    running: dict[str, dict[str, datetime]] = {}
    complexity = "general"
    breaches: list[SimulatedBreach] = []
    for event in events:
        if isinstance(event, Case.Registered):
            complexity = event.complexity
        elif isinstance(event, Case.Amended) and "complexity" in event.changes:
            before, complexity = complexity, event.changes["complexity"]
            running.update(retimed(workflow, running, before, complexity, calendar))
        moment = event.timestamp
        action = EVENT_ACTIONS.get(type(event), "")
        if isinstance(event, Case.DeadlineExtended) and event.clock in running:
            spec = workflow.definition.clocks.get(event.clock)
            clock = running[event.clock]
            clock["due_at"] = due_after(spec, clock["due_at"], event.days, calendar)
        started, stopped = clock_changes(
            workflow,
            action,
            running,
            complexity,
            _anchor(event, calendar),
            event.status in final_statuses,
            calendar,
        )
        for name in stopped:
            breaches += _passed(workflow, calendar, name, running.pop(name), moment)
        running.update(started)
    for name, clock in running.items():
        breaches += _passed(workflow, calendar, name, clock, until)
    return sorted(breaches)


def _anchor(event: Case.Event, calendar: WorkingCalendar) -> datetime:
    """Where the event's clocks started, as the decision placed them: an agreement's at its
    effective day, at the time of day it was recorded where the centers are."""
    if isinstance(event, Case.AgreementReached):
        local = event.timestamp.astimezone(calendar.zone)
        if event.effective_on == local.date():
            return event.timestamp
        return datetime.combine(event.effective_on, local.timetz())
    return event.timestamp


def _passed(
    workflow: Workflow,
    calendar: WorkingCalendar,
    name: str,
    clock: dict[str, datetime],
    stopped_at: datetime,
) -> list[SimulatedBreach]:
    """The overdue periods of a clock run that began before it stopped, as the rules count them."""
    spec = workflow.definition.clocks.get(name)
    run = Run(name, clock["started_at"], clock["due_at"], spec.unit if spec else "calendar")
    periods = deadline_periods(run, workflow.definition.escalation.overdue_periods, calendar)
    return [
        SimulatedBreach(at, name, n)
        for n, (_key, at) in enumerate(periods, start=1)
        if at <= stopped_at
    ]
