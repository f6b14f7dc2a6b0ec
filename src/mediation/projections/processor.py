"""Applies the log to a view in batches: rows and tracking position commit together, once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from mediation.projections import tracking
from mediation.projections.log import EventLog
from mediation.projections.view import Recorded, View

# Called after a batch is applied and before it commits: tests kill the process here.
BeforeCommit = Callable[[str, Sequence[Recorded]], None]
Progress = Callable[[int, int], None]


class Outcome(StrEnum):
    APPLIED = "applied"  # a batch committed
    IDLE = "idle"  # nothing new in the log
    BUSY = "busy"  # another worker holds the view's lock (PostgreSQL)
    LOST = "lost"  # another worker moved the position first; nothing was applied
    GONE = "gone"  # the generation no longer exists (a rebuild replaced it)


@dataclass(frozen=True)
class Step:
    outcome: Outcome
    position: int
    applied: int = 0


class Processor:
    """One batch at a time, from the generation's position to at most `batch_size` further."""

    def __init__(
        self,
        engine: Engine,
        log: EventLog,
        batch_size: int = 1000,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self.engine = engine
        self.log = log
        self.batch_size = batch_size
        self.before_commit = before_commit
        self._postgres = engine.dialect.name == "postgresql"

    def step(self, view: View[Any], generation: int) -> Step:
        """Apply the next batch; the tracking update is guarded, so no event applies twice."""
        with self.engine.connect() as conn:
            start = tracking.position(conn, view.name, generation)
        if start is None:
            return Step(Outcome.GONE, 0)
        batch = self.log.read(start, self.batch_size)
        if batch.last == start:
            return Step(Outcome.IDLE, start)
        with self.engine.connect() as conn, conn.begin() as transaction:
            if not self._locked(conn, view.name, generation):
                transaction.rollback()
                return Step(Outcome.BUSY, start)
            if not tracking.claim(conn, view.name, generation, start, batch.last):
                transaction.rollback()
                return Step(Outcome.LOST, start)
            view.apply(conn, generation, batch.events)
            if self.before_commit is not None:
                self.before_commit(view.name, batch.events)
        return Step(Outcome.APPLIED, batch.last, len(batch.events))

    def catch_up(self, view: View[Any], generation: int, progress: Progress | None = None) -> Step:
        """Apply batches until the log has nothing new, another worker has the view, or it is gone."""
        applied = 0
        while True:
            step = self.step(view, generation)
            applied += step.applied
            if progress is not None and step.outcome is Outcome.APPLIED:
                progress(step.position, self.log.head())
            if step.outcome in (Outcome.IDLE, Outcome.BUSY, Outcome.GONE):
                return Step(step.outcome, step.position, applied)

    def _locked(self, conn: Connection, view: str, generation: int) -> bool:
        """On PostgreSQL, one worker per view generation at a time (released at commit)."""
        if not self._postgres:
            return True  # SQLite has one writer at a time; the guarded claim decides
        key = lock_key(f"{view}:{generation}")
        return bool(conn.scalar(select(func.pg_try_advisory_xact_lock(key))))


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    digest = hashlib.blake2b(f"mediation.projection:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
