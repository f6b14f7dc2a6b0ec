"""kill -9 of the API and of the workers (views, rules) in the middle of the load, a restart:
no acknowledged action is lost or doubled, nothing is half-written, and the views, once caught
up, equal the fold of the log."""

from __future__ import annotations

from pathlib import Path

from mediation.store import Database
from tests.reliability.scenario import Plan, run

# The restart takes some seconds (imports): the load goes on before, during and after it.
CRASH_PLAN = Plan(seconds=11.0, separate_workers=True, crash_at=(4.0,))


def test_killing_the_server_and_its_workers_mid_load_loses_and_half_writes_nothing(
    database: Database, tmp_path: Path
) -> None:
    report = run(database.url, tmp_path, CRASH_PLAN)

    assert report.findings == []
    assert report.acked_at_crashes[0] > 0, "the kill came before any load"
    assert report.acknowledged > report.acked_at_crashes[0], "no action after the restart"
    assert report.tally.refused_connections > 0, "the clients never noticed the crash"
