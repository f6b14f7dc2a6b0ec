"""A view rebuilt from the whole log equals the live one, and the old one answers meanwhile."""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, inspect

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.projections import Projections, RebuildRunningError, tracking
from mediation.projections import rebuild as rebuild_module
from mediation.projections.log import Part
from mediation.projections.rebuild import SORT_THREADS
from mediation.projections.service import REBUILD_WRITING
from mediation.projections.stats import StatsView
from tests.projections.projection_support import (
    Desk,
    check_views_equal_fold,
    registration,
    whole_audit,
    whole_queue,
)
from tests.projections.test_projection_mechanics import InjectedFaultError, head


def populate(desk: Desk) -> None:
    for n in range(3):
        case_id = desk.register(registration(summary=f"case {n}"))
        desk.mediate(case_id)
    desk.resolve(desk.register())


def table_names(services: Services) -> set[str]:
    return set(inspect(services.engine).get_table_names())


def test_a_rebuilt_view_equals_the_live_one(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    projections.catch_up()
    now = services.clock.now()
    live = (whole_queue(projections, now), whole_audit(projections))
    seen: list[tuple[int, int]] = []

    generations = [
        projections.rebuild([name], lambda p, h: seen.append((p, h)))[name]
        for name in ("queue", "audit", "stats")
    ]

    assert generations == [2, 2, 2]
    assert (whole_queue(projections, now), whole_audit(projections)) == live
    check_views_equal_fold(projections, desk, now)
    assert seen[-1][0] == seen[-1][1]  # progress ends at the head of the log
    names = table_names(services)
    assert {"queue_cases_g2", "audit_events_g2", "stats_facts_g2"} <= names
    assert not {"queue_cases_g1", "audit_events_g1", "stats_facts_g1"} & names


def test_queries_and_new_events_carry_on_during_a_rebuild(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    projections.catch_up()
    now = services.clock.now()
    before = whole_queue(projections, now)
    during: list[object] = []

    def meanwhile(_position: int, _head: int) -> None:
        if not during:
            during.append(whole_queue(projections, now))  # the old generation answers
            desk.register(registration(summary="registered during the rebuild"))
            projections.catch_up()  # the follower keeps the old generation current

    projections.rebuild(["queue"], meanwhile)

    assert during[0] == before
    projections.catch_up()
    check_views_equal_fold(projections, desk, now)
    assert any(i.summary == "registered during the rebuild" for i in whole_queue(projections, now))


def test_a_second_rebuild_of_a_view_is_refused_while_one_runs(
    desk: Desk, projections: Projections
) -> None:
    populate(desk)
    refused: list[Exception] = []

    def try_another(_position: int, _head: int) -> None:
        if not refused:
            with pytest.raises(RebuildRunningError) as error:
                projections.rebuild(["queue"])
            refused.append(error.value)

    projections.rebuild(["queue"], try_another)

    assert refused
    assert projections.status()[0].generation == 2


def test_a_rebuild_abandoned_by_a_dead_process_is_cleared_by_the_next(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    view = projections.views["audit"]
    with services.engine.begin() as conn:  # what a rebuild that died after a while leaves
        tracking.add_generation(conn, "audit", 2, view.shape(conn.dialect))
        view.create(conn, 2)
        conn.execute(
            tracking.tracking.update()
            .where(tracking.tracking.c.view == "audit", tracking.tracking.c.generation == 2)
            .values(updated_at=tracking.now() - timedelta(minutes=10))
        )

    assert projections.rebuild(["audit"]) == {"audit": 3}
    assert "audit_events_g2" not in table_names(services)
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())


def test_the_follower_moves_to_the_new_generation_after_a_rebuild(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    projections.start()
    rebuilt = threading.Thread(target=projections.rebuild, args=(["stats"],))
    rebuilt.start()
    position = desk.act(desk.register(), c.Accept())
    rebuilt.join(30)

    later = desk.act(desk.register(), c.Accept())

    assert projections.wait_for(max(position, later), timeout=5)
    assert projections.status()[2].generation == 2
    check_views_equal_fold(projections, desk, services.clock.now())


def test_rebuilding_every_view_reads_the_log_once_for_all(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    reads: list[int] = []
    read = projections.log.read

    def counted(after: int, limit: int, stop: int | None = None, part: Part | None = None) -> Any:
        found = read(after, limit, stop, part)
        if found.events:
            reads.append(after)
        return found

    projections.log.read = counted  # type: ignore[method-assign]

    assert projections.rebuild() == {"queue": 2, "audit": 2, "stats": 2}
    assert len(reads) == len(set(reads))  # each stretch of the log read once, for all views
    check_views_equal_fold(projections, desk, services.clock.now())


def connection_settings(conn: Connection) -> tuple[Any, ...]:
    """What a rebuild's batches change on their connection for speed (and must put back)."""
    if conn.dialect.name == "sqlite":
        names = ("synchronous", "wal_autocheckpoint", "cache_size", "secure_delete", "threads")
        return tuple(conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names)
    return (conn.exec_driver_sql("SHOW synchronous_commit").scalar(),)


def test_a_rebuild_hands_its_connections_back_to_the_pool_with_their_own_settings(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    with services.engine.connect() as conn:
        before = connection_settings(conn)

    projections.rebuild()

    with ExitStack() as stack:  # every idle connection of the pool, the rebuild's among them
        idle = services.engine.pool.checkedin()  # type: ignore[attr-defined]
        pooled = [stack.enter_context(services.engine.connect()) for _ in range(max(idle, 1))]
        assert [connection_settings(conn) for conn in pooled] == [before] * len(pooled)


def test_on_sqlite_the_old_generation_is_dropped_without_zeroing_each_page(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(("PRAGMA secure_delete", "\nDROP TABLE")):
            statements.append(statement.strip())

    event.listen(services.engine, "before_cursor_execute", note)
    try:
        projections.rebuild(["queue"])
    finally:
        event.remove(services.engine, "before_cursor_execute", note)

    if services.engine.dialect.name == "sqlite":
        assert statements[:2] == ["PRAGMA secure_delete", "PRAGMA secure_delete=FAST"]
        assert statements[2].startswith("DROP TABLE queue_cases_g1")
        assert statements[-1].startswith("PRAGMA secure_delete=")  # put back
        assert statements[-1] != "PRAGMA secure_delete=FAST"
    else:  # nothing to set on PostgreSQL
        assert [s.split(" (")[0] for s in statements] == ["DROP TABLE queue_cases_g1"]
    assert "queue_cases_g1" not in table_names(services)


def test_on_sqlite_the_deferred_indexes_are_sorted_in_helper_threads_within_the_own_cache(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    sqlite = services.engine.dialect.name == "sqlite"
    seen: list[tuple[Any, ...]] = []  # SQLite: (threads, cache_size) as each index was created

    def note(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("CREATE INDEX ix_queue_cases_g2"):
            names = ("threads", "cache_size") if sqlite else ()
            seen.append(tuple(conn.exec_driver_sql(f"PRAGMA {n}").scalar() for n in names))

    with services.engine.connect() as conn:
        own_cache = conn.exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
    event.listen(services.engine, "before_cursor_execute", note)
    try:
        projections.rebuild(["queue"])
    finally:
        event.remove(services.engine, "before_cursor_execute", note)

    indexes = inspect(services.engine).get_indexes("queue_cases_g2")
    assert len(seen) == len(indexes) > 0  # each deferred index built once, after the rows
    if sqlite:
        assert seen == [(SORT_THREADS, own_cache)] * len(seen)
        assert own_cache != -REBUILD_WRITING.cache_kib  # not the batches' larger cache
    else:  # nothing to set on PostgreSQL
        assert seen == [()] * len(seen)


def test_a_rebuild_that_fails_keeps_nothing_back_and_the_next_one_completes(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    stats = projections.views["stats"]
    assert isinstance(stats, StatsView)
    held: list[int] = []

    def fail_at_the_end(position: int) -> None:
        if position == head(services):
            held.append(
                stats.held_key_count(2)
            )  # the party keys of the cases so far, not yet written
            raise InjectedFaultError(position)

    stats.fault = fail_at_the_end
    projections.rebuild_batch_size = 5  # the earlier batches' keys are held at the end
    with pytest.raises(InjectedFaultError):
        projections.rebuild(["stats"])
    stats.fault = None

    assert held[0] > 0
    assert stats.held_key_count(2) == 0  # nothing held for the failed generation
    assert projections.status()[2].generation == 1  # the old generation still answers
    assert "stats_facts_g2" not in table_names(services)  # removed: no waiting for it
    assert projections.rebuild(["stats"]) == {"stats": 2}
    projections.catch_up()  # the other views
    check_views_equal_fold(projections, desk, services.clock.now())


def test_a_rebuild_interrupted_after_switching_one_view_leaves_no_old_tables_and_none_running(
    services: Services, desk: Desk, projections: Projections, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(desk)
    projections.catch_up()
    switch = rebuild_module._switch

    def interrupted_at_audit(engine: Any, name: str, generation: int) -> bool:
        if name == "audit":
            raise KeyboardInterrupt  # the operator's Ctrl-C, the queue switched already
        return switch(engine, name, generation)

    monkeypatch.setattr(rebuild_module, "_switch", interrupted_at_audit)
    with pytest.raises(KeyboardInterrupt):
        projections.rebuild(["queue", "audit"])
    monkeypatch.setattr(rebuild_module, "_switch", switch)

    status = {row.name: row for row in projections.status()}
    assert (status["queue"].generation, status["queue"].rebuilding) == (2, None)
    assert (status["audit"].generation, status["audit"].rebuilding) == (1, None)
    assert "queue_cases_g1" not in table_names(services)
    assert "audit_events_g2" not in table_names(services)
    assert projections.rebuild(["queue", "audit"]) == {"queue": 3, "audit": 2}
    check_views_equal_fold(projections, desk, services.clock.now())


def test_a_rebuild_interrupted_inside_a_write_still_removes_its_tables_at_once(
    services: Services, desk: Desk, projections: Projections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C inside the driver's executemany, in the middle of a batch's write: SQLAlchemy
    invalidates that connection, whose transaction holds SQLite's write lock until the
    driver's cursor is let go; the rebuild's cleanup must not wait behind it (seen: each
    removal waited the 10 s busy timeout, failed, and left the tables for 2 minutes)."""
    populate(desk)
    projections.catch_up()
    dialect = type(projections.engine.dialect)
    executemany = dialect.do_executemany
    interrupted: list[str] = []

    def interrupted_inside(
        self: Any, cursor: Any, statement: str, parameters: Any, context: Any = None
    ) -> None:
        if interrupted or "audit_events_g2" not in statement:
            executemany(self, cursor, statement, parameters, context)
            return
        interrupted.append(statement)
        cursor.executemany(statement, parameters[:1])  # the write lock is taken
        raise KeyboardInterrupt  # as a signal delivered while the driver binds the rest

    monkeypatch.setattr(dialect, "do_executemany", interrupted_inside)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        projections.rebuild(["audit"])
    monkeypatch.setattr(dialect, "do_executemany", executemany)

    assert interrupted
    assert time.monotonic() - started < 5  # no busy timeout waited out
    assert projections.status()[1].rebuilding is None
    assert "audit_events_g2" not in table_names(services)
    assert projections.rebuild(["audit"]) == {"audit": 2}


def test_ctrl_c_pressed_again_while_an_interrupted_rebuild_cleans_up_does_not_stop_it(
    services: Services,
    desk: Desk,
    projections: Projections,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operator presses Ctrl-C a second time while the rebuild removes its unfinished
    tables: the removal goes on (else the tables stayed for ABANDONED_AFTER and refused the
    next rebuild meanwhile), and Ctrl-C works as before once it is done."""
    populate(desk)
    projections.catch_up()
    audit = projections.views["audit"]
    drop = audit.drop
    pressed: list[int] = []

    def interrupted(*_args: Any) -> None:
        raise KeyboardInterrupt  # the first Ctrl-C, while the rows are being loaded

    def pressed_again(conn: Connection, generation: int) -> None:
        pressed.append(generation)
        os.kill(os.getpid(), signal.SIGINT)  # handled before the next line runs
        drop(conn, generation)

    handler = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(rebuild_module, "_finish", interrupted)
    monkeypatch.setattr(audit, "drop", pressed_again)
    with (
        caplog.at_level("WARNING", logger="mediation.projections"),
        pytest.raises(KeyboardInterrupt),
    ):
        projections.rebuild(["audit"])
    monkeypatch.undo()

    assert pressed == [2]
    assert "audit_events_g2" not in table_names(services)
    assert "SIGINT: still removing the unfinished tables of the rebuild" in caplog.text
    assert projections.status()[1].rebuilding is None
    assert projections.rebuild(["audit"]) == {"audit": 2}
    assert signal.getsignal(signal.SIGINT) is handler  # Ctrl-C interrupts as before


def test_holding_off_interrupts_leaves_an_ignored_signal_ignored_and_restores_the_others() -> None:
    """A worker ignores Ctrl-C (its parent stops it): its cleanup must not start logging the
    terminal's Ctrl-C; the handlers are as before once the cleanup is done."""
    ctrl_c = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        before = signal.getsignal(signal.SIGTERM)
        with rebuild_module.interrupts_held_off("cleaning up"):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (before, signal.SIG_IGN)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGINT, ctrl_c)


def test_a_rebuild_that_fails_to_start_its_second_view_removes_the_first_ones_tables(
    services: Services, desk: Desk, projections: Projections, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(desk)
    audit = projections.views["audit"]

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise InjectedFaultError("the database refused the new tables")

    monkeypatch.setattr(audit, "create", refuse)
    with pytest.raises(InjectedFaultError):
        projections.rebuild(["queue", "audit"])
    monkeypatch.undo()

    assert "queue_cases_g2" not in table_names(services)
    assert all(row.rebuilding is None for row in projections.status())
    assert projections.rebuild(["queue", "audit"]) == {"queue": 2, "audit": 2}


def test_the_collector_is_off_for_the_whole_rebuild_and_back_on_after_it(
    desk: Desk, projections: Projections
) -> None:
    populate(desk)
    projections.rebuild_batch_size = 5  # progress is reported between batches
    between_batches: list[bool] = []

    projections.rebuild(["queue"], lambda _p, _h: between_batches.append(gc.isenabled()))

    assert len(between_batches) > 1
    assert not any(between_batches)
    assert gc.isenabled()


def write_ahead_log(services: Services) -> Path:
    database = services.engine.url.database
    assert database is not None
    return Path(f"{database}-wal")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_on_sqlite_a_rebuild_empties_the_write_ahead_log_it_grew(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    projections.catch_up()
    assert write_ahead_log(services).stat().st_size > 0

    projections.rebuild()

    assert write_ahead_log(services).stat().st_size == 0
    check_views_equal_fold(projections, desk, services.clock.now())


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_on_sqlite_a_rebuild_ends_without_waiting_for_a_reader_of_the_write_ahead_log(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    reader = sqlite3.connect(str(services.engine.url.database))
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM sqlite_master").fetchone()  # holds a snapshot
        statements: list[str] = []

        def note(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "wal_checkpoint" in statement or "busy_timeout" in statement:
                statements.append(statement)

        event.listen(services.engine, "before_cursor_execute", note)
        try:
            projections.rebuild(["queue"])
        finally:
            event.remove(services.engine, "before_cursor_execute", note)
    finally:
        reader.close()

    assert statements[:4] == [
        "PRAGMA wal_checkpoint(PASSIVE)",
        "PRAGMA busy_timeout",
        "PRAGMA busy_timeout=0",  # emptying the file waits for no one
        "PRAGMA wal_checkpoint(TRUNCATE)",
    ]
    assert statements[4].startswith("PRAGMA busy_timeout=")  # put back
    assert write_ahead_log(services).stat().st_size > 0  # the reader kept it: left for later
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())
