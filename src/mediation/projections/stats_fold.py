"""How one event changes a case's statistics row and which facts it adds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

from mediation.domain.case import Case
from mediation.projections.parties import PartyKeys
from mediation.projections.phases import Statuses
from mediation.projections.queue import next_deadline, utc_iso
from mediation.projections.view import Recorded

MEDIATION_PHASE = "mediation"
SECONDS_PER_DAY = 86_400
Row = dict[str, Any]

# The outcome a case closes with, by the event that closed it.
OUTCOMES: dict[type[Case.Event], str] = {
    Case.Rejected: "rejected",
    Case.Terminated: "referred",
    Case.Withdrawn: "withdrawn",
}


@dataclass
class Chunk:
    """The state one chunk of events is folded into before it is written."""

    rows: dict[UUID, Row] = field(default_factory=dict)
    known: set[UUID] = field(default_factory=set)  # cases stored before this chunk
    dirty: set[UUID] = field(default_factory=set)
    keys: dict[UUID, set[str]] = field(default_factory=dict)  # party keys set in this chunk
    stored_matches: dict[str, set[UUID]] = field(default_factory=dict)
    new_keys: dict[str, set[UUID]] = field(default_factory=dict)
    facts: list[Row] = field(default_factory=list)

    def prepare(self, chunk: Sequence[Recorded], party_keys: PartyKeys) -> set[str]:
        """Note the stored cases this chunk touches; return the keys of new cases' parties."""
        new = set()
        wanted: set[str] = set()
        for recorded in chunk:
            event = recorded.event
            if isinstance(event, Case.Registered):
                new.add(event.originator_id)
                wanted |= party_keys.keys(event.parties)
        self.known = {r.event.originator_id for r in chunk} - new
        return wanted

    def set_keys(self, case_id: UUID, keys: set[str]) -> None:
        self.keys[case_id] = keys
        for key in keys:
            self.new_keys.setdefault(key, set()).add(case_id)

    def shares_party_with_closed_case(self, case_id: UUID, keys: set[str]) -> bool:
        """A re-dispute: one of these parties is, right now, a party of a closed case."""
        for key in keys:
            others = self.stored_matches.get(key, set()) | self.new_keys.get(key, set())
            for other in others - {case_id}:
                current = self.keys.get(other)
                if current is not None and key not in current:
                    continue  # amended away in this chunk
                row = self.rows.get(other)
                if row is not None and not row["is_open"]:
                    return True
        return False


def fold(
    state: Chunk, recorded: Recorded, statuses: Statuses, party_keys: PartyKeys, zone: tzinfo
) -> None:
    event = recorded.event
    case_id = event.originator_id
    if isinstance(event, Case.Registered):
        state.rows[case_id] = _registered(event)
    row = state.rows[case_id]
    state.dirty.add(case_id)
    before = row["status"]
    was_final = before is not None and statuses.is_final(row["workflow"], before)
    _move_clocks(row, event)
    row["status"] = event.status
    row["is_open"] = not statuses.is_final(row["workflow"], event.status)

    def fact(kind: str, outcome: str | None = None, days: float | None = None) -> None:
        state.facts.append(_fact(recorded, row, kind, outcome, days, zone))

    if isinstance(event, Case.Registered):
        keys = party_keys.keys(event.parties)
        fact("registered")
        if state.shares_party_with_closed_case(case_id, keys):
            fact("re_dispute")
        state.set_keys(case_id, keys)
    elif isinstance(event, Case.Amended):
        for name in ("dispute_type", "channel"):
            if name in event.changes:
                row[name] = str(event.changes[name])
        if event.parties is not None:
            state.set_keys(case_id, party_keys.keys(event.parties))
    elif isinstance(event, Case.Accepted):
        fact("accepted")
    elif isinstance(event, Case.Rejected):
        fact("rejected")
    elif isinstance(event, Case.TransferOffered):
        fact("transferred")
    elif isinstance(event, Case.AgreementReached):
        fact("agreement")
        fact("concluded")
        row["resolved_counted"] = False
    elif isinstance(event, Case.Terminated) or (
        isinstance(event, Case.Withdrawn)
        and before is not None
        and statuses.phase(row["workflow"], before) == MEDIATION_PHASE
    ):
        fact("concluded")
    elif isinstance(event, Case.FollowUpRecorded) and event.performed:
        if not row["resolved_counted"]:
            fact("resolved")
            row["resolved_counted"] = True
    elif isinstance(event, Case.Escalated):
        fact("escalated")
    if not row["is_open"] and not was_final:
        days = (event.timestamp - row["registered_at"]).total_seconds() / SECONDS_PER_DAY
        fact("closed", _outcome(event), days)


def _registered(event: Case.Registered) -> Row:
    return {
        "case_id": event.originator_id,
        "workflow": event.workflow,
        "center": event.center,
        "dispute_type": event.dispute_type,
        "channel": event.channel,
        "registered_at": event.timestamp,
        "status": None,
        "clocks": {},
        "next_due": None,
        "resolved_counted": False,
    }


def _move_clocks(row: Row, event: Case.Event) -> None:
    clocks = dict(row["clocks"])
    for name in event.clocks_stopped:
        clocks.pop(name, None)
    for name, clock in event.clocks_started.items():
        clocks[name] = utc_iso(clock["due_at"])
    if isinstance(event, Case.DeadlineExtended):
        clocks[event.clock] = utc_iso(event.due_at)
    row["clocks"] = clocks
    row["next_due"] = next_deadline(clocks)[0]


def _outcome(event: Case.Event) -> str:
    if isinstance(event, Case.Closed):
        return str(event.outcome)
    return OUTCOMES.get(type(event), event.status)


def _fact(
    recorded: Recorded,
    row: Row,
    kind: str,
    outcome: str | None,
    days: float | None,
    zone: tzinfo,
) -> Row:
    at: datetime = recorded.event.timestamp
    day = at.astimezone(zone).date()
    return {
        "position": recorded.position,
        "kind": kind,
        "case_id": row["case_id"],
        "center": row["center"],
        "dispute_type": row["dispute_type"],
        "channel": row["channel"],
        "outcome": outcome,
        "at": at,
        "day": day,
        "week": day - timedelta(days=day.weekday()),
        "month": date(day.year, day.month, 1),
        "days": days,
    }
