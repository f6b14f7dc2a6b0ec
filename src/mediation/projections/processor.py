"""Applies the log to a view in batches: rows and tracking position commit together, once."""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from mediation.projections import tracking
from mediation.projections.log import EventLog, Part
from mediation.projections.view import Recorded, View

# Called after a batch is applied and before it commits: tests kill the process here.
BeforeCommit = Callable[[str, Sequence[Recorded]], None]
Progress = Callable[[int, int], None]
Reached = Callable[[int], None]  # a position the loading of a part has read up to
# Told each stage of a rebuild as it ends, with the seconds it took (see `rebuild.rebuild`).
Staged = Callable[[str, float], None]
Target = tuple[View[Any], int]  # a view and the generation of its tables to write


# How often loading a part shows that its rebuild is alive (see `rebuild.ABANDONED_AFTER`).
HEARTBEAT_SECONDS = 10.0

_UNPLANNED = object()  # the plan is made inside the writing transaction
_MOVED = object()  # the position moved while planning: nothing to write


@dataclass(frozen=True)
class BulkWriting:
    """SQLite settings for the batches of a rebuild, which write megabytes each (measured on
    100,000 events; see relaxed_durability)."""

    checkpoint_pages: int  # pages of write-ahead log left before the connection checkpoints
    cache_kib: int  # the connection's page cache while it writes a batch


class GenerationGoneError(RuntimeError):
    """The generation being written no longer exists: another rebuild removed it."""


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
        bulk: BulkWriting | None = None,
    ) -> None:
        self.engine = engine
        self.log = log
        self.batch_size = batch_size
        self.before_commit = before_commit
        self.bulk = bulk  # SQLite: see relaxed_durability
        self._postgres = engine.dialect.name == "postgresql"

    def step(self, view: View[Any], generation: int) -> Step:
        return self.step_all([(view, generation)])[0]

    def step_all(self, targets: Sequence[Target]) -> list[Step]:
        """Apply the next batch to each target, each in its own transaction.

        Targets at the same position (the usual case) share one read of the log. The tracking
        update is guarded, so no event applies twice. A target that fails does not hold back
        the others; its error is raised once they had their turn.
        """
        steps, errors = self._step_each(targets)
        raise_first(errors)
        return steps

    def catch_up(self, view: View[Any], generation: int, progress: Progress | None = None) -> Step:
        return self.catch_up_all([(view, generation)], progress)[0]

    def catch_up_all(
        self,
        targets: Sequence[Target],
        progress: Progress | None = None,
        stopping: Callable[[], bool] = lambda: False,
        isolate: bool = False,
    ) -> list[Step]:
        """Apply batches until no target moves (the log has nothing new, or the rest is busy or
        gone), or until `stopping()` says so between two batches.

        A target that fails ends the call with its error after that batch; with `isolate`, it
        is left out of the call's later batches and the others go on until they stop moving,
        then the first error is raised: one view that keeps failing on an event does not keep
        the others one batch per retry behind (the follower retries it with a backoff).
        """
        applied = [0] * len(targets)
        steps = [Step(Outcome.IDLE, 0)] * len(targets)
        errors: list[Exception | None] = [None] * len(targets)
        while True:
            live = [i for i, error in enumerate(errors) if error is None]
            stepped, failed = self._step_each([targets[i] for i in live])
            for index, step, error in zip(live, stepped, failed, strict=True):
                steps[index], errors[index] = step, error
                applied[index] += step.applied
            if not isolate:
                raise_first(errors)
            moved = [steps[i] for i in live if steps[i].outcome is Outcome.APPLIED]
            if progress is not None and moved:
                progress(min(step.position for step in moved), self.log.head())
            idle = not any(
                steps[i].outcome in (Outcome.APPLIED, Outcome.LOST)
                for i in live
                if errors[i] is None
            )
            if idle or stopping():
                raise_first(errors)
                return [
                    Step(step.outcome, step.position, total)
                    for step, total in zip(steps, applied, strict=True)
                ]

    def _step_each(self, targets: Sequence[Target]) -> tuple[list[Step], list[Exception | None]]:
        """`step_all`'s steps, and each target's error instead of raising it (None: none)."""
        with self.engine.connect() as conn:
            starts = [
                tracking.position(conn, view.name, generation) for view, generation in targets
            ]
        steps: dict[int, Step] = {}
        errors: list[Exception | None] = [None] * len(targets)
        with collector_paused():  # see _CollectorPause
            for start in sorted({s for s in starts if s is not None}):
                batch = self.log.read(start, self.batch_size)
                for index in (i for i, s in enumerate(starts) if s == start):
                    view, generation = targets[index]
                    if batch.last == start:
                        steps[index] = Step(Outcome.IDLE, start)
                        continue
                    try:
                        steps[index] = self._apply(
                            view, generation, start, batch.last, batch.events
                        )
                    except Exception as error:
                        errors[index] = error
                        steps[index] = Step(Outcome.LOST, start)
        return [steps.get(i, Step(Outcome.GONE, 0)) for i in range(len(targets))], errors

    def load(
        self,
        targets: Sequence[Target],
        part: Part,
        end: int,
        reached: Reached | None = None,
    ) -> None:
        """Apply the events of `part`'s cases up to position `end` to each target, batch by
        batch, without moving its position (see `rebuild.load_part`).

        The targets are new generations of a rebuild, which nobody else writes, and each part
        holds other cases than the others: so no claim guards the batches, and the rebuild
        moves the positions to `end` once every part is in. A batch reads the part's events
        among the next `batch_size * part.count` positions (see `EventLog.read_part`). The
        generations' heartbeat is bumped every HEARTBEAT_SECONDS, so that no other rebuild
        takes them for abandoned.
        """
        position, beat = 0, time.monotonic()
        while position < end:
            batch = self.log.read_part(position, self.batch_size, end, part)
            if batch.last == position:
                return  # the log ends before `end`: nothing more to read
            beating = time.monotonic() - beat >= HEARTBEAT_SECONDS
            for view, generation in targets:
                if not batch.events and not beating:
                    continue
                with self.engine.connect() as conn:
                    plan = view.plan(conn, generation, batch.events) if batch.events else None
                with (
                    self.engine.connect() as conn,
                    relaxed_durability(conn, self.bulk),
                    conn.begin(),
                ):
                    if beating and not tracking.claim(conn, view.name, generation, 0, 0):
                        raise GenerationGoneError(f"{view.name} generation {generation} is gone")
                    if batch.events:
                        view.write(conn, generation, plan)
                    if self.before_commit is not None:
                        self.before_commit(view.name, batch.events)
            if beating:
                beat = time.monotonic()
            position = batch.last
            if reached is not None:
                reached(position)

    def _apply(
        self, view: View[Any], generation: int, start: int, end: int, events: Sequence[Recorded]
    ) -> Step:
        """Apply a batch in one transaction that first moves the position from `start` (guarded).

        On SQLite, which has one writer at a time, the batch is planned (read and folded)
        before that transaction, so the write lock is held only to write and the requests
        that save events wait less behind a batch. A plan made on rows another worker changed
        meanwhile is never written: that worker moved the position first, so the claim fails.
        (On PostgreSQL the view's advisory lock is taken first and the plan made inside.)
        """
        plan: Any = _UNPLANNED
        if events and not self._postgres:
            plan = self._plan_apart(view, generation, start, events)
            if plan is _MOVED:
                return Step(Outcome.LOST, start)
        with (
            self.engine.connect() as conn,
            relaxed_durability(conn, self.bulk),
            conn.begin() as transaction,
        ):
            if not self._locked(conn, view.name, generation):
                transaction.rollback()
                return Step(Outcome.BUSY, start)
            if not tracking.claim(conn, view.name, generation, start, end):
                transaction.rollback()
                return Step(Outcome.LOST, start)
            if events:
                if plan is _UNPLANNED:
                    plan = view.plan(conn, generation, events)
                view.write(conn, generation, plan)
            if self.before_commit is not None:
                self.before_commit(view.name, events)
        return Step(Outcome.APPLIED, end, len(events))

    def _plan_apart(
        self, view: View[Any], generation: int, start: int, events: Sequence[Recorded]
    ) -> Any:
        """The view's plan for the batch, or _MOVED if reading failed because its position left
        `start` (a rebuild dropped this generation's tables). `step_all` has just read the
        position; a move after that is caught by the claim in the writing transaction."""
        with self.engine.connect() as conn:
            try:
                return view.plan(conn, generation, events)
            except DBAPIError:
                conn.rollback()
                if tracking.position(conn, view.name, generation) != start:
                    return _MOVED  # e.g. its tables were dropped under the plan's reads
                raise

    def _locked(self, conn: Connection, view: str, generation: int) -> bool:
        """On PostgreSQL, one worker per view generation at a time (released at commit)."""
        if not self._postgres:
            return True  # SQLite has one writer at a time; the guarded claim decides
        key = lock_key(f"{view}:{generation}")
        return bool(conn.scalar(select(func.pg_try_advisory_xact_lock(key))))


@contextmanager
def relaxed_durability(conn: Connection, bulk: BulkWriting | None = None) -> Iterator[None]:
    """Commit a batch without waiting for the disk (the event store itself still does).

    A batch lost to a power cut is lost whole, its tracking position with it, and is applied
    again: a view can afford that, and an fsync per batch costs more than the batch's work.
    On SQLite, `bulk` also lets the write-ahead log grow that far before this connection
    copies it into the database (with an fsync): a rebuild writes megabytes per batch, and
    checkpointing after each cost it a tenth of its time. And it gives the connection a page
    cache that holds what one batch touches: with the default 2 MB, inserting a batch's keys
    at random places in an index of several megabytes (the statistics' party keys) evicts
    pages the same batch needs again; 64 MB took a third off those inserts and 7-8 % off a
    rebuild (alternating runs).
    The connection's own settings are put back: the pool hands it to others next.
    """
    if conn.dialect.name == "sqlite":
        synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        relax = ["PRAGMA synchronous=NORMAL"]  # in WAL: no fsync at commit, at checkpoints only
        restore = [f"PRAGMA synchronous={int(synchronous or 2)}"]
        if bulk is not None:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            relax.append(f"PRAGMA wal_autocheckpoint={int(bulk.checkpoint_pages)}")
            relax.append(f"PRAGMA cache_size={-int(bulk.cache_kib)}")  # negative: in KiB
            restore.append(f"PRAGMA wal_autocheckpoint={int(pages or 1000)}")
            restore.append(f"PRAGMA cache_size={int(cache or -2000)}")
    elif conn.dialect.name == "postgresql":
        relax, restore = ["SET synchronous_commit = off"], ["RESET synchronous_commit"]
    else:
        relax = restore = []
    with session_settings(conn, relax, restore):
        yield


@contextmanager
def session_settings(
    conn: Connection, relax: Sequence[str], restore: Sequence[str]
) -> Iterator[None]:
    """Run the `relax` statements on this connection, then the `restore` ones when done
    (after rolling back what the body left open): a pooled connection goes on to others with
    its own settings."""
    for statement in relax:
        conn.exec_driver_sql(statement)
    conn.commit()
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        for statement in restore:
            conn.exec_driver_sql(statement)
        conn.commit()


class _CollectorPause:
    """Python's cyclic garbage collector, off while any thread applies a batch.

    A batch makes and drops hundreds of thousands of containers (events, rows, plans), which
    set off collections that walk all of them while they are still alive: a tenth of a
    rebuild's time (measured: 1.7 s of 15 s on 100,000 events). Reference counting frees a
    batch's objects as it ends; what cycles it leaves wait for the next collection, once the
    collector is back on, as after any batch. The pause is counted across threads, so the
    collector comes back when the last batch ends, and only if it was on before the first.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._resume:
                    gc.enable()


collector_paused = _CollectorPause()


def raise_first(errors: Sequence[Exception | None]) -> None:
    """Raise the first of these errors, if any is not None."""
    first = next((error for error in errors if error is not None), None)
    if first is not None:
        raise first


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    digest = hashlib.blake2b(f"mediation.projection:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
