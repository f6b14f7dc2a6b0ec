"""results.md: the machine, the goals, then one table per part, the notes and the plots."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bench.goals import Goal, check
from bench.records import ActionRun, QueueRun, RebuildRun, Results
from bench.workload import STEPS_PER_CASE
from mediation.projections.cli import stages_summary

PLOTS = {
    "latency": "Action latency percentiles by concurrency",
    "throughput": "Action throughput by concurrency",
    "loading": "Loading a case: time by history length, with and without snapshots",
    "queue": "Queue query latency by queue size",
    "rebuild": "Projection rebuild and catch-up speed",
}


def render(results: Results, command: str) -> str:
    parts = [
        _header(results, command),
        _goals(check(results)),
        _actions(results),
        _loading(results),
        _rebuilds(results),
        _queues(results),
        _notes(results),
        _plots(),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def table(header: Sequence[str], rows: Iterable[Sequence[object]], text: int = 1) -> str:
    """A markdown table; the first `text` columns are left-aligned, the rest (numbers) right."""
    align = ["---" if i < text else "---:" for i in range(len(header))]
    lines = [_row(header), _row(align)]
    lines += [_row([str(cell) for cell in row]) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _header(results: Results, command: str) -> str:
    m = results.machine
    rows = [
        ("CPU", f"{m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['os']}"),
        (
            "software",
            f"Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m.get('postgresql', '-')}",
        ),
        ("libraries", m["libraries"]),
        ("run", f"{m['date']}, commit {m['commit']}, size `{results.size}`: `{command}`"),
        (
            "load average",
            f"{m.get('load_start', '-')} at the start, {m.get('load_end', '-')} at the end",
        ),
        ("took", ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results.timings.items())),
    ]
    intro = (
        "# Benchmarks\n\n"
        "Absolute figures hold for the machine below only; a ratio compares two things "
        "measured in the same run. Regenerate with `python -m bench` (about 35 minutes on 2 cores; "
        "`--quick` for a couple of minutes)."
    )
    return intro + "\n\n" + table(("machine", ""), rows, text=2)


def _goals(goals: list[Goal]) -> str:
    if not goals:
        return ""
    rows = [
        (
            g.name,
            g.backend,
            g.detail,
            "met" if g.met else "**missed**",
            g.margin,
            _fmt(g.measured),
            f"{'≤' if g.at_most else '≥'} {_fmt(g.target)} {g.unit}",
        )
        for g in goals
    ]
    header = ("goal", "backend", "at", "", "margin", "measured", "target")
    return "## Goals\n\n" + table(header, rows, text=5)


def _actions(results: Results) -> str:
    if not results.actions:
        return ""
    rows = [
        (
            run.backend,
            run.label,
            run.clients,
            f"{run.requests:,}",
            f"{run.throughput:,.0f}",
            _fmt(run.latency.p50),
            _fmt(run.latency.p95),
            _fmt(run.latency.p99),
            "-" if run.server_cpu_ms is None else _fmt(run.server_cpu_ms),
            _fmt(run.client_cpu_ms),
            _share(run.background),
            run.errors,
        )
        for run in results.actions
    ]
    header = (
        "backend",
        "mode",
        "clients",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "server CPU ms/req",
        "bench CPU ms/req",
        "other work",
        "errors",
    )
    text = (
        "## Actions: over HTTP, on the application directly, and as plain CRUD\n\n"
        f"Each client works whole cases, {STEPS_PER_CASE} requests each: register, read, accept, "
        "route, two consents, read, two notes, read (7 writes, 3 reads), as the clerk and the "
        "mediator of its own center. *http*: a real `mediation serve` on loopback (with its views' "
        "follower and rules thread, as deployed), clients are threads with one keep-alive httpx2 "
        "connection each; *http ×2*: two API processes plus one `mediation projections run` "
        "worker, clients spread over them; *direct*: `CaseApplication.register/act/case` in the "
        "bench process, the views' follower and the rules beside it; *crud*: the same state "
        "changes as one row per case updated in place (no events, no views). Latency is per "
        "request; CPU is per request: *server* for the API processes (and worker), *bench* for "
        "the measuring process (the HTTP clients, or the whole application when direct). "
        "*other work*: the share of the 2 cores other processes kept busy in the second before "
        "the measurement (the run waits up to a bound for it to fall below 25%).\n\n"
    )
    return text + table(header, rows, text=2) + "\n\n" + _ratios(results)


def _ratios(results: Results) -> str:
    rows = []
    for backend, clients in dict.fromkeys((r.backend, r.clients) for r in results.actions):
        same = [r for r in results.actions if (r.backend, r.clients) == (backend, clients)]
        http, direct, crud = (_mode(same, mode) for mode in ("http", "direct", "crud"))
        spread = _mode(same, "http", several=True)
        rows.append(
            (
                backend,
                clients,
                _ratio(_rate(http), _rate(direct)),
                _ratio(_rate(direct), _rate(crud)),
                _ratio(_p99(http), _p99(direct)),
                _ratio(_rate(spread), _rate(http)),
            )
        )
    header = (
        "backend",
        "clients",
        "HTTP / direct, req/s",
        "direct / CRUD, req/s",
        "HTTP / direct, p99",
        "HTTP ×2 / HTTP, req/s",
    )
    return "Ratios, each from the same run:\n\n" + table(header, rows, text=1)


def _mode(runs: list[ActionRun], mode: str, several: bool = False) -> ActionRun | None:
    return next((r for r in runs if r.mode == mode and (r.processes > 1) == several), None)


def _rate(run: ActionRun | None) -> float | None:
    return None if run is None else run.throughput


def _p99(run: ActionRun | None) -> float | None:
    return None if run is None else run.latency.p99


def _loading(results: Results) -> str:
    if not results.loads:
        return ""
    lengths = sorted({run.events for run in results.loads})
    rows = []
    for backend, history, snapshots in dict.fromkeys(
        (run.backend, run.history, run.snapshots) for run in results.loads
    ):
        runs = {
            r.events: r
            for r in results.loads
            if (r.backend, r.history, r.snapshots) == (backend, history, snapshots)
        }
        cells = [_fmt(runs[n].latency.p50) if n in runs else "-" for n in lengths]
        kb = runs[max(runs)].snapshot_kb
        rows.append(
            (
                backend,
                history,
                "every 50" if snapshots else "none",
                *cells,
                "-" if kb is None else f"{kb:,.0f}",
            )
        )
    header = (
        "backend",
        "history",
        "snapshots",
        *(f"{n:,} events" for n in lengths),
        "newest snapshot KB",
    )
    return (
        "## Loading a case (`CaseApplication.case`), median ms\n\n"
        "*bounded*: the risk re-graded again and again, so the case's state stays small; "
        "*notes*: a note per event, and every note is kept in the case's state (and so in "
        "each snapshot).\n\n" + table(header, rows, text=3)
    )


def _rebuilds(results: Results) -> str:
    if not results.rebuilds:
        return ""
    rows = [
        (run.backend, run.views, f"{run.events:,}", f"{run.seconds:.1f}", f"{run.rate:,.0f}")
        for run in results.rebuilds
    ]
    return (
        "## Projection rebuild (`Projections.rebuild`) and live catch-up\n\n"
        "*all three*: the case views queue, audit and stats rebuilt in one pass over the log "
        "(`mediation projections rebuild queue audit stats`); *every view*: those and the "
        "escalation rules' two (deadlines, notifications), what `mediation projections "
        "rebuild` rebuilds by default (runs before 6 December 2026 had no such line); a "
        "single view: that view alone; *2 processes*: the same "
        "with the cases split by id between two processes (`--jobs 2`: the rebuilding one "
        "and a worker forked from a fork server started with the run, as the command starts "
        "it), each applying its part to the views and reading and decoding only its part's "
        "events, the re-disputes across the parts decided at the end (runs before 5 December "
        "2026 used two spawned workers, each first importing the service, 0.6-0.7 s; runs "
        "before 25 November gave each worker a group of whole views); *live catch-up*: the "
        "follower's path applying new events to the queue view. The log is made as a busy "
        "center's would be: a case's next event comes some 10,000 events after its last one, so "
        "the views read back and update the rows of cases registered in earlier batches (runs "
        "before 24 November 2026 saved each case's whole life at once, which flattered them: "
        "on 100,000 events the statistics view rebuilt at 20,200 events/s on such a log "
        "against 14,200 on a spread one, all three 10,700 against 6,200).\n\n"
        + table(("backend", "views", "events", "seconds", "events/s"), rows, text=2)
        + _stages(results.rebuilds)
    )


def _stages(runs: list[RebuildRun]) -> str:
    """Where the time of the rebuilds of several views went, stage by stage, as the command
    prints it (runs before 6 December 2026 recorded none)."""
    rows = [
        (
            run.backend,
            run.views,
            f"{run.events:,}",
            stages_summary(run.stages),
        )
        for run in runs
        if run.stages and run.views.startswith(("all three", "every view"))
    ]
    if not rows:
        return ""
    return "\n\nWhere the time went (the stages each rebuild told, in order):\n\n" + table(
        ("backend", "views", "events", "stages"), rows, text=4
    )


def _queues(results: Results) -> str:
    if not results.queues:
        return ""
    blocks = ["## Queue queries (`projections.queue`), ms"]
    for backend in dict.fromkeys(run.backend for run in results.queues):
        runs = [run for run in results.queues if run.backend == backend]
        sizes = sorted({run.cases for run in runs})
        sizes_text = "; ".join(
            f"{n:,} cases: {_first(runs, n).open_cases:,} open, "
            f"{min(_first(runs, n).real_cases, n):,} generated through the log"
            for n in sizes
        )
        rows = []
        for query in dict.fromkeys(run.query for run in runs):
            cells: list[str] = []
            for n in sizes:
                found = next((r for r in runs if r.query == query and r.cases == n), None)
                cells += (
                    ["-", "-"]
                    if found is None
                    else [_fmt(found.latency.p50), _fmt(found.latency.p99)]
                )
            rows.append((query, *cells))
        header = ["query (50 rows unless said)"]
        for n in sizes:
            header += [f"{n:,}: p50", "p99"]
        blocks.append(f"### {backend}\n\n{sizes_text}.\n\n" + table(header, rows, text=1))
    return "\n\n".join(blocks)


def _first(runs: list[QueueRun], cases: int) -> QueueRun:
    return next(run for run in runs if run.cases == cases)


def _notes(results: Results) -> str:
    if not results.notes:
        return ""
    return "## Notes on this run\n\n" + "\n".join(f"- {note}" for note in results.notes)


def _plots() -> str:
    images = [f"![{title}](plots/{name}.png)" for name, title in PLOTS.items()]
    return "\n\n".join(["## Plots", *images])


def _fmt(value: float) -> str:
    """Two significant decimals for small numbers, none for large ones."""
    if value != value:  # NaN: nothing measured
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _share(value: float) -> str:
    return "-" if value != value else f"{value:.0%}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"
