"""The Case aggregate: one dispute's event stream. Its events only record; decisions are elsewhere."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from mediation.domain.chain import GENESIS, digest
from mediation.domain.values import Actor, Party

Clocks = dict[str, dict[str, Any]]


class Case(Aggregate):
    """A dispute. State changes only by applying recorded events, so replay needs no rules."""

    def __init__(self) -> None:
        self.workflow = ""
        self.center = ""
        self.status = ""
        self.dispute_type = ""
        self.channel = ""
        self.summary = ""
        self.place: str | None = None
        self.risk = ""
        self.risk_since: datetime | None = None
        self.complexity = ""
        self.parties: list[Party] = []
        self.registered_by: Actor | None = None
        self.fingerprint = ""
        self.mediator: str | None = None
        self.was_mediated = False
        self.transfer: dict[str, Any] | None = None
        self.consents: dict[str, bool] = {}
        self.sessions: list[dict[str, Any]] = []
        self.agreement: dict[str, Any] | None = None
        self.judicial_confirmation: dict[str, Any] | None = None
        self.follow_ups: list[dict[str, Any]] = []
        self.outcome: str | None = None
        self.closed_at: datetime | None = None
        self.escalation_level = 0
        self.escalated_to: str | None = None
        self.breaches: list[str] = []
        self.notes: list[dict[str, Any]] = []
        self.documents: list[dict[str, Any]] = []
        self.supervisions: list[dict[str, Any]] = []
        self.clocks: Clocks = {}
        self.extensions: dict[str, int] = {}
        # Per running clock: its breaches escalated before its last extension (see `spent`).
        self.spent_before_extension: dict[str, list[str]] = {}
        self.reopened_at: datetime | None = None  # the last reopening (see `last_reopened`)
        self.judicial_application: dict[str, Any] | None = None  # see `applied_judicially`
        self.head_hash = GENESIS

    def party_ids(self) -> list[str]:
        return [party.id for party in self.parties]

    @property
    def applied_judicially(self) -> dict[str, Any] | None:
        """The parties' application for judicial confirmation of the agreement in force (None:
        none recorded; snapshots taken before applications were recorded lack it)."""
        application: dict[str, Any] | None = self.__dict__.get("judicial_application")
        return application

    def spent(self, clock: str) -> frozenset[str]:
        """The breach keys of `clock` escalated before its last extension (none: never
        extended, or extended before this was recorded in a snapshot)."""
        return frozenset(self.__dict__.get("spent_before_extension", {}).get(clock, ()))

    @property
    def last_reopened(self) -> datetime | None:
        """When the case was last reopened (None: never). Snapshots taken before this was
        recorded lack it, as a case never reopened since does."""
        moment: datetime | None = self.__dict__.get("reopened_at")
        return moment

    class Event(Aggregate.Event):
        """Every fact about a case: who did it, the status it left, the clocks it moved."""

        actor: Actor
        status: str
        clocks_started: Clocks
        clocks_stopped: list[str]
        previous_hash: str  # the digest of the event before: the chain `audit verify` checks

        def apply(self, aggregate: Any) -> None:
            case: Case = aggregate
            case.head_hash = digest(self)
            case.status = self.status
            for name in self.clocks_stopped:
                case.clocks.pop(name, None)
            for name, clock in self.clocks_started.items():
                case.clocks[name] = dict(clock)
                case.extensions.pop(name, None)  # a new run of a clock has its own extensions
                case.__dict__.get("spent_before_extension", {}).pop(name, None)
            self.record(case)

        def record(self, case: Case) -> None:
            """Assign this event's own facts; never decide anything here."""

    class Registered(Event, Aggregate.Created):
        workflow: str
        center: str
        dispute_type: str
        channel: str
        summary: str
        place: str | None
        risk: str
        complexity: str
        parties: list[Party]
        fingerprint: str

        def record(self, case: Case) -> None:
            case.workflow = self.workflow
            case.center = self.center
            case.dispute_type = self.dispute_type
            case.channel = self.channel
            case.summary = self.summary
            case.place = self.place
            case.risk = self.risk
            case.risk_since = self.timestamp
            case.complexity = self.complexity
            case.parties = list(self.parties)
            case.registered_by = self.actor
            case.fingerprint = self.fingerprint

    class Amended(Event):
        changes: dict[str, Any]
        parties: list[Party] | None

        def record(self, case: Case) -> None:
            for name, value in self.changes.items():
                setattr(case, name, value)
            if self.parties is not None:
                case.parties = list(self.parties)

    class RiskGraded(Event):
        risk: str
        reason: str | None

        def record(self, case: Case) -> None:
            if self.risk != case.risk:  # graded the same again: the same risk since then
                case.risk_since = self.timestamp
            case.risk = self.risk

    class Accepted(Event):
        note: str | None

    class Rejected(Event):
        reason: str

        def record(self, case: Case) -> None:
            case.outcome = "rejected"
            case.closed_at = self.timestamp

    class Routed(Event):
        mediator: str

        def record(self, case: Case) -> None:
            case.mediator = self.mediator
            case.was_mediated = True

    class TransferOffered(Event):
        unit: str
        reason: str

        def record(self, case: Case) -> None:
            case.transfer = {"unit": self.unit, "reason": self.reason, "offered_at": self.timestamp}

    class TransferReceived(Event):
        unit: str
        mediator: str | None

        def record(self, case: Case) -> None:
            case.transfer = None
            case.mediator = self.mediator
            case.was_mediated = True

    class TransferReturned(Event):
        unit: str
        reason: str

        def record(self, case: Case) -> None:
            case.transfer = None

    class ConsentRecorded(Event):
        party: str
        consent: bool
        note: str | None

        def record(self, case: Case) -> None:
            case.consents[self.party] = self.consent

    class MediatorAssigned(Event):
        mediator: str
        previous: str | None
        reason: str

        def record(self, case: Case) -> None:
            case.mediator = self.mediator

    class SessionScheduled(Event):
        at: datetime
        place: str

        def record(self, case: Case) -> None:
            case.sessions.append({"scheduled_at": self.at, "place": self.place, "held": False})

    class SessionHeld(Event):
        summary: str

        def record(self, case: Case) -> None:
            pending = [s for s in case.sessions if not s["held"]]
            if pending:
                pending[0].update(held=True, held_at=self.timestamp, summary=self.summary)
            else:
                case.sessions.append(
                    {
                        "scheduled_at": None,
                        "place": None,
                        "held": True,
                        "held_at": self.timestamp,
                        "summary": self.summary,
                    }
                )

    class DeadlineExtended(Event):
        clock: str
        days: int
        due_at: datetime
        reason: str
        consented_by: list[str]

        def record(self, case: Case) -> None:
            case.clocks[self.clock] = dict(case.clocks[self.clock], due_at=self.due_at)
            case.extensions[self.clock] = case.extensions.get(self.clock, 0) + 1
            # The deadline's breaches escalated so far were about its old due moment: the new
            # one passing is a breach of its own (`breaches.deadline_periods`).
            spent = [key for key in case.breaches if key.startswith(f"deadline:{self.clock}:")]
            case.__dict__.setdefault("spent_before_extension", {})[self.clock] = spent

    class AgreementReached(Event):
        terms: str
        signed_by: list[str]
        effective_on: date

        def record(self, case: Case) -> None:
            case.agreement = {
                "terms": self.terms,
                "signed_by": list(self.signed_by),
                "effective_on": self.effective_on,
            }

    class Terminated(Event):
        reason: str
        referral: str

        def record(self, case: Case) -> None:
            case.outcome = "referred"
            case.closed_at = self.timestamp

    class Withdrawn(Event):
        reason: str

        def record(self, case: Case) -> None:
            case.outcome = "withdrawn"
            case.closed_at = self.timestamp
            case.transfer = None  # an offer still pending lapses with the case

    class JudicialApplicationRecorded(Event):
        court: str
        applied_on: date

        def record(self, case: Case) -> None:
            case.judicial_application = {"court": self.court, "applied_on": self.applied_on}

    class JudicialConfirmationRecorded(Event):
        court: str
        decision: str
        decided_on: date
        applied_on: date

        def record(self, case: Case) -> None:
            case.judicial_confirmation = {
                "court": self.court,
                "decision": self.decision,
                "decided_on": self.decided_on,
                "applied_on": self.applied_on,
            }

    class FollowUpRecorded(Event):
        performed: bool
        notes: str | None

        def record(self, case: Case) -> None:
            case.follow_ups.append(
                {"at": self.timestamp, "performed": self.performed, "notes": self.notes}
            )

    class Closed(Event):
        outcome: str

        def record(self, case: Case) -> None:
            case.outcome = self.outcome
            case.closed_at = self.timestamp

    class Reopened(Event):
        reason: str

        def record(self, case: Case) -> None:
            case.outcome = None
            case.closed_at = None
            case.agreement = None
            case.judicial_application = None
            case.judicial_confirmation = None
            case.follow_ups = []
            # A new mediation: each party consents to it afresh (PML art. 17: mediation is
            # voluntary), and the instructions given before the case closed were settled by it.
            case.consents = {}
            case.reopened_at = self.timestamp

    class NoteAdded(Event):
        text: str

        def record(self, case: Case) -> None:
            case.notes.append({"at": self.timestamp, "by": self.actor.user, "text": self.text})

    class DocumentAttached(Event):
        title: str
        reference: str
        media_type: str | None
        sha256: str | None

        def record(self, case: Case) -> None:
            case.documents.append(
                {
                    "title": self.title,
                    "reference": self.reference,
                    "media_type": self.media_type,
                    "sha256": self.sha256,
                    "at": self.timestamp,
                    "by": self.actor.user,
                }
            )

    class Escalated(Event):
        reason: str
        level: int
        to_center: str
        breach: str | None  # set when a rule escalates: the breach it answers, never twice

        def record(self, case: Case) -> None:
            case.escalation_level = self.level
            case.escalated_to = self.to_center
            if self.breach is not None:
                case.breaches.append(self.breach)

    class SupervisionAnswered(Event):
        number: int  # the instruction's, counted from 1
        answer: str

        def record(self, case: Case) -> None:
            instruction = case.supervisions[self.number - 1]
            instruction.update(answer=self.answer, answered_by=self.actor.user)
            instruction["answered_at"] = self.timestamp

    class SupervisionInstructed(Event):
        instruction: str
        due: date

        def record(self, case: Case) -> None:
            case.supervisions.append(
                {
                    "instruction": self.instruction,
                    "due": self.due,
                    "by": self.actor.user,
                    "at": self.timestamp,
                }
            )


def event_types() -> list[str]:
    """The names of the case's events, as the history and the audit trail report them."""
    return [
        name
        for name, value in vars(Case).items()
        if isinstance(value, type)
        and issubclass(value, Case.Event)
        and value is not Case.Event
        and name != "Created"  # the library's generic creation event; cases begin Registered
    ]
