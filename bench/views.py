"""Projection rebuild speed and queue query latency, on one growing log per backend.

Cases come from `bench_projections.Generator` (decided by the domain in memory, saved in
batches of 400, each case's events spread through the log as in service). The log grows through the milestones in order: rebuilds at N events, queue
queries at N cases. A milestone the backend's budget cannot reach is scaled down (a rebuild)
or filled with copies of the queue's rows (a queue size); results.md says which and why.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from bench.bench_projections import Directory, Generator, World
from bench.databases import fresh_database
from bench.harness import Harness
from bench.queues import copy_rows, measure_queries
from bench.records import QueueRun, RebuildRun
from bench.sizes import Size
from mediation.application import CaseApplication
from mediation.bootstrap import rules_views, settle_heap, setup_lock
from mediation.calendars import BUILT_IN as CALENDAR
from mediation.calendars import load_calendar
from mediation.domain import VOCABULARY
from mediation.projections import Projections, build_projections
from mediation.projections.parallel import prepare_workers, rebuild_in_processes
from mediation.rules.index import DeadlineIndexView
from mediation.rules.notifications import NotificationsView
from mediation.store import Database
from mediation.workflows import WorkflowRegistry

EVENTS_PER_CASE = 4.0  # about what the generator's mix of lives writes; orders the milestones
GROW_STEP = 20_000  # events per generator call, so that progress can be shown
VIEW_NAMES = ("queue", "audit", "stats")  # the case views ("all three")
# What `mediation projections rebuild` rebuilds by default ("every view"): the case views and
# the escalation rules' two (their index of deadlines, the supervisors' notifications).
EVERY_VIEW = (*VIEW_NAMES, DeadlineIndexView.name, NotificationsView.name)
JOBS = 2  # worker processes of the parallel rebuild (`mediation projections rebuild --jobs`)
RESERVE = 45.0  # seconds of the budget kept for the last queue's copies and queries


@dataclass(frozen=True)
class Milestone:
    kind: str  # "rebuild" (at `target` events) or "queue" (at `target` cases)
    target: int
    copied: bool  # queue rows copied beyond the generated ones

    @property
    def order(self) -> float:
        if self.kind == "rebuild":
            return self.target
        return math.inf if self.copied else self.target * EVENTS_PER_CASE


def plan(size: Size, parts: set[str]) -> list[Milestone]:
    steps = [Milestone("rebuild", n, False) for n in size.rebuild_events if "rebuild" in parts]
    steps += [
        Milestone("queue", n, n > size.queue_real_cases)
        for n in size.queue_cases
        if "queue" in parts
    ]
    return sorted(steps, key=lambda step: step.order)


@dataclass
class ViewsOutcome:
    rebuilds: list[RebuildRun] = field(default_factory=list)
    queues: list[QueueRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Grower:
    """Grows the world's log with the generator, showing progress and keeping its speed."""

    def __init__(self, world: World, harness: Harness) -> None:
        self.world = world
        self.harness = harness
        self.events = 0
        self.seconds = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def to_events(self, events: int) -> None:
        counter = self.harness.progress.counter("generating events", events)
        while (head := self.world.head()) < events:
            self._run(min(GROW_STEP, events - head), None)
            counter.update(self.world.head())

    def to_cases(self, cases: int) -> None:
        counter = self.harness.progress.counter("generating cases", cases)
        while (made := self.world.generator.count) < cases:
            self._run(0, min(GROW_STEP // 4, cases - made))
            counter.update(self.world.generator.count)

    def _run(self, events: int, cases: int | None) -> None:
        head, began = self.world.head(), time.perf_counter()
        self.world.generator.run(events, open_only=False, cases=cases)
        self.seconds += time.perf_counter() - began
        self.events += self.world.head() - head


class ViewsRun:
    """The milestones on one backend's log, within its time budget."""

    def __init__(self, backend: str, world: World, harness: Harness, url: str) -> None:
        self.backend = backend
        self.world = world
        self.factory = partial(bench_projections, url)  # for the workers of a parallel rebuild
        prepare_workers(self.factory)  # as the rebuild command does when it starts
        self.harness = harness
        self.grower = Grower(world, harness)
        self.outcome = ViewsOutcome()
        self.ends = time.monotonic() + harness.size.views_budget
        self.rebuild_rate = 0.0  # events/s of the last milestone's rebuilds together
        self.catch_up_rate = 0.0  # events/s of the last queue catch-up

    def run(self, steps: list[Milestone]) -> ViewsOutcome:
        for step in steps:
            if step.kind == "rebuild":
                self._rebuild(step.target)
            else:
                self._queue(step)
        if self.grower.events:
            self.harness.say(
                f"  generated {self.grower.events:,} events at {self.grower.rate:,.0f} events/s"
            )
        return self.outcome

    def _left(self) -> float:
        return self.ends - time.monotonic() - RESERVE

    def _rebuild(self, wanted: int) -> None:
        target = self._affordable_events(wanted)
        if target < wanted:
            self.outcome.notes.append(
                f"{self.backend}: the rebuild meant for {wanted:,} events ran at {target:,}: "
                f"generating and rebuilding {wanted:,} at the rates measured here "
                f"({self.grower.rate:,.0f} and {self.rebuild_rate:,.0f} events/s) would not "
                f"fit the run's budget ({self.harness.size.views_budget:.0f} s per backend)."
            )
        self.grower.to_events(target)
        background = self.harness.quiet.settle()
        each: list[tuple[list[str] | None, int]] = (
            [([n], jobs) for n in EVERY_VIEW for jobs in (1, JOBS)]
            if self.harness.size.rebuild_each_view
            else []
        )
        seconds = 0.0
        every = list(EVERY_VIEW)
        for views, jobs in [*each, (None, 1), (None, JOBS), (every, JOBS)]:
            run = self._timed_rebuild(views, jobs)
            seconds += run.seconds
            self.outcome.rebuilds.append(dataclasses.replace(run, background=background))
            self.harness.say(
                f"  rebuilt {run.views} from {run.events:,} events: {run.rate:,.0f} events/s"
            )
        self.rebuild_rate = self.world.head() / seconds  # all its rebuilds: for the budget

    def _timed_rebuild(self, views: list[str] | None, jobs: int) -> RebuildRun:
        """One view, all three case views (None) or every view, in one pass or in `jobs`
        processes (the cases split between them, as `mediation projections rebuild --jobs`
        does)."""
        head, began = self.world.head(), time.perf_counter()
        names = views or list(VIEW_NAMES)
        stages: list[tuple[str, float]] = []
        rebuild_in_processes(  # jobs 1: one pass
            self.world.projections,
            self.factory,
            names,
            jobs,
            staged=lambda stage, seconds: stages.append((stage, seconds)),
        )
        label = "all three" if views is None else views[0] if len(views) == 1 else "every view"
        if jobs > 1:
            label += f", {jobs} processes"
        took = time.perf_counter() - began
        return RebuildRun(self.backend, head, label, took, stages=tuple(stages))

    def _affordable_events(self, wanted: int) -> int:
        """The most events (≤ wanted) the budget can generate and rebuild, at the rates seen."""
        head, grow, rebuild = self.world.head(), self.grower.rate, self.rebuild_rate
        if not grow or not rebuild:
            return wanted
        fits = (self._left() + head / grow) / (1 / grow + 1 / rebuild)
        return wanted if fits >= wanted else max(head, int(fits) // 10_000 * 10_000)

    def _queue(self, step: Milestone) -> None:
        copied = step.copied or not self._affordable_cases(step.target)
        if not copied:
            self.grower.to_cases(step.target)
        self._catch_up()
        if copied:
            copy_rows(self.world, step.target)
            self.outcome.notes.append(self._copied_note(step.target))
            self.harness.say(
                f"  queue rows copied from {self.world.generator.count:,} cases to {step.target:,}"
            )
        self.world.projections.analyze(["queue"])  # what autovacuum does in service (PostgreSQL)
        self.harness.quiet.settle()
        runs = measure_queries(self.world, self.backend, self.harness.size.queue_repeats)
        self.outcome.queues += runs
        worst = max(runs, key=lambda run: run.latency.p99)
        self.harness.say(
            f"  queue at {worst.cases:,} cases ({worst.open_cases:,} open): "
            f"worst p99 {worst.latency.p99:.1f} ms ({worst.query})"
        )

    def _affordable_cases(self, cases: int) -> bool:
        made, head = self.world.generator.count, self.world.head()
        if not made or not self.grower.rate:
            return True
        more = max(cases - made, 0) * head / made
        apply = self.catch_up_rate or self.rebuild_rate or self.grower.rate
        return more / self.grower.rate + more / apply <= self._left()

    def _catch_up(self) -> None:
        began = time.perf_counter()
        applied = self.world.projections.catch_up(["queue"])
        if applied:
            run = RebuildRun(
                self.backend, applied, "queue, live catch-up", time.perf_counter() - began
            )
            self.outcome.rebuilds.append(run)
            self.catch_up_rate = run.rate
            self.harness.say(f"  queue caught up {applied:,} events: {run.rate:,.0f} events/s")

    def _copied_note(self, target: int) -> str:
        generated, head = self.world.generator.count, self.world.head()
        needed = target * head / max(generated, 1)
        apply = self.catch_up_rate or self.rebuild_rate
        cost = ""
        if self.grower.rate and apply:
            minutes = (needed / self.grower.rate + needed / apply) / 60
            cost = (
                f": generating them (~{needed:,.0f} events at {self.grower.rate:,.0f}/s) and "
                f"applying them to the queue view (at {apply:,.0f}/s) would take about "
                f"{minutes:.0f} min, more than the run's budget"
            )
        return (
            f"{self.backend}: the queue at {target:,} cases holds {generated:,} cases generated "
            f"through the log ({head:,} events) and, for the rest, copies of their rows made in "
            f"SQL (new ids; same centers, statuses and deadlines){cost}."
        )


def measure_views(backend: str, harness: Harness, parts: set[str]) -> ViewsOutcome:
    with fresh_database(backend, harness.folder) as url:
        world = _world(url)
        try:
            return ViewsRun(backend, world, harness, url).run(plan(harness.size, parts))
        finally:
            world.app.close()
            world.projections.engine.dispose()


@contextmanager
def bench_projections(url: str) -> Iterator[Projections]:
    """The views of `url`'s log as `_world` makes them, for a worker process of a rebuild."""
    world = _world(url)
    try:
        yield world.projections
    finally:
        world.app.close()
        world.projections.engine.dispose()


def _world(url: str) -> World:
    database = Database(url)
    workflows = WorkflowRegistry.load(VOCABULARY)
    engine = database.create_engine()
    # One at a time, as the service starts: on PostgreSQL the event store replaces its
    # functions on each start, and two workers of a rebuild starting together failed with
    # "tuple concurrently updated".
    with setup_lock(engine):
        app = CaseApplication(database.eventsourcing_env(), workflows, Directory())
        rules = rules_views(workflows, load_calendar(CALENDAR))  # as the service has them
        projections = build_projections(
            engine, app, workflows, b"bench-salt-0123456789", extra_views=rules
        )
        projections.create_schema()
    settle_heap()  # as the service and the projection commands do once started
    return World(app, projections, Generator(app, workflows))
