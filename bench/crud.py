"""The plain CRUD baseline: the same state changes as rows updated in place, no events.

What a hand-written service without event sourcing would do per request: a registration
inserts a row; an action reads the row (locked on PostgreSQL), checks the status and the
caller's center, and updates it with a version bump; a note is a row of its own; a read
fetches the case and its notes. No log, no hash chain, no workflow machine, no snapshots.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    insert,
    select,
    update,
)

from bench.workload import Staff, Step, staff
from mediation.domain import commands as c
from mediation.domain.values import Actor

metadata = MetaData()
cases = Table(
    "crud_cases",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("center", String(32), nullable=False, index=True),
    Column("status", String(64), nullable=False),
    Column("dispute_type", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("risk", String(16), nullable=False),
    Column("parties", JSON, nullable=False),
    Column("mediator", String(64)),
    Column("consents", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
notes = Table(
    "crud_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", Uuid, ForeignKey("crud_cases.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("by", String(64), nullable=False),
    Column("text", Text, nullable=False),
)

# The action's allowed status and the status it leaves (None: unchanged), as the workflow has it.
TRANSITIONS: dict[str, tuple[str | None, str | None]] = {
    "accept": ("registered", "awaiting_routing"),
    "route": ("awaiting_routing", "mediating"),
    "record_consent": ("mediating", None),
    "add_note": (None, None),
}


class CrudError(RuntimeError):
    pass


class CrudTarget:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite: one writer at a time in the process, as the event store's connection pool
        # does; without it writers collide and sleep in SQLite's busy handler.
        self.writing = threading.Lock() if engine.dialect.name == "sqlite" else None
        metadata.create_all(engine)

    def client(self, index: int) -> CrudClient:
        return CrudClient(self, staff(index))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self.writing is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self.writing, self.engine.begin() as conn:
            yield conn


class CrudClient:
    def __init__(self, target: CrudTarget, people: Staff) -> None:
        self.target = target
        self.engine = target.engine
        self.people = people

    def run(self, step: Step, case_id: str | None) -> str | None:
        actor = self.people.actor(step.role)
        if isinstance(step.command, c.Register):
            return self._register(step.command, actor)
        assert case_id is not None
        if step.command is None:
            self._read(UUID(case_id), actor)
        else:
            self._act(UUID(case_id), step.kind, step.command, actor)
        return None

    def close(self) -> None:
        pass

    def _register(self, command: c.Register, actor: Actor) -> str:
        now = datetime.now(UTC)
        case_id = uuid.uuid4()
        parties = [
            {"id": f"p{n}", "role": p.role.value, "name": p.name, "phone": p.phone}
            for n, p in enumerate(command.parties, start=1)
        ]
        row = {
            "id": case_id,
            "center": actor.center,
            "status": "registered",
            "dispute_type": command.dispute_type,
            "channel": command.channel.value,
            "summary": command.summary,
            "risk": command.risk.value,
            "parties": parties,
            "mediator": None,
            "consents": {},
            "version": 1,
            "registered_at": now,
            "updated_at": now,
        }
        with self.target.write() as conn:
            conn.execute(insert(cases).values(row))
        return str(case_id)

    def _read(self, case_id: UUID, actor: Actor) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id)).one()
            if row.center != actor.center:
                raise CrudError("not this center's case")
            found = conn.execute(
                select(notes).where(notes.c.case_id == case_id).order_by(notes.c.id)
            )
            return {**row._asdict(), "notes": [n._asdict() for n in found]}

    def _act(self, case_id: UUID, action: str, command: c.Command, actor: Actor) -> None:
        source, dest = TRANSITIONS[action]
        with self.target.write() as conn:
            query = select(cases).where(cases.c.id == case_id).with_for_update()
            row = conn.execute(query).one()
            if row.center != actor.center or (source is not None and row.status != source):
                raise CrudError(f"{action} not allowed in {row.status}")
            changes = _changes(conn, case_id, command, actor, row.consents)
            changes.update(version=row.version + 1, updated_at=datetime.now(UTC))
            if dest is not None:
                changes["status"] = dest
            done = conn.execute(
                update(cases)
                .where(cases.c.id == case_id, cases.c.version == row.version)
                .values(changes)
            )
            if done.rowcount != 1:
                raise CrudError("changed concurrently")


def _changes(
    conn: Connection, case_id: UUID, command: c.Command, actor: Actor, consents: dict[str, bool]
) -> dict[str, Any]:
    if isinstance(command, c.Route):
        return {"mediator": command.mediator}
    if isinstance(command, c.RecordConsent):
        return {"consents": {**consents, command.party: command.consent}}
    if isinstance(command, c.AddNote):
        values = {
            "case_id": case_id,
            "at": datetime.now(UTC),
            "by": actor.user,
            "text": command.text,
        }
        conn.execute(insert(notes).values(values))
    return {}
