"""Rebuilding views in worker processes (`--jobs`): part of the cases each, or a group of views."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from mediation.bootstrap import Services, configured_projections
from mediation.domain.case import Case
from mediation.projections import Projections, parallel, processor, tracking
from mediation.projections.cli import projections_app
from mediation.projections.log import Part
from mediation.projections.parallel import RebuildFailedError, groups, rebuild_in_processes
from mediation.projections.processor import GenerationGoneError
from mediation.projections.rebuild import Noted
from mediation.projections.stats import StatsView
from mediation.settings import Settings
from tests.projections.projection_support import Desk, check_views_equal_fold, registration
from tests.projections.test_projection_rebuild import populate, table_names

VIEWS = ["queue", "audit", "stats"]


def test_views_are_grouped_by_their_cost_the_statistics_alone() -> None:
    assert groups(VIEWS, 2) == [["stats"], ["queue", "audit"]]
    assert groups(VIEWS, 1) == [VIEWS]
    assert groups(VIEWS, 8) == [["stats"], ["queue"], ["audit"]]
    assert groups([*VIEWS, "deadlines", "notifications"], 2) == [
        ["stats", "deadlines"],
        ["queue", "audit", "notifications"],
    ]


@pytest.fixture
def stats_unsplittable(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the statistics view could not be split by case: the views go in groups."""
    monkeypatch.setattr(StatsView, "partitionable", False)


@pytest.mark.usefixtures("stats_unsplittable")
def test_views_that_cannot_be_split_by_case_are_rebuilt_in_groups_by_two_processes(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "_load_in_processes", refuse_to_split)
    populate(desk)
    projections = services.projections
    projections.catch_up()
    seen: list[tuple[int, int]] = []
    factory = partial(configured_projections, services.settings)

    generations = rebuild_in_processes(
        projections, factory, VIEWS, 2, lambda p, h: seen.append((p, h))
    )

    assert generations == {"queue": 2, "audit": 2, "stats": 2}
    assert {s.name: s.generation for s in projections.status()} == {
        "queue": 2,
        "audit": 2,
        "stats": 2,
        "deadlines": 1,
        "notifications": 1,
    }
    check_views_equal_fold(projections, desk, services.clock.now())
    assert seen
    assert seen[-1][0] == seen[-1][1]  # progress ends at the head of the log


@contextmanager
def no_store() -> Iterator[Projections]:
    """A worker's factory that fails, as one would on a database it cannot open."""
    raise RuntimeError("the store is unreachable")
    yield  # pragma: no cover - never reached


@pytest.mark.usefixtures("stats_unsplittable")
def test_a_worker_that_fails_is_reported_and_the_views_stay_as_they_were(
    services: Services, desk: Desk
) -> None:
    populate(desk)
    projections = services.projections

    with pytest.raises(RebuildFailedError) as failure:
        rebuild_in_processes(projections, no_store, VIEWS, 2)

    assert "stats: RuntimeError: the store is unreachable" in str(failure.value)
    assert "queue, audit: RuntimeError" in str(failure.value)
    assert all(status.generation == 1 for status in projections.status())


EVERY_VIEW = ["queue", "audit", "stats", "deadlines", "notifications"]


def populate_both_parts(desk: Desk, parts: int = 2) -> None:
    """Cases in every part of `parts` (ids are random): some resolved (closed), some under
    way; all with the same applicant, so each case registered after a closed one is a
    re-dispute, some of them of a closed case in another part."""
    per_part = [0] * parts
    closed_in: set[int] = set()
    n = 0
    while min(per_part) < 2 or len(closed_in) < parts:
        case_id = desk.register(registration(summary=f"case {n}"))
        part = next(i for i in range(parts) if Part(i, parts).holds(case_id))
        if n % 3 == 0:
            desk.resolve(case_id)
            closed_in.add(part)
        else:
            desk.mediate(case_id)
        per_part[part] += 1
        n += 1


def re_dispute_count(rows: dict[str, list[tuple[Any, ...]]]) -> int:
    return sum(1 for row in rows["stats.facts"] if row[1] == "re_dispute")


def active_rows(projections: Projections, names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the named views' active tables, by table (without its generation)."""
    found = {}
    for name in names:
        view = projections.view(name)
        with projections.engine.connect() as conn:
            generation = tracking.active_generation(conn, name)
            assert generation is not None
            for field in fields(view.tables(generation)):
                table = getattr(view.tables(generation), field.name)
                query = select(table).order_by(*table.primary_key.columns)
                found[f"{name}.{field.name}"] = [tuple(row) for row in conn.execute(query)]
    return found


def test_the_parts_of_the_cases_hold_each_case_exactly_once() -> None:
    ids = [uuid.uuid4() for _ in range(200)]
    parts = [Part(index, 3) for index in range(3)]

    assert all(sum(part.holds(i) for part in parts) == 1 for i in ids)
    assert all(any(part.holds(i) for i in ids) for part in parts)
    assert Part(0, 2).holds(str(ids[0])) == Part(0, 2).holds(ids[0])
    with pytest.raises(ValueError, match="part 2 of 2 does not exist"):
        Part(2, 2)


@given(
    ids=st.lists(st.uuids(), min_size=1, max_size=50),
    count=st.integers(1, 40) | st.sampled_from([64, 255, 256, 257, 4096, 4097]),
)
def test_sqlite_picks_the_same_cases_for_a_part_as_the_part_itself(
    ids: list[uuid.UUID], count: int
) -> None:
    """`EventLog.read_part` lets SQLite choose a part's rows: by each id's text as the event
    store writes it (hex digits; with dashes too), the same cases as `Part.holds`."""
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE TABLE ids (plain TEXT, dashed TEXT)")
        conn.executemany("INSERT INTO ids VALUES (?, ?)", [(i.hex, str(i)) for i in ids])
        for index in range(count):
            part = Part(index, count)
            for column in ("plain", "dashed"):
                where = part.sqlite_filter(column)
                found = {row[0] for row in conn.execute(f"SELECT {column} FROM ids WHERE {where}")}
                assert {uuid.UUID(text) for text in found} == {i for i in ids if part.holds(i)}


@pytest.mark.postgres
def test_postgresql_picks_the_same_cases_for_a_part_as_the_part_itself(
    postgres_database_url: str,
) -> None:
    ids = [uuid.uuid4() for _ in range(300)]
    with psycopg.connect(postgres_database_url) as conn:
        conn.execute("CREATE TEMPORARY TABLE ids (id uuid, plain text)")
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO ids VALUES (%s, %s)", [(i, i.hex) for i in ids])
        for count in (1, 2, 3, 7, 16, 48, 256, 4096):
            for index in range(count):
                part = Part(index, count)
                for column in ("id", "plain"):
                    where = part.postgres_filter(column)
                    found = conn.execute(f"SELECT {column} FROM ids WHERE {where}").fetchall()
                    assert {uuid.UUID(str(row[0])) for row in found} == {
                        i for i in ids if part.holds(i)
                    }


def test_a_part_of_the_log_is_read_in_batches_of_its_own_events_up_to_the_stop(
    services: Services, desk: Desk
) -> None:
    """Each batch covers a bounded range of positions (`limit` times the parts), so that the
    database never looks through the rest of the log for one batch."""
    populate_both_parts(desk, parts=2)
    log = services.projections.log
    every = log.read(0, 10_000).events
    stop = every[-3].position  # the last events are left out
    for index in (0, 1):
        part = Part(index, 2)
        mine = [r.position for r in every if part.holds(r.event.originator_id)]
        read: list[int] = []
        position = 0
        while position < stop:
            batch = log.read_part(position, 2, stop, part)
            assert len(batch.events) <= 2
            assert position < batch.last <= position + 2 * 2
            assert all(part.holds(r.event.originator_id) for r in batch.events)
            read += [r.position for r in batch.events]
            position = batch.last
        assert position == stop
        assert read == [p for p in mine if p <= stop]


def test_the_whole_log_is_read_in_batches_as_the_library_reads_its_notifications(
    services: Services, desk: Desk
) -> None:
    """`EventLog.read` takes plain rows from SQLite and PostgreSQL, not the library's
    notifications: the same events at the same positions, batch by batch, with or without a
    stop, and the same last position read as the library's notifications decoded by its
    mapper."""
    populate_both_parts(desk, parts=2)
    app, log = services.cases, services.projections.log
    head = log.head()

    def library(after: int, limit: int, stop: int | None) -> tuple[list[Any], int]:
        found = app.recorder.select_notifications(after, limit, stop, inclusive_of_start=False)
        decoded = [(n.id, app.mapper.to_domain_event(n)) for n in found]
        return [(p, e) for p, e in decoded if isinstance(e, Case.Event)], (
            found[-1].id if found else after
        )

    for limit, stop in ((3, None), (5, head - 2), (10_000, None)):
        position, read = 0, []
        while True:
            batch = log.read(position, limit, stop)
            events, last = library(position, limit, stop)
            assert [(r.position, r.event) for r in batch.events] == events
            assert batch.last == last
            if last == position:
                break
            read += events
            position = last
        assert read == library(0, 10_000, stop)[0]
        assert len(read) == (head if stop is None else stop)


def test_a_worker_stops_once_the_rebuilding_process_is_gone(tmp_path: Path) -> None:
    """A rebuild killed outright (SIGKILL) cannot stop its workers: each notices at its next
    batch that the process that started it is gone, and stops, rather than loading for nobody
    while keeping the new generations alive."""
    report = tmp_path / "report"
    started = subprocess.run(
        [sys.executable, "-m", "tests.projections.alone_support", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rebuilding = int(started.stdout.split()[0])
    deadline = time.monotonic() + 30
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert report.read_text() == f"the rebuilding process (pid {rebuilding}) is gone"


def test_every_view_rebuilt_part_by_part_in_two_processes_equals_the_live_one(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk)
    projections = services.projections
    projections.catch_up()
    live = active_rows(projections, EVERY_VIEW)
    seen: list[tuple[int, int]] = []
    factory = partial(configured_projections, services.settings)

    generations = rebuild_in_processes(
        projections, factory, EVERY_VIEW, 2, lambda p, h: seen.append((p, h))
    )

    assert generations == dict.fromkeys(EVERY_VIEW, 2)
    assert re_dispute_count(live) >= 2
    assert active_rows(projections, EVERY_VIEW) == live
    check_views_equal_fold(projections, desk, services.clock.now())
    assert seen
    assert seen[-1][0] == seen[-1][1]  # progress ends at the head of the log
    assert not table_names(services) & {"queue_cases_g1", "audit_events_g1"}


def test_a_rebuild_in_two_processes_tells_how_long_each_stage_took(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk)
    projections = services.projections
    factory = partial(configured_projections, services.settings)
    stages: list[tuple[str, float]] = []

    rebuild_in_processes(projections, factory, VIEWS, 2, staged=lambda *s: stages.append(s))

    assert [name for name, _seconds in stages] == [
        "loading the parts",
        "joining the parts",
        "applying what came meanwhile",
        *(f"{stage} of {view}" for view in VIEWS for stage in ("last rows", "indexes")),
        "switching",
    ]
    assert all(seconds >= 0 for _name, seconds in stages)
    assert stages[0][1] > max(seconds for _name, seconds in stages[1:3])  # the loads' time


def test_events_saved_while_the_parts_load_are_applied_before_the_switch(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk)
    projections = services.projections
    head = projections.log.head()
    ends: list[int] = []

    def load_then_save_more(generations: dict[str, int], end: int) -> list[Noted]:
        ends.append(end)
        noted = [projections.load_part(generations, Part(index, 3), end) for index in range(3)]
        desk.resolve(desk.register(registration(summary="came during the rebuild")))
        return noted

    projections.rebuild(EVERY_VIEW, loader=load_then_save_more)

    assert ends == [head]  # the parts load up to the head at the start
    assert projections.log.head() > head
    assert {s.name: s.position for s in projections.status() if s.name in EVERY_VIEW} == (
        dict.fromkeys(EVERY_VIEW, projections.log.head())
    )
    rebuilt = active_rows(projections, EVERY_VIEW)
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())
    assert active_rows(projections, EVERY_VIEW) == rebuilt


def test_a_failed_part_leaves_the_views_as_they_were_and_no_new_tables(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk)
    projections = services.projections
    projections.catch_up()
    before = table_names(services)

    def fail_in_the_second_part(generations: dict[str, int], end: int) -> list[Noted]:
        projections.load_part(generations, Part(0, 2), end)
        raise RuntimeError("the second worker died")

    with pytest.raises(RuntimeError, match="the second worker died"):
        projections.rebuild(["queue", "audit"], loader=fail_in_the_second_part)

    assert all(status.generation == 1 for status in projections.status())
    assert all(status.rebuilding is None for status in projections.status())
    assert table_names(services) == before
    queue = projections.view("queue")
    assert queue.held(queue.tables(2).cases) is None  # nothing held for the failed generation


def test_a_worker_that_fails_to_load_its_part_is_reported_and_the_views_stay(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk)
    projections = services.projections

    with pytest.raises(RebuildFailedError) as failure:
        rebuild_in_processes(projections, no_store, ["queue", "audit"], 2)

    # The first part is this process's own; the second a worker's, which failed.
    assert "the rebuild of part 2 of 2 failed" in str(failure.value)
    assert "queue, audit: RuntimeError: the store is unreachable" in str(failure.value)
    assert all(status.generation == 1 for status in projections.status())
    assert all(status.rebuilding is None for status in projections.status())
    assert not table_names(services) & {"queue_cases_g2", "audit_events_g2"}


@contextmanager
def vanishing() -> Iterator[Projections]:
    """A worker's factory that ends its process at once, as if it had finished, sending
    nothing."""
    os._exit(0)
    yield  # pragma: no cover - never reached


def test_a_worker_that_ends_without_its_notes_fails_the_rebuild(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk)
    projections = services.projections

    with pytest.raises(RebuildFailedError, match="1 of 2 parts sent no notes"):
        rebuild_in_processes(projections, vanishing, ["queue", "stats"], 2)

    assert all(status.generation == 1 for status in projections.status())
    assert all(status.rebuilding is None for status in projections.status())


def test_a_failed_worker_stops_this_process_loading_its_own_part(
    services: Services, desk: Desk
) -> None:
    populate_both_parts(desk, parts=2)
    for _ in range(20):
        desk.register(registration())  # enough events for the first part to take a while
    projections = services.projections
    monkey = projections.view("queue")
    mine = [
        r.position
        for r in projections.log.read(0, 10_000).events
        if Part(0, 2).holds(r.event.originator_id)
    ]
    folded: list[int] = []

    def slowly(position: int) -> None:
        folded.append(position)
        time.sleep(0.05)  # the worker fails meanwhile, at its start

    monkey.fault = slowly
    projections.rebuild_batch_size = 1  # a batch per event: the failure is seen at the next
    try:
        with pytest.raises(RebuildFailedError, match="part 2 of 2 failed"):
            rebuild_in_processes(projections, no_store, ["queue"], 2)
    finally:
        monkey.fault = None

    assert folded
    assert len(folded) < len(mine)  # stopped before the end of its part
    assert all(status.generation == 1 for status in projections.status())


def test_workers_are_not_forks_of_the_rebuilding_process(
    services: Services, desk: Desk, tmp_path: Path
) -> None:
    """The rebuilding process holds the store's and the views' connections (a SQLite
    connection must not cross a fork): its workers come from a fork server instead."""
    populate_both_parts(desk, parts=3)
    projections = services.projections
    projections.catch_up()
    live = active_rows(projections, ["queue", "stats"])
    parents = tmp_path / "parents"
    factory = partial(projections_noting_parent, str(parents), services.settings)

    rebuild_in_processes(projections, factory, ["queue", "stats"], 3)

    seen = [int(line) for line in parents.read_text().split()]
    assert len(seen) == 2  # one line per worker; the first part is this process's own
    assert os.getpid() not in seen
    assert active_rows(projections, ["queue", "stats"]) == live


def test_without_a_fork_server_the_workers_are_spawned_afresh(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where there is no fork server (not on Unix), workers are fresh interpreters."""
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    populate_both_parts(desk)
    projections = services.projections
    projections.catch_up()
    live = active_rows(projections, ["queue", "audit"])
    factory = partial(configured_projections, services.settings)

    assert parallel._context().get_start_method() == "spawn"
    parallel.prepare_workers(factory)  # nothing to start
    rebuild_in_processes(projections, factory, ["queue", "audit"], 2)

    assert active_rows(projections, ["queue", "audit"]) == live


def test_a_rebuild_in_one_process_starts_no_fork_server(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_factory: Any) -> None:
        raise AssertionError("a fork server was started for a rebuild in one process")

    monkeypatch.setattr(parallel, "prepare_workers", refuse)
    populate_both_parts(desk)
    projections = services.projections
    factory = partial(configured_projections, services.settings)

    generations = rebuild_in_processes(projections, factory, ["queue", "stats"], 1)

    assert generations == {"queue": 2, "stats": 2}


@contextmanager
def projections_noting_parent(path: str, settings: Settings) -> Iterator[Projections]:
    """A worker's factory that notes the worker's parent process, then opens the store."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(f"{os.getppid()}\n")
    with configured_projections(settings) as projections:
        yield projections


@pytest.mark.usefixtures("stats_unsplittable")
def test_only_partitionable_views_are_loaded_part_by_part(services: Services, desk: Desk) -> None:
    populate_both_parts(desk)
    projections = services.projections

    def load(generations: dict[str, int], end: int) -> list[Noted]:
        return [projections.load_part(generations, Part(0, 2), end)]

    with pytest.raises(ValueError, match="views stats cannot be rebuilt part by part"):
        projections.rebuild(["queue", "stats"], loader=load)
    assert all(status.generation == 1 for status in projections.status())


def test_loading_a_part_keeps_its_generations_alive_and_stops_once_they_are_gone(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate_both_parts(desk)
    projections = services.projections
    monkeypatch.setattr(processor, "HEARTBEAT_SECONDS", 0.0)  # a beat with every batch
    monkeypatch.setattr(projections, "rebuild_batch_size", 2)
    beats: list[datetime] = []

    def load_and_watch(generations: dict[str, int], end: int) -> list[Noted]:
        def note(_position: int) -> None:
            with projections.engine.connect() as conn:
                (generation,) = [
                    g for g in tracking.generations(conn, "queue") if g.generation == 2
                ]
            beats.append(generation.updated_at)

        projections.load_part(generations, Part(0, 2), end, note)
        with projections.engine.begin() as conn:
            tracking.forget(conn, "queue", generations["queue"])
        return [projections.load_part(generations, Part(1, 2), end)]

    with pytest.raises(GenerationGoneError, match="queue generation 2 is gone"):
        projections.rebuild(["queue"], loader=load_and_watch)

    assert len(beats) > 2
    assert beats == sorted(beats)
    assert beats[-1] > beats[0]
    assert {s.name: s.generation for s in projections.status()}["queue"] == 1


def test_the_rebuild_command_splits_the_views_by_case_among_its_jobs(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", services.database.url)
    populate_both_parts(desk)
    started: list[str] = []
    monkeypatch.setattr(
        parallel, "_load_in_processes", partial(spy_loader, started, parallel._load_in_processes)
    )

    result = CliRunner().invoke(projections_app, ["rebuild", "queue", "stats", "--jobs", "2"])

    assert result.exit_code == 0, result.output
    assert started == ["queue, stats in 2 parts"]
    assert "rebuilt queue: generation 2" in result.output
    assert "rebuilt stats: generation 2" in result.output
    assert {s.name: s.generation for s in services.projections.status()}["audit"] == 1
    services.projections.catch_up()
    check_views_equal_fold(services.projections, desk, services.clock.now())


def spy_loader(
    started: list[str],
    load: Any,
    projections: Projections,
    factory: Any,
    jobs: int,
    progress: Any,
    generations: dict[str, int],
    end: int,
) -> list[Noted]:
    started.append(f"{', '.join(generations)} in {jobs} parts")
    noted: list[Noted] = load(projections, factory, jobs, progress, generations, end)
    return noted


def refuse_to_split(*_args: Any) -> None:
    raise AssertionError("the views were split by case")
