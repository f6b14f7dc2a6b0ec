"""The rules as operators run them: real processes, at the same time, and the simulate command."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediation.bootstrap import Services, run_rules_forever
from mediation.cli import app
from mediation.domain import commands as c
from mediation.rules import Escalation
from mediation.store import Database
from mediation.workflows.registry import BUILT_IN
from tests.rules.conftest import Register
from tests.support import FakeClock, Org

CASES = 8


def rules_process(database: Database, now: str) -> subprocess.Popen[str]:
    env = {**os.environ, "MEDIATION_DATABASE_URL": database.url}
    command = [sys.executable, "-m", "mediation.cli", "rules", "run-once", "--now", now]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def escalations(services: Services, org: Org) -> list[int]:
    counts = []
    for case_id in services.cases.case_ids():
        history = services.cases.history(case_id, org.actors["clerk"])
        counts.append(sum(entry.type == "Escalated" for entry in history))
    return counts


def test_two_rules_processes_at_once_escalate_each_breach_exactly_once(
    services: Services, database: Database, register: Register, clock: FakeClock, org: Org
) -> None:
    for _ in range(CASES):
        register()
    late = (clock.now() + timedelta(days=1, hours=1)).isoformat()

    first, second = rules_process(database, late), rules_process(database, late)
    outputs = [process.communicate(timeout=120) for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert escalations(services, org) == [1] * CASES
    lines = [line for out, _err in outputs for line in out.splitlines()]
    assert len(lines) == CASES  # between them, each breach escalated by one process only


def test_run_once_again_later_escalates_only_the_second_period(
    services: Services, database: Database, register: Register, clock: FakeClock, org: Org
) -> None:
    register()
    for days in (1, 1, 2):
        moment = (clock.now() + timedelta(days=days, hours=1)).isoformat()
        process = rules_process(database, moment)
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err

    assert escalations(services, org) == [2]


def test_run_once_refuses_a_moment_without_a_time_zone(
    database: Database, monkeypatch: pytest.MonkeyPatch, services: Services
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", database.url)

    result = CliRunner().invoke(app, ["rules", "run-once", "--now", "2026-03-02T09:00:00"])

    assert result.exit_code == 2
    assert "time zone" in result.output


def test_run_once_refuses_a_moment_later_than_now_and_escalates_nothing(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    services: Services,
    register: Register,
    org: Org,
) -> None:
    register()  # its intake decision falls due a day later
    monkeypatch.setenv("MEDIATION_DATABASE_URL", database.url)
    next_year = (datetime.now(UTC) + timedelta(days=365)).isoformat()

    result = CliRunner().invoke(app, ["rules", "run-once", "--now", next_year])

    assert result.exit_code == 2
    assert "must not be later than now" in result.output
    assert escalations(services, org) == [0]


def test_the_rules_worker_passes_as_often_as_the_setting_says(
    database: Database, monkeypatch: pytest.MonkeyPatch, services: Services
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", database.url)
    monkeypatch.setenv("MEDIATION_RULES_INTERVAL", "7")
    intervals: list[float] = []
    monkeypatch.setattr(
        "mediation.bootstrap.run_rules_forever",
        lambda _services, _stop, interval, own_deadlines: intervals.append(interval),
    )

    by_setting = CliRunner().invoke(app, ["rules", "run"])
    by_option = CliRunner().invoke(app, ["rules", "run", "--interval", "3"])

    assert (by_setting.exit_code, by_option.exit_code) == (0, 0)
    assert intervals == [7.0, 3.0]


def test_simulate_prints_the_differences_and_writes_nothing(
    services: Services,
    database: Database,
    register: Register,
    clock: FakeClock,
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    case_id = register()
    services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    services.cases.act(case_id, c.Route("mia"), org.actors["clerk"])
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    shorter = text.replace(
        'stops = ["reach_agreement", "terminate"]\ndays = 30',
        'stops = ["reach_agreement", "terminate"]\ndays = 12',
    )
    assert shorter != text
    (tmp_path / "candidate.toml").write_text(shorter, encoding="utf-8")
    monkeypatch.setenv("MEDIATION_DATABASE_URL", database.url)
    head = services.cases.recorder.max_notification_id()
    until = (clock.now() + timedelta(days=20)).isoformat()

    result = CliRunner().invoke(
        app, ["rules", "simulate", "--definition", str(tmp_path / "candidate.toml"), "--to", until]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{case_id} [cg-a]: would escalate deadline 'mediation' (overdue period 1) at "
        f"{(clock.now() + timedelta(days=12)).isoformat()} under dispute@1"
    ]
    assert services.cases.recorder.max_notification_id() == head


def test_the_rules_worker_logs_a_failing_pass_and_escalates_on_the_next(
    services: Services,
    register: Register,
    clock: FakeClock,
    org: Org,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    register()
    clock.advance(days=1, hours=1)  # the intake decision is overdue
    run_once = services.rules.run_once
    calls: list[int] = []

    def fail_first(now: datetime | None = None) -> list[Escalation]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the database went away for a moment")
        return run_once(now)

    monkeypatch.setattr(services.rules, "run_once", fail_first)
    stop = threading.Event()
    # own_deadlines: nothing else brings this test's deadlines view up to the log
    worker = threading.Thread(
        target=run_rules_forever, args=(services, stop, 0.01), kwargs={"own_deadlines": True}
    )
    with caplog.at_level(logging.ERROR, logger="mediation"):
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while escalations(services, org) != [1] and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(10)

    assert escalations(services, org) == [1]
    assert "rules pass failed" in caplog.text
    assert not worker.is_alive()
