"""Finding one party's cases in a center: by their ID number, or by their name and phone.

A caller at the hotline or the window asks "what became of my dispute?" and seldom knows a
case's id. The statistics view already keeps, for every case, a keyed hash of each party
(`PartyKeys`: of the ID number, else of the name with the phone's digits) to count
re-disputes; the lookup hashes what the clerk typed the same way and matches the hashes. No
number is stored or compared in the clear, and only the cases of the caller's own center are
found: parties' details are for the staff of the case's center (PML art. 15), so a center
above cannot learn from a number which of its towns' cases are that person's.

A party registered with an ID number is found by that number; one registered without, by
name and phone: a case holds one key per party, the ID number's when it has one.
"""

from __future__ import annotations

from collections.abc import Collection, Set
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection, select

from mediation.domain.commands import (
    ID_NUMBER_RULE,
    PHONE_RULE,
    SHORT,
    check_text,
    check_unicode,
    looks_like_id_number,
    looks_like_phone,
)
from mediation.domain.errors import InvalidFieldError
from mediation.projections.parties import PartyKeys
from mediation.projections.phases import Statuses
from mediation.projections.queue import QueueTables
from mediation.projections.stats import StatsTables

# Cases one lookup lists at most, the latest registered first (`PartyCases.more` says if
# there were more): one person's disputes in one center, not a list to page through.
PARTY_CASES_MOST = 100


@dataclass(frozen=True)
class PartyQuery:
    """Whose cases to find in `center` (the caller's own): an ID number, or a name with a
    phone, or all three (a case matching either is found)."""

    center: str
    id_number: str | None = None
    name: str | None = None
    phone: str | None = None

    def check(self) -> None:
        """Refuse a lookup that can match nothing, naming the field (InvalidFieldError)."""
        for field in ("id_number", "name", "phone"):
            check_unicode(field, getattr(self, field))
        if self.id_number is None and self.name is None and self.phone is None:
            raise InvalidFieldError("id_number", "give an ID number, or a name and a phone")
        if self.id_number is not None and not looks_like_id_number(self.id_number.strip()):
            raise InvalidFieldError("id_number", ID_NUMBER_RULE)
        if self.name is not None and self.phone is None:
            raise InvalidFieldError("phone", "a name is looked up with a phone: give both")
        if self.phone is not None and self.name is None:
            raise InvalidFieldError("name", "a phone is looked up with a name: give both")
        check_text("name", self.name, SHORT)
        if self.phone is not None and not looks_like_phone(self.phone):
            raise InvalidFieldError("phone", PHONE_RULE)

    def keys(self, party_keys: PartyKeys) -> set[str]:
        """The party keys a matching case holds one of."""
        found = set()
        if self.id_number is not None:
            found.add(party_keys.of_id_number(self.id_number))
        if self.name is not None and self.phone is not None:
            found.add(party_keys.of_name_and_phone(self.name, self.phone))
        return found


@dataclass(frozen=True)
class PartyCase:
    """A case of the party: enough to tell it from their others, and its id to open it.
    `summary` is the queue view's (None while that view has not reached the case)."""

    id: UUID
    summary: str | None
    center: str
    dispute_type: str
    channel: str
    phase: str
    status: str
    closed: bool
    registered_at: datetime


@dataclass(frozen=True)
class PartyCases:
    items: list[PartyCase]  # the latest registered first
    more: bool  # more than PARTY_CASES_MOST matched: the oldest are left out


def find_party_cases(
    conn: Connection, tables: StatsTables, keys: Set[str], center: str, statuses: Statuses
) -> PartyCases:
    """The cases of `center` one of whose parties has one of `keys`, the latest registered
    first; each key's cases from the parties' index, each case's row by its id."""
    c, p = tables.cases.c, tables.parties.c
    matching = select(p.case_id).where(p.party_key.in_(sorted(keys)))
    statement = (
        select(
            c.case_id,
            c.workflow,
            c.center,
            c.dispute_type,
            c.channel,
            c.status,
            c.is_open,
            c.registered_at,
        )
        .where(c.case_id.in_(matching), c.center == center)
        .order_by(c.registered_at.desc(), c.case_id)
        .limit(PARTY_CASES_MOST + 1)
    )
    rows = list(conn.execute(statement)) if keys else []
    items = [
        PartyCase(
            id=row.case_id,
            summary=None,
            center=row.center,
            dispute_type=row.dispute_type,
            channel=row.channel,
            phase=statuses.phase(row.workflow, row.status),
            status=row.status,
            closed=not row.is_open,
            registered_at=row.registered_at,
        )
        for row in rows[:PARTY_CASES_MOST]
    ]
    return PartyCases(items, more=len(rows) > PARTY_CASES_MOST)


def case_summaries(conn: Connection, tables: QueueTables, ids: Collection[UUID]) -> dict[UUID, str]:
    """The summaries the queue view holds of these cases, by id (open or closed: it keeps a
    row of every case)."""
    c = tables.cases.c
    if not ids:
        return {}
    rows = conn.execute(select(c.case_id, c.summary).where(c.case_id.in_(sorted(ids))))
    return {row.case_id: row.summary for row in rows}


__all__ = [
    "PARTY_CASES_MOST",
    "PartyCase",
    "PartyCases",
    "PartyQuery",
    "case_summaries",
    "find_party_cases",
]
