"""Loading one case of 10 to 10,000 events, with snapshots (every 50) and without.

Two histories: "bounded", risk re-graded again and again (the case's state stays small, so a
snapshot is small), and "notes", a note per event (every note stays in the case's state, so
the snapshot grows with the history). Events are decided by the domain in memory and saved
in batches, as the application would have saved them one by one (snapshots included).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from bench.bench_projections import record, registration
from bench.databases import fresh_database
from bench.harness import Harness
from bench.records import LoadRun, summarize
from bench.sizes import Size
from bench.targets import add_staff
from bench.workload import staff
from mediation.bootstrap import Services, build_services
from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.ports import Context
from mediation.domain.values import Risk, Role
from mediation.settings import Settings

SNAPSHOT_INTERVAL = 50
NO_SNAPSHOTS = 10**9  # an interval no case reaches: snapshotting off
SAVE_EVERY = 500  # events per save while growing a case
SAMPLE_BUDGET = 3.0  # seconds per measurement, beyond the minimum of samples
HISTORIES: dict[str, Callable[[int], c.Command]] = {
    "bounded": lambda n: c.GradeRisk(Risk.MEDIUM if n % 2 else Risk.LOW, reason=None),
    "notes": lambda n: c.AddNote(f"第{n}次 called the parties; they ask for more time ({n})"),
}


def measure_loading(backend: str, harness: Harness) -> list[LoadRun]:
    runs: list[LoadRun] = []
    size = harness.size
    with fresh_database(backend, harness.folder) as url:
        kept = build_services(Settings(database_url=url, snapshot_interval=SNAPSHOT_INTERVAL))
        plain = build_services(Settings(database_url=url, snapshot_interval=NO_SNAPSHOTS))
        try:
            add_staff(kept, 1)
            for history in HISTORIES:
                for snapshots, services in ((True, kept), (False, plain)):
                    harness.quiet.settle()
                    runs += _grow_and_load(backend, services, history, snapshots, size)
                    harness.say(f"  {_describe(runs[-len(size.history_lengths) :])}")
        finally:
            kept.close()
            plain.close()
    return runs


def _grow_and_load(
    backend: str, services: Services, history: str, snapshots: bool, size: Size
) -> list[LoadRun]:
    actor = staff(0).actor(Role.CLERK)
    case_id = services.cases.register(registration(1), actor).view.id
    case: Case = services.cases.repository.get(case_id)
    runs = []
    for length in size.history_lengths:
        _grow(services, case, history, length)
        samples = _sample(lambda: services.cases.case(case_id, actor), size.load_repeats)
        runs.append(
            LoadRun(
                backend=backend,
                history=history,
                events=length,
                snapshots=snapshots,
                latency=summarize(samples),
                snapshot_kb=_snapshot_kb(services, case_id),
            )
        )
    return runs


def _grow(services: Services, case: Case, history: str, length: int) -> None:
    actor = staff(0).actor(Role.CLERK)
    workflow = services.workflows.get(case.workflow)
    make = HISTORIES[history]
    while case.version < length:
        ctx = Context(workflow, datetime.now(UTC), services.directory, services.cases.calendar)
        record(case, make(case.version), actor, ctx)
        if len(case.pending_events) >= SAVE_EVERY or case.version == length:
            services.cases.save(case)


def _sample(load: Callable[[], object], repeats: int) -> list[float]:
    """At least three timings (after one unmeasured), up to `repeats` within the budget."""
    load()
    samples: list[float] = []
    ends = time.perf_counter() + SAMPLE_BUDGET
    while len(samples) < repeats and (len(samples) < 3 or time.perf_counter() < ends):
        began = time.perf_counter()
        load()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def _snapshot_kb(services: Services, case_id: UUID) -> float | None:
    snapshots = services.cases.snapshots
    if snapshots is None:
        return None
    newest = snapshots.recorder.select_events(case_id, desc=True, limit=1)
    return len(newest[0].state) / 1024 if newest else None


def _describe(runs: list[LoadRun]) -> str:
    first = runs[0]
    kind = "with snapshots" if first.snapshots else "without snapshots"
    times = ", ".join(f"{run.events:,}: {run.latency.p50:.1f} ms" for run in runs)
    return f"{first.backend} load, {first.history} history, {kind}: {times}"
