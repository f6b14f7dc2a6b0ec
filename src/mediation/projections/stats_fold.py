"""How one event changes a case's statistics row and which facts it adds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from uuid import UUID

from mediation.domain.case import Case
from mediation.projections.parties import PartyKeys
from mediation.projections.phases import Statuses
from mediation.projections.queue import moved_clocks, next_deadline
from mediation.projections.stats_parts import PartNotes
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
    known: set[UUID] = field(default_factory=set)  # cases registered before this chunk
    loaded: set[UUID] = field(default_factory=set)  # cases whose row was read from the table
    dirty: set[UUID] = field(default_factory=set)
    keys: dict[UUID, set[str]] = field(default_factory=dict)  # party keys set in this chunk
    stored_matches: dict[str, set[UUID]] = field(default_factory=dict)
    new_keys: dict[str, set[UUID]] = field(default_factory=dict)
    facts: list[Row] = field(default_factory=list)
    registered_keys: dict[UUID, set[str]] = field(default_factory=dict)  # hashed once
    stored_keys: dict[UUID, list[str]] = field(default_factory=dict)  # as the rows were read
    # Applying one part of the cases (see `stats_parts`): re-disputes are decided later.
    notes: PartNotes | None = None

    def prepare(self, chunk: Sequence[Recorded], party_keys: PartyKeys) -> set[str]:
        """Note the stored cases this chunk touches; return the keys of new cases' parties."""
        for recorded in chunk:
            event = recorded.event
            if isinstance(event, Case.Registered):
                self.registered_keys[event.originator_id] = party_keys.keys(event.parties)
        self.known = {r.event.originator_id for r in chunk} - set(self.registered_keys)
        return {key for keys in self.registered_keys.values() for key in keys}

    def set_keys(self, position: int, case_id: UUID, keys: set[str], registering: bool) -> None:
        self.keys[case_id] = keys
        self.rows[case_id]["party_keys"] = ordered = sorted(keys)
        for key in keys:
            self.new_keys.setdefault(key, set()).add(case_id)
        if self.notes is not None:
            self.notes.keys.append((position, case_id.int, tuple(ordered), registering))

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


# Facts an event type always adds; the others depend on the case (see `_facts_of`).
PLAIN_FACTS: dict[type[Case.Event], tuple[str, ...]] = {
    Case.Accepted: ("accepted",),
    Case.Rejected: ("rejected",),
    Case.TransferOffered: ("transferred",),
    Case.AgreementReached: ("agreement", "concluded"),
    Case.Terminated: ("concluded",),
    Case.Escalated: ("escalated",),
}


def fold(
    state: Chunk, recorded: Recorded, statuses: Statuses, party_keys: PartyKeys, zone: tzinfo
) -> None:
    """Apply one event to its case's row and add the facts it makes."""
    event = recorded.event
    if isinstance(event, Case.Registered):
        state.rows[event.originator_id] = _registered(event)
    row = state.rows[event.originator_id]
    state.dirty.add(event.originator_id)
    before = row["status"]
    was_final = before is not None and statuses.is_final(row["workflow"], before)
    _move_clocks(row, event)
    row["status"] = event.status
    row["is_open"] = not statuses.is_final(row["workflow"], event.status)
    kinds = [*PLAIN_FACTS.get(type(event), ()), *_facts_of(state, recorded, row, party_keys)]
    withdrawn = isinstance(event, Case.Withdrawn) and before is not None
    if withdrawn and statuses.phase(row["workflow"], before) == MEDIATION_PHASE:
        kinds.append("concluded")  # withdrawn during mediation: it ended without agreement
    for kind in kinds:
        state.facts.append(_fact(recorded, row, kind, None, None, zone))
    if not row["is_open"] and not was_final:
        days = (event.timestamp - row["registered_at"]).total_seconds() / SECONDS_PER_DAY
        state.facts.append(_fact(recorded, row, "closed", _outcome(event), days, zone))
    if state.notes is not None and row["is_open"] == was_final:  # closed, or open again
        state.notes.closed.append((recorded.position, event.originator_id.int, not row["is_open"]))


def _facts_of(state: Chunk, recorded: Recorded, row: Row, party_keys: PartyKeys) -> list[str]:
    """The facts that depend on the case, and the row's fields those decisions keep."""
    event, position = recorded.event, recorded.position
    case_id = event.originator_id
    if isinstance(event, Case.Registered):
        keys = state.registered_keys[case_id]
        # Applying a part, the cases it shares parties with may be in other parts: decided
        # once all are in (see `stats_parts`).
        again = state.notes is None and state.shares_party_with_closed_case(case_id, keys)
        state.set_keys(position, case_id, keys, registering=True)
        return ["registered", "re_dispute"] if again else ["registered"]
    if isinstance(event, Case.Amended):
        for name in ("dispute_type", "channel"):
            if name in event.changes:
                row[name] = str(event.changes[name])
        if event.parties is not None:
            state.set_keys(position, case_id, party_keys.keys(event.parties), registering=False)
    elif isinstance(event, Case.AgreementReached):
        row["resolved_counted"] = False  # a new agreement: its performance counts anew
    elif (
        isinstance(event, Case.FollowUpRecorded) and event.performed and not row["resolved_counted"]
    ):
        row["resolved_counted"] = True
        return ["resolved"]
    return []


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
        "party_keys": [],
    }


def _move_clocks(row: Row, event: Case.Event) -> None:
    clocks = moved_clocks(row["clocks"], event)
    if clocks is not None:  # else the running clocks stay as they are
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
    day, week, month = _periods(at.astimezone(zone).date())
    return {
        "position": recorded.position,
        "kind": kind,
        "center": row["center"],
        "dispute_type": row["dispute_type"],
        "channel": row["channel"],
        "outcome": outcome,
        "day": day,
        "week": week,
        "month": month,
        "days": days,
    }


@lru_cache(maxsize=4096)
def _periods(day: date) -> tuple[date, date, date]:
    """A local day, its week (its Monday) and its month (the 1st): a rebuild asks for the same
    few hundred days again and again."""
    return day, day - timedelta(days=day.weekday()), date(day.year, day.month, 1)
