"""Many clients doing random valid actions on shared cases against a real `mediation serve`:
every acknowledged action is in the log exactly once, no 5xx, and the views equal the fold."""

from __future__ import annotations

from pathlib import Path

from mediation.store import Database
from tests.reliability.scenario import Plan, run

SOAK_SECONDS = 10.0


def test_concurrent_clients_lose_no_acknowledged_action_and_the_views_equal_the_log(
    database: Database, tmp_path: Path
) -> None:
    report = run(database.url, tmp_path, Plan(seconds=SOAK_SECONDS))

    assert report.findings == []
    assert not [status for status in report.tally.writes if status >= 500]
    assert report.acknowledged > 100
    assert report.tally.conflicts > 0, "the clients never collided: the test proves too little"
    assert report.tally.broken_connections == report.tally.refused_connections == 0
