"""`python -m bench.audit_pages`: audit pages timed on a copy of the bench's log."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from bench.audit_pages import audit_queries, main, measure, rebuilt_copy
from bench.instructions import generate


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-pages") / "log.db"
    generate(path, 1_000)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_query_is_timed_on_a_rebuilt_copy_and_the_log_is_left_as_it_was(log: Path) -> None:
    before = digest(log)

    with rebuilt_copy(log) as world:
        runs = measure(world, repeats=3)
        head = world.head()
        labels = list(audit_queries(world, None))

    assert digest(log) == before
    assert [run.query for run in runs] == labels
    assert all(run.latency.count == 3 and run.latency.p50 > 0 for run in runs)
    found = {run.query: run.entries for run in runs}
    assert found["city supervisor, first 50"] == 50
    assert found["city supervisor, first 200"] == min(200, head)
    assert found["one case's history"] >= 1
    assert found["one actor (a town's clerk)"] >= 1


def test_the_command_prints_each_query_with_its_entries_and_percentiles(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--log", str(log), "--repeats", "1"]) == 0

    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"audit pages on 1,0\d\d events, SQLite \(1 timed runs of each query after 2 untimed\): ms",
        printed[0],
    )
    rows = printed[2:]
    assert rows[0].split()[:3] == ["city", "supervisor,", "first"]
    assert len(rows) == 11
    for row in rows:
        entries, p50, p99, largest = row.split()[-4:]
        assert int(entries) >= 0
        assert 0 < float(p50) <= float(p99) <= float(largest)


def test_fewer_than_one_repeat_is_refused_naming_the_option(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["--log", str(log), "--repeats", "0"])

    assert refused.value.code == 2
    assert "--repeats: must be at least 1, not 0" in capsys.readouterr().err
