"""The projections of one process: set-up, following the log, status, rebuild and reading."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import Application
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import DBAPIError

from mediation.domain.errors import NotFoundError
from mediation.projections import tracking
from mediation.projections.log import EventLog, Part
from mediation.projections.processor import (
    BeforeCommit,
    BulkWriting,
    Outcome,
    Processor,
    Progress,
    Reached,
    Staged,
    lock_key,
)
from mediation.projections.rebuild import Loader, Noted, load_part, rebuild
from mediation.projections.runner import Follower
from mediation.projections.view import View

R = TypeVar("R")
log = logging.getLogger("mediation.projections")
# A rebuild writes tables nobody reads yet: bigger batches, fewer commits (measured: 2,000
# beats 1,000 by a fifth; beyond it nothing is gained and the SQLite write lock is held longer).
REBUILD_BATCH_SIZE = 2000
# SQLite: pages of write-ahead log a rebuild's batch may leave before checkpointing (400 MB;
# the default, 1,000, checkpoints after nearly every batch of a rebuild), and a page cache of
# 64 MB while a batch is written (the default is 2 MB). A checkpoint copies each page once,
# however often the batches since the last one wrote it: all three views at 1,000,000 events,
# `--jobs 2`, spent 4.4 s of the rebuilding process's commits in checkpoints every 10,000
# pages (40 MB) and 1.6 s every 100,000; the rebuild ends with a checkpoint that empties the
# log again (`rebuild.release_log`).
REBUILD_WRITING = BulkWriting(checkpoint_pages=100_000, cache_kib=65_536)


@dataclass(frozen=True)
class ViewStatus:
    name: str
    generation: int
    position: int
    head: int
    rebuilding: int | None  # the position a rebuild in progress has reached

    @property
    def lag(self) -> int:
        """Log ids not yet applied (ids can have gaps on PostgreSQL, so at most this many)."""
        return max(self.head - self.position, 0)


class Projections:
    """The views of the case log, kept in the same database as the event store."""

    def __init__(
        self,
        engine: Engine,
        application: Application[UUID],
        views: Sequence[View[Any]],
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        before_commit: BeforeCommit | None = None,
        rebuild_batch_size: int = REBUILD_BATCH_SIZE,
    ) -> None:
        self.engine = engine
        self.rebuild_batch_size = rebuild_batch_size
        self.log = EventLog(application)
        self.views = {view.name: view for view in views}
        self.processor = Processor(engine, self.log, batch_size, before_commit)
        self.follower = Follower(self._follow, poll_interval)
        self._advanced = threading.Condition()

    def view(self, name: str) -> View[Any]:
        try:
            return self.views[name]
        except KeyError:
            known = ", ".join(self.views)
            raise NotFoundError(f"no view {name!r}; views: {known}") from None

    def create_schema(self) -> None:
        """Create the tracking tables and a first, empty generation of each view; replace a
        view's tables that another version of mediation shaped otherwise by an empty
        generation, which then catches up from the start of the log like a new view."""
        with self.engine.begin() as conn:
            _serialise_setup(conn)
            tracking.control.create_all(conn)
            for view in self.views.values():
                current = tracking.active_generation(conn, view.name)
                if current is None:
                    self._first_generation(conn, view)
                elif tracking.shape(conn, view.name, current) != view.shape(conn.dialect):
                    self._replace_outdated(conn, view, current)

    def catch_up(
        self, names: Iterable[str] | None = None, stopping: Callable[[], bool] = lambda: False
    ) -> int:
        """Apply everything new to each view (active generation); the number of events applied.

        `stopping` is asked between batches: a worker told to stop does not finish a long lag.
        """
        views = [self.view(name) for name in (names or list(self.views))]
        applied = 0
        while True:
            with self.engine.connect() as conn:
                targets = [
                    (view, generation)
                    for view in views
                    if (generation := tracking.active_generation(conn, view.name)) is not None
                ]
            steps = self.processor.catch_up_all(targets, self._notify, stopping, isolate=True)
            applied += sum(step.applied for step in steps)
            if stopping() or all(step.outcome is not Outcome.GONE for step in steps):
                return applied  # GONE: a rebuild switched generations under us; follow the new

    def position(self, name: str) -> int:
        with self.engine.connect() as conn:
            generation = tracking.active_generation(conn, name)
            found = tracking.position(conn, name, generation) if generation is not None else None
        return found or 0

    def wait_for(self, position: int, timeout: float, names: Iterable[str] | None = None) -> bool:
        """Whether every named view reaches `position` within `timeout` seconds."""
        wanted = list(names or self.views)
        deadline = time.monotonic() + timeout
        while True:
            if all(self.position(name) >= position for name in wanted):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.follower.nudge()
            with self._advanced:
                self._advanced.wait(min(remaining, 0.05))

    def status(self) -> list[ViewStatus]:
        head = self.log.head()
        with self.engine.connect() as conn:
            return [_status(conn, name, head) for name in self.views]

    def rebuild(
        self,
        names: Iterable[str] | None = None,
        progress: Progress | None = None,
        loader: Loader | None = None,
        staged: Staged | None = None,
    ) -> dict[str, int]:
        """Rebuild views (all by default) from the whole log in one pass over it (or part by
        part with a `loader`, see `rebuild.rebuild`, which tells `staged` its stages), while
        the current ones keep answering; the new generation of each."""
        views = [self.view(name) for name in (names or list(self.views))]
        generations = rebuild(self.engine, self._rebuilding(), views, progress, loader, staged)
        self._notify(0, 0)
        return generations

    def load_part(
        self,
        generations: dict[str, int],
        part: Part,
        end: int,
        reached: Reached | None = None,
    ) -> Noted:
        """For a rebuild's `loader`: apply `part`'s cases up to `end` to the generations it
        started; what the views noted (see `rebuild.load_part`)."""
        views = [self.view(name) for name in generations]
        return load_part(self.engine, self._rebuilding(), views, generations, part, end, reached)

    def _rebuilding(self) -> Processor:
        return Processor(
            self.engine,
            self.log,
            self.rebuild_batch_size,
            self.processor.before_commit,
            bulk=REBUILD_WRITING,
        )

    def analyze(self, names: Iterable[str] | None = None) -> None:
        """Refresh the query planner's statistics of the active tables (after a bulk load)."""
        with self.engine.begin() as conn:
            for name in names or list(self.views):
                generation = tracking.active_generation(conn, name)
                if generation is not None:
                    self.view(name).analyze(conn, generation)

    def read(self, name: str, query: Callable[[Connection, Any], R], snapshot: bool = False) -> R:
        """Run `query(conn, tables)` on the active generation, retrying once if it was switched.

        `snapshot`: all of the query's statements see the view as one batch left it, none of
        a batch committed between them (a read transaction on SQLite, REPEATABLE READ on
        PostgreSQL); for a query of several statements whose figures must agree. Only for
        reading: a snapshot may not write on PostgreSQL once another batch has committed.
        """
        view = self.view(name)
        for attempt in (1, 2):
            with self.engine.connect() as conn:
                if snapshot:
                    _read_snapshot(conn)
                generation = tracking.active_generation(conn, name)
                if generation is None:
                    raise NotFoundError(f"view {name!r} has no tables; run create_schema")
                try:
                    return query(conn, view.tables(generation))
                except DBAPIError:
                    conn.rollback()
                    if attempt == 2 or tracking.active_generation(conn, name) == generation:
                        raise
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Follow the log in a background thread (inside `mediation serve`)."""
        self.follower.start()

    def stop(self) -> None:
        self.follower.stop()

    def run_forever(self) -> None:
        """Follow the log in this thread until `stop()` (the `projections run` worker)."""
        self.follower.run()

    def _follow(self) -> None:
        self.catch_up(stopping=self.follower.stopping)

    def _first_generation(self, conn: Connection, view: View[Any]) -> None:
        tracking.activate_first(conn, view.name, self._new_generation(conn, view))

    def _replace_outdated(self, conn: Connection, view: View[Any], current: int) -> None:
        generation = self._new_generation(conn, view)
        tracking.switch(conn, view.name, current, generation)
        tracking.forget(conn, view.name, current)
        view.drop(conn, current)
        log.warning(
            "the %s view's tables were made by another version of mediation: it is built "
            "again from the start of the log (`mediation projections status` shows how far; "
            "`mediation projections rebuild %s` is faster on a long log)",
            view.name,
            view.name,
        )

    def _new_generation(self, conn: Connection, view: View[Any]) -> int:
        taken = [g.generation for g in tracking.generations(conn, view.name)]
        generation = max(taken, default=0) + 1
        tracking.add_generation(conn, view.name, generation, view.shape(conn.dialect))
        view.create(conn, generation)
        return generation

    def _notify(self, _position: int, _head: int) -> None:
        with self._advanced:
            self._advanced.notify_all()


def _status(conn: Connection, name: str, head: int) -> ViewStatus:
    generations = tracking.generations(conn, name)
    current = next((g for g in generations if g.active), None)
    building = [g.position for g in generations if not g.active]
    return ViewStatus(
        name=name,
        generation=current.generation if current else 0,
        position=current.position if current else 0,
        head=head,
        rebuilding=max(building) if building else None,
    )


def _read_snapshot(conn: Connection) -> None:
    """Make the connection's next transaction read one snapshot of the database."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    elif conn.dialect.name == "sqlite":
        # pysqlite begins a transaction only before a write: reads each see the latest
        # commit. An explicit BEGIN holds one snapshot (WAL) until the connection ends it.
        conn.exec_driver_sql("BEGIN")


def _serialise_setup(conn: Connection) -> None:
    """Two processes starting at once on PostgreSQL must not both create the first tables."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(lock_key("setup"))))
