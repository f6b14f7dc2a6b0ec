"""The benchmark suite at its smallest size on SQLite: its code runs and writes its results.

It checks that every part produced figures and that results.md, results.json and the plots
were written, not how fast anything was.
"""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import main
from bench.records import Results
from bench.report import PLOTS
from bench.sizes import SMOKE

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_smoke_run_measures_every_part_and_writes_results_and_plots(tmp_path: Path) -> None:
    assert main(["--smoke", "--backend", "sqlite", "--out", str(tmp_path)]) == 0

    results = Results.load(tmp_path / "results.json")
    assert {(run.mode, run.clients) for run in results.actions} == {
        (mode, clients) for mode in ("http", "direct", "crud") for clients in SMOKE.clients
    }
    for run in results.actions:
        assert run.errors == 0, run.first_error
        assert run.requests > 0
        assert run.throughput > 0
    full_rebuilds = [run.events for run in results.rebuilds if run.views == "all three"]
    assert len(full_rebuilds) == len(SMOKE.rebuild_events)
    assert all(
        done >= wanted for done, wanted in zip(full_rebuilds, SMOKE.rebuild_events, strict=True)
    )
    assert all(run.rate > 0 for run in results.rebuilds)
    first = [
        run.views
        for run in results.rebuilds
        if run.events == full_rebuilds[0] and "catch-up" not in run.views
    ]
    assert first == [
        "queue",
        "queue, 2 processes",
        "audit",
        "audit, 2 processes",
        "stats",
        "stats, 2 processes",
        "deadlines",
        "deadlines, 2 processes",
        "notifications",
        "notifications, 2 processes",
        "all three",
        "all three, 2 processes",
        "every view, 2 processes",
    ]
    parallel = next(run for run in results.rebuilds if run.views == "all three, 2 processes")
    assert [stage for stage, _seconds in parallel.stages[:2]] == [
        "loading the parts",
        "joining the parts",
    ]
    assert parallel.stages[-1][0] == "switching"
    one_pass = next(run for run in results.rebuilds if run.views == "all three")
    assert one_pass.stages[0][0] == "reading the log"
    assert sum(seconds for _stage, seconds in one_pass.stages) <= one_pass.seconds
    assert sorted({run.cases for run in results.queues}) == sorted(SMOKE.queue_cases)
    assert all(run.latency.count == SMOKE.queue_repeats for run in results.queues)
    assert {(run.history, run.snapshots, run.events) for run in results.loads} == {
        (history, snapshots, events)
        for history in ("bounded", "notes")
        for snapshots in (True, False)
        for events in SMOKE.history_lengths
    }

    report = (tmp_path / "results.md").read_text()
    for heading in (
        "## Goals",
        "## Actions",
        "## Loading a case",
        "## Projection rebuild",
        "## Queue queries",
    ):
        assert heading in report
    assert "cores" in report
    for name in PLOTS:
        assert (tmp_path / "plots" / f"{name}.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "rebuild `queue` alone" in report  # each view's own verdict, beside all three's
    assert "rebuild `stats` alone, 2 processes" in report
    assert "Where the time went" in report
    assert "| sqlite | all three, 2 processes |" in report.split("Where the time went")[1]

    (tmp_path / "results.md").unlink()
    assert main(["--render", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "results.md").read_text() == report


def test_render_without_saved_results_says_so(tmp_path: Path) -> None:
    assert main(["--render", "--out", str(tmp_path)]) == 2
