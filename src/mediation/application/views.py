"""Plain, immutable views of a case for the boundaries; personal data masked where it must be."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from mediation.domain.case import Case
from mediation.domain.values import Actor, Party
from mediation.workflows import Workflow

PERSONAL_FIELDS = ("phone", "id_number")
MASK = "***"


@dataclass(frozen=True)
class DeadlineView:
    clock: str
    rule: str
    started_at: datetime
    due_at: datetime
    overdue: bool
    extensions: int


@dataclass(frozen=True)
class CaseView:
    id: UUID
    version: int
    workflow: str
    center: str
    phase: str
    status: str
    dispute_type: str
    channel: str
    summary: str
    place: str | None
    risk: str
    complexity: str
    parties: tuple[Party, ...]
    consents: dict[str, bool]
    mediator: str | None
    transfer: dict[str, Any] | None
    sessions: tuple[dict[str, Any], ...]
    agreement: dict[str, Any] | None
    judicial_application: dict[str, Any] | None
    judicial_confirmation: dict[str, Any] | None
    follow_ups: tuple[dict[str, Any], ...]
    outcome: str | None
    closed_at: datetime | None
    escalation_level: int
    escalated_to: str | None
    deadlines: tuple[DeadlineView, ...]
    notes: tuple[dict[str, Any], ...]
    documents: tuple[dict[str, Any], ...]
    supervisions: tuple[dict[str, Any], ...]
    registered_at: datetime
    registered_by: Actor
    updated_at: datetime
    personal_data_masked: bool


@dataclass(frozen=True)
class Saved:
    """A case after a command, and the log position of the last event it wrote (read your writes)."""

    view: CaseView
    position: int | None
    created: bool = False


@dataclass(frozen=True)
class ActionInfo:
    """An action the caller may take now, or the rule that blocks it for now."""

    action: str
    blocked_by: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    type: str
    at: datetime
    actor: Actor
    status_before: str | None
    status_after: str
    phase_before: str | None
    phase_after: str
    data: dict[str, Any]
    hash: str
    previous_hash: str
    chain_intact: bool  # False from the first event whose link to the one before is broken


@dataclass(frozen=True)
class ChainCheck:
    """Whether a case's stored events still form the chain they were written as."""

    case_id: UUID
    events: int
    intact: bool
    head: str
    problem: str | None = None


def mask_party(party: Party) -> Party:
    # Built directly, not by dataclasses.replace: the audit view masks every party it writes.
    return Party(
        party.id,
        party.role,
        party.name,
        MASK if party.phone is not None else None,
        MASK if party.id_number is not None else None,
    )


def case_view(case: Case, workflow: Workflow, now: datetime, masked: bool) -> CaseView:
    parties = tuple(mask_party(p) if masked else p for p in case.parties)
    clocks = workflow.definition.clocks
    deadlines = tuple(
        DeadlineView(
            clock=name,
            rule=clocks[name].rule if name in clocks else "",
            started_at=clock["started_at"],
            due_at=clock["due_at"],
            overdue=clock["due_at"] < now,
            extensions=case.extensions.get(name, 0),
        )
        for name, clock in sorted(case.clocks.items(), key=lambda item: item[1]["due_at"])
    )
    assert case.registered_by is not None
    return CaseView(
        id=case.id,
        version=case.version,
        workflow=case.workflow,
        center=case.center,
        phase=workflow.definition.phase_of(case.status),
        status=case.status,
        dispute_type=case.dispute_type,
        channel=case.channel,
        summary=case.summary,
        place=case.place,
        risk=case.risk,
        complexity=case.complexity,
        parties=parties,
        consents=dict(case.consents),
        mediator=case.mediator,
        transfer=case.transfer,
        sessions=tuple(case.sessions),
        agreement=case.agreement,
        judicial_application=case.applied_judicially,
        judicial_confirmation=case.judicial_confirmation,
        follow_ups=tuple(case.follow_ups),
        outcome=case.outcome,
        closed_at=case.closed_at,
        escalation_level=case.escalation_level,
        escalated_to=case.escalated_to,
        deadlines=deadlines,
        notes=tuple(case.notes),
        documents=tuple(case.documents),
        supervisions=tuple(case.supervisions),
        registered_at=case.created_on,
        registered_by=case.registered_by,
        updated_at=case.modified_on,
        personal_data_masked=masked,
    )


BASE_FIELDS = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "originator_topic",
        "actor",
        "status",
        "fingerprint",
        "previous_hash",
    }
)


def event_data(event: Case.Event, masked: bool) -> dict[str, Any]:
    """An event's own facts as plain JSON-ready values."""
    return {
        name: _plain(value, masked)
        for name, value in vars(event).items()
        if name not in BASE_FIELDS
    }


def _plain(value: Any, masked: bool) -> Any:
    if isinstance(value, Party):
        return dataclasses.asdict(mask_party(value) if masked else value)
    if isinstance(value, list | tuple):
        return [_plain(item, masked) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item, masked) for key, item in value.items()}
    if isinstance(value, datetime | date | UUID):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    return value
