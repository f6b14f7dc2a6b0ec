"""`python -m bench [--quick | --smoke] [--backend sqlite|postgres|both] [--only NAME ...]`."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.actions import MODES, measure_actions
from bench.databases import BACKENDS, postgres_version
from bench.goals import check
from bench.harness import Harness
from bench.loading import measure_loading
from bench.machine import machine_label
from bench.progress import Progress
from bench.quiet import Quiet
from bench.records import Results
from bench.report import render
from bench.sizes import FULL, QUICK, SMOKE, Size
from bench.summary import compare
from bench.views import measure_views

PARTS = (*MODES, "loading", "rebuild", "queue")
HERE = Path(__file__).parent


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes, for development")
    sizes.add_argument("--smoke", action="store_true", help="the smallest sizes (the test)")
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, metavar="NAME", help=f"parts: {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="where results.md, results.json and plots/ go"
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: write results.md and plots/ again from OUT/results.json",
    )
    return parser.parse_args(argv)


def run_suite(size: Size, backends: list[str], parts: set[str], progress: Progress) -> Results:
    results = Results(size=size.name, machine=machine_label(_postgres(backends)))
    results.machine["load_start"] = _load()
    scratch = os.environ.get("MEDIATION_BENCH_DIR")
    with tempfile.TemporaryDirectory(prefix="bench-", dir=scratch) as folder:
        harness = Harness(size, Path(folder), progress, Quiet(size.quiet_wait, size.quiet_budget))
        for backend in backends:
            _run_backend(results, backend, harness, parts)
    results.machine["load_end"] = _load()
    results.notes += _method_notes(results, size)
    return results


def _run_backend(results: Results, backend: str, harness: Harness, parts: set[str]) -> None:
    modes = parts & set(MODES)
    if modes:
        with _timing(results, f"{backend} actions"):
            results.actions += measure_actions(backend, harness, modes)
    if "loading" in parts:
        with _timing(results, f"{backend} loading"):
            harness.say(f"{backend} loading cases ...")
            results.loads += measure_loading(backend, harness)
    if parts & {"rebuild", "queue"}:
        with _timing(results, f"{backend} projections"):
            harness.say(f"{backend} projections: rebuild and queue ...")
            outcome = measure_views(backend, harness, parts & {"rebuild", "queue"})
            results.rebuilds += outcome.rebuilds
            results.queues += outcome.queues
            results.notes += outcome.notes


@contextmanager
def _timing(results: Results, name: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        results.timings[name] = time.perf_counter() - began


def _postgres(backends: list[str]) -> str | None:
    return postgres_version() if "postgres" in backends else None


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _method_notes(results: Results, size: Size) -> list[str]:
    notes = []
    if size is not FULL:
        notes.append(f"Size `{size.name}`: smaller than the issue's sizes; for development only.")
    start = float(results.machine["load_start"].split(" / ")[0])
    if start > 0.5:
        notes.append(
            f"The 1-minute load average was {start:.2f} when the run started: other work shared the 2 cores, so absolute figures are pessimistic."
        )
    notes.append(
        "The API servers log at WARNING (no access log); `mediation serve` runs its views' follower and rules thread as deployed."
    )
    notes.append(
        "SQLite CRUD writes take a process-wide lock, as the event store's connection pool does, so that writers queue instead of sleeping in SQLite's busy handler."
    )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        return _render_again(args.out)
    size = SMOKE if args.smoke else QUICK if args.quick else FULL
    backends = list(BACKENDS) if args.backend == "both" else [args.backend]
    parts = set(args.only or PARTS)
    console = Console(highlight=False, soft_wrap=True)
    progress = Progress(console)
    if "postgres" in backends and postgres_version() is None:
        console.print("[red]PostgreSQL is not reachable (MEDIATION_BENCH_POSTGRES_URL)[/red]")
        return 2
    progress.say(
        f"size {size.name}, backends {', '.join(backends)}, parts {', '.join(p for p in PARTS if p in parts)}"
    )
    results = run_suite(size, backends, parts, progress)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    previous = _previous(out / "results.json")
    command = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])])
    results.command = command
    (out / "results.md").write_text(render(results, command))
    results.save(out / "results.json")
    _plots(results, out)
    _summary(console, results, previous, out)
    return 0


def _plots(results: Results, out: Path) -> None:
    """Imported here: matplotlib takes 0.4 s to import, which every worker process of a
    parallel rebuild would pay again (they import this module, their parent's main)."""
    from bench.plots import write_plots

    write_plots(results, out / "plots")


def _render_again(out: Path) -> int:
    """The report and plots of the saved figures, after a change to how they are shown."""
    saved = out / "results.json"
    if not saved.exists():
        print(f"error: no {saved} to render: run the benchmark first", file=sys.stderr)
        return 2
    results = Results.load(saved)
    (out / "results.md").write_text(render(results, results.command or "python -m bench"))
    _plots(results, out)
    print(f"wrote {out / 'results.md'} and {out / 'plots'}/ from {saved}")
    return 0


def _previous(path: Path) -> Results | None:
    try:
        return Results.load(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _summary(console: Console, results: Results, previous: Results | None, out: Path) -> None:
    table = Table(title="Goals")
    for column in ("goal", "backend", "at", "measured", "target", "", "margin"):
        table.add_column(column)
    for goal in check(results):
        mark = "[green]met[/green]" if goal.met else "[red]missed[/red]"
        target = f"{'≤' if goal.at_most else '≥'} {goal.target:,.6g} {goal.unit}"
        table.add_row(
            goal.name, goal.backend, goal.detail, f"{goal.measured:,.2f}", target, mark, goal.margin
        )
    console.print(table)
    if previous is not None:
        console.print(compare(results, previous))
    errors = sum(run.errors for run in results.actions)
    if errors:
        console.print(f"[red]{errors} requests failed; see the errors column[/red]")
    console.print(f"wrote {out / 'results.md'}, {out / 'results.json'} and {out / 'plots'}/*.png")


if __name__ == "__main__":
    sys.exit(main())
