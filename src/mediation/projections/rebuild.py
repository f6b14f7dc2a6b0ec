"""Rebuilding a view from the whole log into new tables while the old ones keep answering."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from types import FrameType
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.exc import IntegrityError

from mediation.domain.errors import ConflictError
from mediation.projections import tracking
from mediation.projections.log import Part
from mediation.projections.processor import (
    BulkWriting,
    Outcome,
    Processor,
    Progress,
    Reached,
    Staged,
    collector_paused,
    lock_key,
    relaxed_durability,
    session_settings,
)
from mediation.projections.view import View

log = logging.getLogger("mediation.projections")
# A building generation nobody advanced for this long was left by a rebuild that died.
ABANDONED_AFTER = timedelta(minutes=2)
# A signal handler as `signal.signal` takes it.
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers
# What `interrupts_held_off` holds off: Ctrl-C and `kill` (see `parallel.interrupted_by_sigterm`).
HELD_OFF_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Helper threads SQLite may sort a new index's keys in (see `_sorting_in_threads`).
SORT_THREADS = 4

# What a part's views noted for `View.join_parts` (see `load_part`), by view name.
Noted = dict[str, Any]
# Fills the new generations (by view name) up to a position, part by part (see `load_part`);
# the notes of every part.
Loader = Callable[[dict[str, int], int], list[Noted]]


class RebuildRunningError(ConflictError):
    """Another rebuild of this view is in progress."""


def rebuild(
    engine: Engine,
    processor: Processor,
    views: Sequence[View[Any]],
    progress: Progress | None = None,
    loader: Loader | None = None,
    staged: Staged | None = None,
) -> dict[str, int]:
    """Build a new generation of each view from position 0, reading the log once for all;
    switch queries to each as it reaches its active one; drop the old ones. `staged` is told
    how long each stage took, as it ends: loading the parts or reading the log, joining the
    parts, each view's last rows and indexes, switching (an operator sees where the time
    went; an engineer, what to make faster).

    With a `loader`, the log up to its head at the start is applied by the loader first, part
    of the cases by part (for views whose case rows depend on their case's events alone, see
    `View.partitionable`), and the rest as usual.
    """
    started: dict[str, int] = {}
    try:
        for view in views:
            started[view.name] = _start(engine, view)
    except BaseException:  # another rebuild runs, the database failed, or Ctrl-C
        with interrupts_held_off("removing the tables of the rebuild"):
            for view in views:
                if view.name in started:
                    _remove_unfinished(engine, view, started[view.name])
        raise
    for view in views:
        view.defer_writes(started[view.name])
    try:
        _rebuild_started(engine, processor, views, started, progress, loader, staged or _untold)
    finally:
        release_log(engine)
    return started


def _rebuild_started(
    engine: Engine,
    processor: Processor,
    views: Sequence[View[Any]],
    started: dict[str, int],
    progress: Progress | None,
    loader: Loader | None,
    staged: Staged,
) -> None:
    try:
        # The collector stays off for the whole rebuild, not only during each batch: between
        # batches its full collections walked the rows held in memory (see `held`) again and
        # again (alternating runs, all three: +7 % at 100,000 events, +10 % at 1,000,000, the
        # same peak memory, so no garbage piled up meanwhile).
        with collector_paused():
            if loader is not None:
                _load(engine, processor, views, started, loader, staged)
            _build(engine, processor, views, started, progress, staged, loader is None)
    except BaseException as error:  # an error, or the operator's Ctrl-C: the next may start now
        with interrupts_held_off("removing the unfinished tables of the rebuild"):
            _let_go_of_connections(error)
            for view in views:
                view.drop_deferred(started[view.name])
                _remove_unfinished(engine, view, started[view.name])
        raise
    for view in views:
        _drop_others(engine, view, started[view.name])


@contextmanager
def interrupts_held_off(doing: str) -> Iterator[None]:
    """Let neither Ctrl-C nor SIGTERM interrupt the body: the cleanup after a rebuild that
    failed or was interrupted. An operator who presses Ctrl-C again because the first seemed
    slow to act would otherwise stop the removal of the unfinished tables halfway, and they
    would stay until they count as abandoned (ABANDONED_AFTER), refusing the next rebuild
    meanwhile. Such a signal is logged (as what is being done) and dropped: the rebuild is
    stopping anyway. Signals reach only the main thread; elsewhere this changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def held_off(number: int, _frame: FrameType | None) -> None:
        log.warning("%s: still %s, it ends shortly", signal.Signals(number).name, doing)

    # a signal ignored already (a worker's Ctrl-C, see `parallel`) stays so
    held = [n for n in HELD_OFF_SIGNALS if signal.getsignal(n) is not signal.SIG_IGN]
    with signals_handled(dict.fromkeys(held, held_off)):
        yield


@contextmanager
def signals_handled(handlers: dict[int, Handler]) -> Iterator[None]:
    """These handlers for the body (signal number -> handler), then the previous ones back."""
    previous = {number: signal.signal(number, handler) for number, handler in handlers.items()}
    try:
        yield
    finally:
        for number, handler in previous.items():
            # None: a handler not set from Python, which cannot be set back; the default then
            signal.signal(number, signal.SIG_DFL if handler is None else handler)


def _let_go_of_connections(error: BaseException) -> None:
    """Let go of what the frames of a failure hold, before cleaning up after it.

    Ctrl-C inside the driver's call (SQLite binding a batch's rows) makes SQLAlchemy
    invalidate that connection, in the middle of its write transaction; SQLite closes it, and
    so gives up its write lock, only once its cursor is gone, and the frames of the
    interrupted calls, kept by the exception, hold it: the removal of the unfinished tables
    then waited out the busy timeout (10 s a view) and failed. The frames that are done are
    cleared (the tracebacks still show where it failed), with those of the exceptions it
    happened during; the collector is paused for the rebuild, so cycles are collected here.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__context__
    gc.collect()


def release_log(engine: Engine) -> None:
    """On SQLite, copy what the rebuild left in the write-ahead log into the database and
    empty the log's file, if no one is reading from the log meanwhile.

    A rebuild lets the log grow to some 400 MB between checkpoints (see `BulkWriting`); left
    so, the file would keep that size while the service runs, and the first commit of the
    service's own connections (which checkpoint every 1,000 pages) would copy it all. The
    copy runs without blocking anyone (`PASSIVE`); emptying the file then waits for no one
    (`busy_timeout` 0): with a reader or writer in the way it is left for the next time.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            with _sqlite_setting(conn, "busy_timeout", 0):
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    except Exception:
        log.warning("could not checkpoint the write-ahead log after a rebuild", exc_info=True)


def _build(
    engine: Engine,
    processor: Processor,
    views: Sequence[View[Any]],
    started: dict[str, int],
    progress: Progress | None,
    staged: Staged,
    whole_log: bool,
) -> None:
    """Apply the log from where the generations are (the start, or where `_load` left
    them: `whole_log` False), write what was deferred and index, then catch up and switch."""
    pending = list(views)
    indexed = False
    began = time.perf_counter()
    while pending:
        targets = [(view, started[view.name]) for view in pending]
        steps = processor.catch_up_all(targets, progress)
        if any(step.outcome is Outcome.GONE for step in steps):
            raise RebuildRunningError("a new generation was removed meanwhile")
        if not indexed:  # the rows are in: now the indexes only queries need, then switch
            staged(
                "reading the log" if whole_log else "applying what came meanwhile", _since(began)
            )
            _finish(engine, pending, started, processor.bulk, staged)
            indexed = True
            began = time.perf_counter()
            continue  # and catch up with what came meanwhile
        pending = [view for view in pending if not _switch(engine, view.name, started[view.name])]
    staged("switching", _since(began))


def _since(began: float) -> float:
    return time.perf_counter() - began


def _untold(_stage: str, _seconds: float) -> None:
    """The stages of a rebuild nobody asked about."""


def _load(
    engine: Engine,
    processor: Processor,
    views: Sequence[View[Any]],
    started: dict[str, int],
    loader: Loader,
    staged: Staged,
) -> None:
    """Let `loader` fill the new generations up to the log's head, let each view join what
    the parts noted, then move their positions there (from 0: nobody else moves a new
    generation's position)."""
    end = processor.log.head()
    began = time.perf_counter()
    parts = loader(dict(started), end)
    staged("loading the parts", _since(began))
    began = time.perf_counter()
    with engine.connect() as conn, relaxed_durability(conn, processor.bulk), conn.begin():
        for view in views:
            generation = started[view.name]
            view.join_parts(conn, generation, [p[view.name] for p in parts if view.name in p])
            if not tracking.claim(conn, view.name, generation, 0, end):
                raise RebuildRunningError("a new generation was removed meanwhile")
    staged("joining the parts", _since(began))


def load_part(
    engine: Engine,
    processor: Processor,
    views: Sequence[View[Any]],
    generations: dict[str, int],
    part: Part,
    end: int,
    reached: Reached | None = None,
) -> Noted:
    """Apply the events of `part`'s cases up to `end` to the generations a rebuild started,
    then write what the views kept back meanwhile; for a `Loader`, in a process of its own.
    What the views noted for `View.join_parts`.

    The views must be partitionable (`View.partitionable`). The positions stay at 0: the
    rebuild moves them once every part is loaded. A failed load keeps nothing back; the
    rebuild that waits for it then fails and removes its generations.
    """
    unfit = [view.name for view in views if not view.partitionable]
    if unfit:
        msg = f"views {', '.join(unfit)} cannot be rebuilt part by part"
        raise ValueError(msg)
    targets = [(view, generations[view.name]) for view in views]
    for view, generation in targets:
        view.defer_writes(generation, every_plan_written=True)
        view.begin_part(generation)
    try:
        with collector_paused():  # see `rebuild`
            processor.load(targets, part, end, reached)
            for view, generation in targets:
                with (
                    engine.connect() as conn,
                    relaxed_durability(conn, processor.bulk),
                    conn.begin(),
                ):
                    view.write_deferred(conn, generation)
    except BaseException:
        for view, generation in targets:
            view.drop_deferred(generation)
            view.end_part(generation)
        raise
    noted = ((view.name, view.end_part(generation)) for view, generation in targets)
    return {name: notes for name, notes in noted if notes is not None}


def _start(engine: Engine, view: View[Any]) -> int:
    with engine.begin() as conn:
        generations = tracking.generations(conn, view.name)
        moment = tracking.now()
        for old in generations:
            if not old.active and not tracking.is_abandoned(old, moment, ABANDONED_AFTER):
                raise RebuildRunningError(f"a rebuild of {view.name} is running already")
        generation = max((g.generation for g in generations), default=0) + 1
        try:
            tracking.add_generation(conn, view.name, generation, view.shape(conn.dialect))
        except IntegrityError:
            raise RebuildRunningError(f"a rebuild of {view.name} started meanwhile") from None
        view.create(conn, generation, defer_indexes=True)
    return generation


def _switch(engine: Engine, name: str, generation: int) -> bool:
    """Point queries at `generation` once it has reached the active one; False: not yet."""
    with engine.connect() as conn, conn.begin() as transaction:
        current = tracking.active_generation(conn, name)
        if current is None:
            tracking.activate_first(conn, name, generation)
            return True
        _wait_for_batch(conn, name, current)
        if not tracking.switch(conn, name, current, generation):
            transaction.rollback()
            return False
        reached = tracking.position(conn, name, generation) or 0
        if reached < (tracking.position(conn, name, current) or 0):
            transaction.rollback()
            return False
    return True


def _finish(
    engine: Engine,
    views: Sequence[View[Any]],
    generations: dict[str, int],
    bulk: BulkWriting | None,
    staged: Staged,
) -> None:
    """Write what the views deferred, add the deferred indexes; on PostgreSQL, also the
    statistics its planner needs (freshly filled tables have none until autovacuum comes by).

    The indexes are built with the connection's own page cache, not the rebuild's larger one
    (`bulk`): SQLite's sorter works within the cache, and sorting in large runs took about
    twice as long (all three views at 1,000,000 events: 14.4 s with 64 MB, 7.4 s with the
    default 2 MB, 4.9-6.0 s with that and helper threads, see `_sorting_in_threads`).
    """
    for view in views:
        generation = generations[view.name]
        began = time.perf_counter()
        with engine.connect() as conn, relaxed_durability(conn, bulk), conn.begin():
            view.write_deferred(conn, generation)
        staged(f"last rows of {view.name}", _since(began))
        began = time.perf_counter()
        with (
            engine.connect() as conn,
            relaxed_durability(conn),
            _sorting_in_threads(conn),
            conn.begin(),
        ):
            view.create_deferred_indexes(conn, generation)
            if engine.dialect.name == "postgresql":
                view.analyze(conn, generation)
        staged(f"indexes of {view.name}", _since(began))


def _drop_others(engine: Engine, view: View[Any], keep: int) -> None:
    with engine.begin() as conn:
        others = [
            g.generation for g in tracking.generations(conn, view.name) if g.generation != keep
        ]
    for generation in others:
        _drop(engine, view, generation)


def _remove_unfinished(engine: Engine, view: View[Any], generation: int) -> None:
    """Drop a new generation the failed rebuild had not switched to yet; one it had switched
    to is the view now, and the generations before it go, as after a rebuild that ends well
    (left behind, the old one would count as a rebuild running). If even that fails (the
    database is gone), what is left stays until it counts as abandoned (ABANDONED_AFTER)."""
    try:
        with engine.begin() as conn:
            switched = tracking.active_generation(conn, view.name) == generation
        if switched:
            _drop_others(engine, view, generation)
            return
        _drop(engine, view, generation)
    except Exception:
        log.warning("could not remove %s generation %d of a failed rebuild", view.name, generation)


def _drop(engine: Engine, view: View[Any], generation: int) -> None:
    with engine.connect() as conn, _freeing_fast(conn), conn.begin():
        _wait_for_batch(conn, view.name, generation)
        tracking.forget(conn, view.name, generation)
        view.drop(conn, generation)


def _freeing_fast(conn: Connection) -> AbstractContextManager[None]:
    """On SQLite, free the pages of dropped tables without overwriting each with zeros.

    SQLite as Debian builds it overwrites deleted content by default (`secure_delete`), so
    dropping an old generation wrote every page of its tables again: 4.6 s for the audit
    view of 1,000,000 events. `FAST` zeroes deleted content only where that costs no extra
    writes (0.3 s). The tables hold nothing but what the views derived from the log, which
    keeps all of it.
    """
    return _sqlite_setting(conn, "secure_delete", "FAST")


def _sorting_in_threads(conn: Connection) -> AbstractContextManager[None]:
    """On SQLite, let an index build sort with up to SORT_THREADS helper threads.

    SQLite sorts the keys of a new index in one thread by default, and the rebuild builds the
    indexes only queries need at its end, one after another, while the workers that loaded
    the parts are done and their cores idle. With helper threads the sorter sorts and merges
    its runs in parallel: all three views' indexes at 1,000,000 events, built again on the
    same tables on 2 cores, took 7.4 s without, 4.9-6.0 s with 2, 4 or 8 threads (4 was
    never the slowest).
    """
    return _sqlite_setting(conn, "threads", SORT_THREADS)


@contextmanager
def _sqlite_setting(conn: Connection, name: str, value: str | int) -> Iterator[None]:
    """On SQLite, `PRAGMA name=value` on this connection for the body, then its own value
    back (the pool hands it on); nothing on other databases."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql(f"PRAGMA {name}").scalar()
    restore = [f"PRAGMA {name}={int(before or 0)}"]
    with session_settings(conn, [f"PRAGMA {name}={value}"], restore):
        yield


def _wait_for_batch(conn: Connection, name: str, generation: int) -> None:
    """On PostgreSQL, wait for a batch in progress on that generation, and hold off the next."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(lock_key(f"{name}:{generation}"))))
