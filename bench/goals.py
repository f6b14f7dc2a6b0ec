"""The issue's goals for this 2-core machine, checked against a run's figures."""

from __future__ import annotations

from dataclasses import dataclass

from bench.records import ActionRun, Results

GOAL_CLIENTS = 8
P99_LIMIT_MS = 25.0
HTTP_SHARE = 0.5
REBUILD_RATE = 20_000.0
QUEUE_P99_MS = 50.0
FLAT_GROWTH = 2.0  # with snapshots, the longest history loads within 2× the shortest


@dataclass(frozen=True)
class Goal:
    name: str
    backend: str
    detail: str
    measured: float
    target: float
    unit: str
    at_most: bool  # the measured value must not exceed the target (else: must reach it)

    @property
    def met(self) -> bool:
        return self.measured <= self.target if self.at_most else self.measured >= self.target

    @property
    def margin(self) -> str:
        gap = abs(self.target - self.measured)
        times = self.measured / self.target if self.target else float("inf")
        if self.met:
            side = "under" if self.at_most else "above"
            return f"{_num(gap)} {self.unit} {side} the target"
        if self.at_most:
            return f"missed by {_num(gap)} {self.unit} ({times:.1f}× the target)"
        share = f"{times:.0%}" if times < 0.995 else f"{times:.1%}"  # not "100%" for a miss
        return f"missed by {_num(gap)} {self.unit} ({share} of the target)"


def check(results: Results) -> list[Goal]:
    goals: list[Goal] = []
    for backend in _backends(results):
        goals += _http_goals(results, backend)
        goals += _rebuild_goals(results, backend)
        goals += _queue_goals(results, backend)
        goals += _loading_goals(results, backend)
    return goals


def find_action(results: Results, backend: str, mode: str, clients: int) -> ActionRun | None:
    """The single-process run of `mode` at `clients`, else at the most clients below it."""
    runs = [
        run
        for run in results.actions
        if run.backend == backend and run.mode == mode and run.processes <= 1
    ]
    fitting = [run for run in runs if run.clients <= clients] or runs
    return max(fitting, key=lambda run: run.clients, default=None)


def _http_goals(results: Results, backend: str) -> list[Goal]:
    http = find_action(results, backend, "http", GOAL_CLIENTS)
    if http is None:
        return []
    at = f"{http.clients} clients"
    goals = [Goal("HTTP action p99", backend, at, http.latency.p99, P99_LIMIT_MS, "ms", True)]
    direct = find_action(results, backend, "direct", http.clients)
    if direct is not None and direct.clients == http.clients and direct.throughput:
        share = http.throughput / direct.throughput
        goals.append(Goal("HTTP throughput / direct", backend, at, share, HTTP_SHARE, "×", False))
    return goals


def _rebuild_goals(results: Results, backend: str) -> list[Goal]:
    """Each view rebuilt alone and all three, in one pass and in several processes (events of
    the log per second)."""
    return [
        Goal(
            _rebuild_label(run.views),
            backend,
            f"{run.events:,} events",
            run.rate,
            REBUILD_RATE,
            "events/s",
            False,
        )
        for run in results.rebuilds
        if run.backend == backend and "catch-up" not in run.views
    ]


def _rebuild_label(views: str) -> str:
    """ "all three, 2 processes" -> "rebuild, all three, 2 processes" (so "every view, ...");
    "queue, 2 processes" ->
    "rebuild `queue` alone, 2 processes"."""
    if views.startswith(("all three", "every view")):
        return f"rebuild, {views}"
    name, _, processes = views.partition(", ")
    return f"rebuild `{name}` alone" + (f", {processes}" if processes else "")


def _queue_goals(results: Results, backend: str) -> list[Goal]:
    runs = [run for run in results.queues if run.backend == backend]
    if not runs:
        return []
    largest = max(run.cases for run in runs)
    worst = max((run for run in runs if run.cases == largest), key=lambda run: run.latency.p99)
    detail = f"{largest:,} cases, worst query: {worst.query}"
    return [Goal("queue query p99", backend, detail, worst.latency.p99, QUEUE_P99_MS, "ms", True)]


def _loading_goals(results: Results, backend: str) -> list[Goal]:
    goals = []
    for history in sorted({run.history for run in results.loads if run.backend == backend}):
        runs = sorted(
            (
                r
                for r in results.loads
                if r.backend == backend and r.history == history and r.snapshots
            ),
            key=lambda run: run.events,
        )
        if len(runs) < 2:
            continue
        growth = runs[-1].latency.p50 / runs[0].latency.p50
        detail = f"{history} history, {runs[0].events:,} → {runs[-1].events:,} events"
        goals.append(
            Goal("load flat with snapshots", backend, detail, growth, FLAT_GROWTH, "×", True)
        )
    return goals


def _backends(results: Results) -> list[str]:
    seen = [run.backend for run in results.actions] + [run.backend for run in results.rebuilds]
    seen += [run.backend for run in results.queues] + [run.backend for run in results.loads]
    return list(dict.fromkeys(seen))


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".")
