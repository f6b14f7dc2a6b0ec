"""`python -m bench.pages`: the audit trail's and the statistics' pages timed on a copy of the
bench's log."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from bench.bench_projections import open_count
from bench.instructions import generate
from bench.pages import (
    audit_queries,
    lookup_queries,
    main,
    measure,
    rebuilt_copy,
    stats_queries,
    summary_scopes,
)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "log.db"
    generate(path, 1_000)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_query_is_timed_on_a_rebuilt_copy_and_the_log_is_left_as_it_was(log: Path) -> None:
    before = digest(log)

    with rebuilt_copy(log) as world:
        runs = measure(world, repeats=3)
        head = world.head()
        labels = [f"audit: {label}" for label in audit_queries(world, None)]
        labels += [f"stats: {label}" for label in stats_queries(world)]
        labels += [f"queue summary: {label}" for label in summary_scopes()]
        labels += [f"party lookup: {label}" for label in lookup_queries(world)]
        opened = open_count(world)

    assert digest(log) == before
    assert [run.query for run in runs] == labels
    assert all(run.latency.count == 3 and run.latency.p50 > 0 for run in runs)
    found = {run.query: run.entries for run in runs}
    assert found["audit: city supervisor, first 50"] == 50
    assert found["audit: city supervisor, first 200"] == min(200, head)
    assert found["audit: one case's history"] >= 1
    assert found["audit: one actor (a town's clerk)"] >= 1
    assert found["audit: city supervisor, newest 50"] == 50
    assert found["stats: city, by month"] >= 1  # the figures span the whole log
    assert found["stats: one town, by month"] >= 1
    assert found["queue summary: city (all centers)"] == opened > 0
    assert found["party lookup: by ID number"] >= 1  # the case it was taken from, at least
    assert found["party lookup: by name and phone"] >= 1


def test_the_command_prints_each_query_with_its_entries_and_percentiles(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--log", str(log), "--repeats", "1"]) == 0

    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"pages on 1,0\d\d events, SQLite \(1 timed runs of each query after 2 untimed\): ms",
        printed[0],
    )
    rows = printed[2:]
    assert rows[0].split()[:4] == ["audit:", "city", "supervisor,", "first"]
    assert rows[-1].split()[:6] == ["party", "lookup:", "by", "name", "and", "phone"]
    assert len(rows) == 16 + 5 + 3 + 2
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
