"""`mediation projections status | rebuild [NAME] | run`, on a SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from mediation.bootstrap import Services
from mediation.projections import Projections
from mediation.projections import cli as cli_module
from mediation.projections import rebuild as rebuild_module
from mediation.projections.cli import FINISHING, projections_app, rebuilt_summary
from mediation.store import Database
from tests.projections.projection_support import Desk


@pytest.fixture
def sqlite_services(sqlite_database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", sqlite_database.url)
    return sqlite_database


@pytest.fixture
def database(sqlite_services: Database) -> Database:
    """The root `services` fixture, on SQLite only: the CLI is the subject, not the store."""
    return sqlite_services


def test_status_lists_each_view_with_its_lag(
    services: Services, desk: Desk, projections: Projections
) -> None:
    desk.mediate(desk.register())
    projections.catch_up(["queue"])

    result = CliRunner().invoke(projections_app, ["status"])

    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert lines[0] == ["view", "generation", "position", "head", "lag", "rebuilding"]
    assert lines[1] == ["queue", "1", "5", "5", "0", "-"]
    assert lines[2][:5] == ["audit", "1", "0", "5", "5"]


def test_rebuild_one_view_shows_progress_and_reports_its_new_generation(
    services: Services, desk: Desk, projections: Projections
) -> None:
    desk.mediate(desk.register())

    result = CliRunner().invoke(projections_app, ["rebuild", "audit"])

    assert result.exit_code == 0, result.output
    assert "rebuilt audit: generation 2" in result.output
    assert {s.name: s.generation for s in projections.status()} == {
        "queue": 1,
        "audit": 2,
        "stats": 1,
    }


def test_rebuild_ends_by_saying_how_long_each_stage_took(
    services: Services, desk: Desk, projections: Projections
) -> None:
    desk.mediate(desk.register())

    result = CliRunner().invoke(projections_app, ["rebuild", "queue", "audit"])

    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    stages = [stage.rsplit(" ", 2) for stage in last.removeprefix("stages: ").split(", ")]
    assert last.startswith("stages: ")
    assert [name for name, _seconds, unit in stages if unit == "s"] == [
        "reading the log",
        "last rows of queue",
        "indexes of queue",
        "last rows of audit",
        "indexes of audit",
        "switching",
    ]
    assert all(float(seconds) >= 0 for _name, seconds, _unit in stages)


def test_a_rebuild_stopped_by_sigterm_removes_its_unfinished_tables_like_ctrl_c(
    services: Services, desk: Desk, projections: Projections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill` (SIGTERM) interrupts the command as Ctrl-C does, so it cleans up (stops its
    workers, removes its new tables) and the next rebuild may start at once; the process's
    own SIGTERM handler is back afterwards."""
    desk.mediate(desk.register())
    ignored: list[int] = []

    def tests_own(number: int, _frame: Any) -> None:  # without the command's: SIGTERM is lost
        ignored.append(number)

    before = signal.signal(signal.SIGTERM, tests_own)
    signalled = []

    def terminated_while_switching(*_args: Any) -> bool:
        signalled.append(True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # interrupted well before
        return True

    switch = rebuild_module._switch
    monkeypatch.setattr(rebuild_module, "_switch", terminated_while_switching)
    started = time.monotonic()
    result = CliRunner().invoke(projections_app, ["rebuild", "audit"])

    after = signal.signal(signal.SIGTERM, before)

    assert signalled
    assert time.monotonic() - started < 8
    assert ignored == []  # the command's handler took it, not the test's
    assert result.exit_code == 130  # as after Ctrl-C
    assert [(s.name, s.generation, s.rebuilding) for s in projections.status()] == [
        ("queue", 1, None),
        ("audit", 1, None),
        ("stats", 1, None),
    ]
    assert after is tests_own  # the command put it back
    monkeypatch.setattr(rebuild_module, "_switch", switch)
    again = CliRunner().invoke(projections_app, ["rebuild", "audit"])
    assert again.exit_code == 0, again.output
    assert {s.name: s.generation for s in projections.status()}["audit"] == 2  # this store's


def test_rebuild_says_it_is_finishing_once_every_event_is_read_before_the_indexes(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.mediate(desk.register())
    finish = rebuild_module._finish

    def finish_and_say(*args: Any) -> None:
        print("<indexes built>")
        finish(*args)

    monkeypatch.setattr(rebuild_module, "_finish", finish_and_say)

    result = CliRunner().invoke(projections_app, ["rebuild", "audit"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()  # no terminal: each label once, as a line
    assert lines[:3] == ["rebuilding audit", FINISHING, "<indexes built>"]
    assert lines[-3] == "rebuilt audit: generation 2"  # then its pace and stages


def test_rebuild_says_its_pace_over_the_events_it_read_before_its_stages(
    services: Services, desk: Desk, projections: Projections, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk.mediate(desk.register())
    moments = iter([100.0, 102.5])  # the rebuild takes 2.5 s by this clock
    monkeypatch.setattr(cli_module, "pace_clock", lambda: next(moments))

    result = CliRunner().invoke(projections_app, ["rebuild", "audit", "queue"])

    assert result.exit_code == 0, result.output
    head = projections.log.head()
    assert head >= 5
    assert result.output.splitlines()[-2] == (
        f"2 views rebuilt from {head:,} events in 2.5 s ({head / 2.5:,.0f} events/s)"
    )


def test_the_pace_of_a_rebuild_names_its_views_and_counts_in_thousands() -> None:
    assert rebuilt_summary(1, 1_000_000, 52.3) == (
        "1 view rebuilt from 1,000,000 events in 52.3 s (19,120 events/s)"
    )
    assert rebuilt_summary(5, 0, 0.0) == "5 views rebuilt from 0 events in 0.0 s (0 events/s)"


def test_an_unknown_view_is_a_usage_error(services: Services) -> None:
    result = CliRunner().invoke(projections_app, ["rebuild", "nonsense"])

    assert result.exit_code == 2


WORKER = """
from mediation.projections import rebuild as rebuild_module
from mediation.projections import cli as cli_module
from mediation.projections.cli import FINISHING, projections_app, rebuilt_summary
projections_app(["run", "--poll-interval", "0.05"])
"""


def test_run_follows_the_log_until_terminated(
    services: Services, desk: Desk, projections: Projections, sqlite_services: Database
) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WORKER)],
        env=os.environ | {"MEDIATION_DATABASE_URL": sqlite_services.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        desk.mediate(desk.register())
        assert projections.wait_for(5, timeout=20), worker.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err.decode()
    assert b"stopped" in out
    assert all(s.lag == 0 for s in projections.status())
