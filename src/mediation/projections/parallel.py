"""Rebuilding views in several processes at once: part of the cases each.

One process rebuilding every view reads the log once but uses one core: applying a batch is
Python work under one interpreter lock. So the cases are split by id (`log.Part`), and each
process applies its part to every view being rebuilt, reading and decoding only that part's
events (`rebuild.load_part`); what links cases across parts (the statistics' re-disputes) is
decided once all parts are in (`View.join_parts`). The rebuilding process loads the first
part itself while workers load the others; the workers are forked from a fork server that
imported the service beforehand (`prepare_workers`), so they start in milliseconds instead of
the 0.6-0.7 s a fresh interpreter spends importing (at 100,000 events a tenth of the run).
SQLite takes the writes one at a time, but since a rebuild keeps the rows it works on in
memory (see `held`), the processes seldom wait for each other: two part loads of 1,000,000
events took as long on one database file as on two separate ones. The loading scaled 1.9
times over two processes on a 2-core Intel Xeon and 1.5-1.6 times on a 2-core AMD EPYC, where
two processes each ran some 15 % slower than one alone (10 % on the Xeon), whatever the
files. The indexes only queries need are built after, by the rebuilding process, one view
after another (all three views at 1,000,000 events on SQLite, two processes: 49-53 s
loading, 6 s indexes). A view that cannot be split by case
(`View.partitionable`; none of the built-in ones) is rebuilt instead in a group of views, one
worker per group, each reading the whole log.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import queue
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from types import FrameType
from typing import Any

from mediation.domain.errors import MediationError
from mediation.projections.log import Part
from mediation.projections.processor import Progress, Staged
from mediation.projections.rebuild import Noted, interrupts_held_off, signals_handled
from mediation.projections.service import Projections

# Builds the process's own Projections (in a worker process): a module-level function or a
# functools.partial of one, since it is sent to the worker by pickling.
Factory = Callable[[], AbstractContextManager[Projections]]

# What a view costs to apply per event, relative to the others (measured alone on a log spread
# as in service: the statistics view takes about twice as long as the queue or the audit).
WEIGHTS = {"stats": 2.0}
POLL_SECONDS = 0.5
# Imported once by the server the workers are forked from (see `prepare_workers`), with the
# module of the factory and the main script: the whole service comes with this one.
PRELOAD = ("__main__", "mediation.projections.parallel")
STOP_SECONDS = 30.0  # for a worker to remove its unfinished tables once interrupted


class RebuildFailedError(MediationError):
    """A worker process could not rebuild its views."""


def groups(names: Sequence[str], jobs: int) -> list[list[str]]:
    """The views in at most `jobs` groups of about equal cost: the costliest first, each into
    the group that costs least so far; groups keep the order the views were named in."""
    loads: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(max(1, min(jobs, len(names))))]
    for name in sorted(names, key=lambda n: -WEIGHTS.get(n, 1.0)):
        index = min(range(len(loads)), key=lambda i: loads[i][0])
        cost, members = loads[index]
        loads[index] = (cost + WEIGHTS.get(name, 1.0), [*members, name])
    order = {name: i for i, name in enumerate(names)}
    return [sorted(members, key=order.__getitem__) for _cost, members in loads if members]


def prepare_workers(factory: Factory) -> Any:
    """Start, in the background, the process that the workers of `rebuild_in_processes` are
    forked from (a fork server), importing the service's modules and `factory`'s meanwhile;
    the multiprocessing context to make the workers in.

    A worker started afresh (spawn) first spends 0.6-0.7 s of one core importing the service,
    and forking the process that holds the views' connections is unsafe (SQLite: a
    connection must not cross a fork); the fork server is a fresh interpreter that opens no
    database, so its children start in milliseconds and start clean. The rebuild command
    calls this first, so that the server imports while the command opens the store; calling
    it again, or where there is no fork server (not on Unix), does nothing. The server lasts
    as long as this process, and its children inherit its environment as it was when it
    started: what a worker needs (the settings) comes in `factory`, not from the environment.
    """
    context = _context()
    if context.get_start_method() == "forkserver":
        module = getattr(factory, "func", factory).__module__
        context.set_forkserver_preload([*PRELOAD, module])  # heeded only when it starts
        multiprocessing.forkserver.ensure_running()
    return context


def _context() -> Any:
    """Where workers come from: a fork server (see `prepare_workers`), else spawned afresh;
    never a fork of this process, which holds the views' and the store's connections."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def rebuild_in_processes(
    projections: Projections,
    factory: Factory,
    names: Sequence[str],
    jobs: int,
    progress: Progress | None = None,
    staged: Staged | None = None,
) -> dict[str, int]:
    """Rebuild the named views in up to `jobs` worker processes; `projections` follows their
    progress. The new generation of each view. `staged` is told the rebuild's stages (see
    `rebuild.rebuild`), unless the views are rebuilt in groups by workers of their own.

    When every named view is partitionable (`View.partitionable`), each worker applies all of
    them to its part of the cases (`load_part`), and reads and decodes only its part's events;
    `projections` then applies what came meanwhile and switches. Otherwise each worker
    rebuilds a group of the views (see `groups`), reading the whole log for its group.
    """
    if jobs > 1 and all(projections.view(name).partitionable for name in names):
        load = partial(_load_in_processes, projections, factory, jobs, progress)
        return projections.rebuild(names, progress, load, staged)
    parts = groups(names, jobs)
    if len(parts) == 1:
        return projections.rebuild(parts[0], progress, staged=staged)
    context = prepare_workers(factory)
    errors: Any = context.Queue()
    workers = [
        context.Process(target=_rebuild_group, args=(factory, part, errors), name=",".join(part))
        for part in parts
    ]
    head = projections.log.head()
    before = {row.name: row.generation for row in projections.status()}

    def follow() -> None:
        if progress is not None:
            progress(_reached(projections, before, names, head), head)

    _start(workers)
    _supervise(workers, errors, follow)
    return {row.name: row.generation for row in projections.status() if row.name in names}


def _load_in_processes(
    projections: Projections,
    factory: Factory,
    jobs: int,
    progress: Progress | None,
    generations: dict[str, int],
    end: int,
) -> list[Noted]:
    """A rebuild's `Loader`: `jobs` parts of the cases, the first loaded by this process
    itself while `jobs - 1` workers load the others; what every part noted.

    This process starts on its part at once, while the workers come up (see
    `prepare_workers`). A worker that fails stops this process's part at its next batch."""
    context = prepare_workers(factory)
    errors: Any = context.Queue()
    results: Any = context.Queue()
    reached: Any = context.Array("q", jobs, lock=False)  # each part's position so far
    workers = [
        context.Process(
            target=_load_part,
            args=(factory, generations, Part(index, jobs), end, reached, results, errors),
            name=f"part {index + 1} of {jobs}",
        )
        for index in range(1, jobs)
    ]

    def report() -> None:
        if progress is not None:
            progress(min(reached), end)

    def note(position: int) -> None:
        reached[0] = position
        _raise_failures(workers, errors)  # a worker failed: this part is in vain
        report()

    _start(workers)
    try:
        noted = [projections.load_part(generations, Part(0, jobs), end, note)]
        while len(noted) < jobs:  # a worker sends its notes last, then ends
            try:
                noted.append(results.get(timeout=POLL_SECONDS))
            except queue.Empty:
                _raise_failures(workers, errors)
                if not any(worker.is_alive() for worker in workers):
                    missing = jobs - len(noted)
                    raise RebuildFailedError(f"{missing} of {jobs} parts sent no notes") from None
            report()
        for worker in workers:
            worker.join()
    finally:
        _stop(workers)
    _raise_failures(workers, errors)
    return noted


def _start(workers: Sequence[Any]) -> None:
    for worker in workers:
        worker.start()


def _supervise(workers: Sequence[Any], errors: Any, follow: Callable[[], None]) -> None:
    """Wait for the started workers, calling `follow` every POLL_SECONDS; stop those still
    running if this fails or is interrupted. A worker's failure is raised here."""
    try:
        while any(worker.is_alive() for worker in workers):
            next(w for w in workers if w.is_alive()).join(POLL_SECONDS)
            follow()
    finally:
        _stop(workers)
    _raise_failures(workers, errors)


def _raise_failures(workers: Sequence[Any], errors: Any) -> None:
    """Raise the failure of the workers that ended with an error, if any did."""
    failed = [worker.name for worker in workers if worker.exitcode]
    if failed:
        failures = _messages(errors)
        detail = "; ".join(failures) or f"exit codes {[w.exitcode for w in workers]}"
        raise RebuildFailedError(f"the rebuild of {', '.join(failed)} failed: {detail}")


def _rebuild_group(factory: Factory, names: list[str], errors: Any) -> None:
    """A worker: rebuild its views in one pass, or put why it could not on `errors`. Ctrl-C at
    the terminal reaches the parent, which stops the workers with SIGTERM: once each, so that
    nothing interrupts the removal of their unfinished tables."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        with factory() as projections:
            projections.rebuild(names)
    except BaseException as error:
        errors.put(f"{', '.join(names)}: {type(error).__name__}: {error}")
        raise SystemExit(1) from None


def _load_part(
    factory: Factory,
    generations: dict[str, int],
    part: Part,
    end: int,
    reached: Any,
    results: Any,
    errors: Any,
) -> None:
    """A worker: load its part of the cases into the new generations and put what its views
    noted on `results` (see `_rebuild_group` for the signals)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupted)
    rebuilding = multiprocessing.parent_process()  # the process that started this one

    def note(position: int) -> None:
        reached[part.index] = position
        stop_if_alone(rebuilding)

    try:
        with factory() as projections:
            results.put(projections.load_part(generations, part, end, note))
    except BaseException as error:
        errors.put(f"{', '.join(generations)}: {type(error).__name__}: {error}")
        raise SystemExit(1) from None


@contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """Let SIGTERM (`kill`, a service manager's stop) interrupt the body as Ctrl-C does, once:
    a rebuild then stops its workers and removes its unfinished tables. Left to the default,
    the process died on the spot and its workers went on loading for nobody, keeping the new
    generations alive, so that the next rebuild was refused until they were done. The
    previous handler is back afterwards."""
    with signals_handled({signal.SIGTERM: _interrupted}):
        yield


def stop_if_alone(rebuilding: Any) -> None:
    """In a worker: fail once the process that started it (`rebuilding`, None: unknown) is
    gone, killed without a chance to stop its workers (SIGKILL): what the worker loads would
    be for nobody, and its heartbeat would keep the abandoned generations from counting as
    abandoned."""
    if rebuilding is not None and not rebuilding.is_alive():
        raise RebuildFailedError(f"the rebuilding process (pid {rebuilding.pid}) is gone")


def _interrupted(_signal: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _reached(
    projections: Projections, before: dict[str, int], names: Sequence[str], head: int
) -> int:
    """How far the slowest of the views is: its rebuild's position; the head once it switched;
    0 before its worker started."""
    reached = head
    for row in projections.status():
        if row.name not in names:
            continue
        if row.rebuilding is not None:
            reached = min(reached, row.rebuilding)
        elif row.generation == before.get(row.name):
            reached = 0
    return reached


def _stop(workers: Sequence[Any]) -> None:
    """Stop the workers still running (the parent failed or was interrupted): they remove
    their unfinished tables (SIGTERM, see `_rebuild_group`), or are killed after STOP_SECONDS;
    a second Ctrl-C does not cut the wait short (see `interrupts_held_off`)."""
    if not any(worker.is_alive() for worker in workers):
        return
    with interrupts_held_off("stopping the rebuild's worker processes"):
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join(STOP_SECONDS)
            if worker.is_alive():
                worker.kill()
                worker.join()


def _messages(messages: Any, wait: float = 0.1) -> list[Any]:
    """What is on a queue, waiting up to `wait` seconds for each."""
    found = []
    while True:
        try:
            found.append(messages.get(timeout=wait) if wait else messages.get_nowait())
        except queue.Empty:
            return found


__all__ = [
    "Factory",
    "RebuildFailedError",
    "groups",
    "interrupted_by_sigterm",
    "prepare_workers",
    "rebuild_in_processes",
    "stop_if_alone",
]
