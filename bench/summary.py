"""Headline figures of this run beside the previous run's, to see whether a change slowed it."""

from __future__ import annotations

from rich.table import Table

from bench.goals import GOAL_CLIENTS, find_action
from bench.records import Results


def headline(results: Results) -> dict[str, tuple[float, bool]]:
    """Figure name -> (value, whether higher is better)."""
    figures: dict[str, tuple[float, bool]] = {}
    backends = dict.fromkeys(
        [r.backend for r in results.actions]
        + [r.backend for r in results.rebuilds]
        + [r.backend for r in results.queues]
    )
    for backend in backends:
        for mode in ("http", "direct", "crud"):
            run = find_action(results, backend, mode, GOAL_CLIENTS)
            if run is not None:
                figures[f"{backend} {mode} req/s ({run.clients} clients)"] = (run.throughput, True)
                figures[f"{backend} {mode} p99 ms ({run.clients} clients)"] = (
                    run.latency.p99,
                    False,
                )
        for rebuild in results.rebuilds:
            if rebuild.backend == backend and rebuild.views == "all three":
                figures[f"{backend} rebuild events/s ({rebuild.events:,})"] = (rebuild.rate, True)
        queues = [q for q in results.queues if q.backend == backend]
        if queues:
            largest = max(q.cases for q in queues)
            worst = max(q.latency.p99 for q in queues if q.cases == largest)
            figures[f"{backend} queue worst p99 ms ({largest:,})"] = (worst, False)
    return figures


def compare(results: Results, previous: Results) -> Table:
    table = Table(
        title=f"Against the previous run ({previous.machine.get('date', '?')}, size {previous.size})"
    )
    for column in ("figure", "previous", "now", "change"):
        table.add_column(column)
    before = headline(previous)
    for name, (value, higher_better) in headline(results).items():
        if name not in before:
            continue
        old = before[name][0]
        change = (value - old) / old if old else 0.0
        worse = change < -0.1 if higher_better else change > 0.1
        colour = "red" if worse else "default"
        table.add_row(name, f"{old:,.1f}", f"{value:,.1f}", f"[{colour}]{change:+.0%}[/{colour}]")
    return table
