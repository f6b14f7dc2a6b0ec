"""Batches commit rows and position together: a fault, a killed worker or a second worker
never applies an event twice or skips one."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    event,
    func,
    select,
)

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.decisions import execute
from mediation.domain.ports import Context
from mediation.projections import Projections, StatsQuery, build_projections, stats
from mediation.projections.log import EventLog
from mediation.projections.processor import Outcome, Processor, collector_paused
from mediation.projections.view import Recorded, View
from mediation.store import Database
from tests.projections.projection_support import SALT, Desk, check_views_equal_fold, registration


class InjectedFaultError(Exception):
    """The fault a test injects into a view."""


def populate(desk: Desk, cases: int = 4) -> None:
    """A few cases with several events each (about 8 per case)."""
    for _ in range(cases):
        case_id = desk.register()
        desk.mediate(case_id)
        desk.act(case_id, c.AddNote("a note"))
        desk.act(case_id, c.RecordSession("talked"), "mia")


def fail_at_13(position: int) -> None:
    """A view's fault on the event at position 13 (the third batch of 5)."""
    if position == 13:
        raise InjectedFaultError(position)


def head(services: Services) -> int:
    return services.cases.recorder.max_notification_id() or 0


@pytest.mark.parametrize("where", ["while folding", "after writing its rows"])
def test_a_fault_mid_batch_commits_neither_rows_nor_position_and_a_restart_applies_each_event_once(
    services: Services, desk: Desk, projections: Projections, where: str
) -> None:
    populate(desk)
    stats = projections.views["stats"]

    def fail_before_commit(view: str, batch: Sequence[Recorded]) -> None:
        if view == "stats":  # called with the batch's rows written, not yet committed
            for recorded in batch:
                fail_at_13(recorded.position)

    if where == "while folding":
        stats.fault = fail_at_13
    else:
        projections.processor.before_commit = fail_before_commit

    with pytest.raises(InjectedFaultError):
        projections.catch_up(["stats"])

    assert projections.position("stats") == 10  # batches of 5: the third one failed
    with services.engine.connect() as conn:
        tables = stats.tables(1)
        assert (conn.scalar(select(func.max(tables.facts.c.position))) or 0) <= 10
    stats.fault = None
    projections.processor.before_commit = None
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())


def test_a_view_that_keeps_failing_does_not_hold_the_others_back(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk)
    stats = projections.views["stats"]
    stats.fault = fail_at_13

    with pytest.raises(InjectedFaultError):
        projections.catch_up()  # one call, as the follower makes once per retry

    assert projections.position("stats") == 10  # batches of 5: the third one fails
    assert projections.position("queue") == projections.position("audit") == head(services)
    stats.fault = None
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())


KILLED_WORKER = """
import os, sys
from mediation.bootstrap import build_services
from mediation.projections import build_projections
from mediation.settings import Settings

services = build_services(Settings(database_url=sys.argv[1]))
projections = build_projections(
    services.engine, services.cases, services.workflows, sys.argv[2].encode(), batch_size=5
)

def die(view, batch):
    if any(recorded.position == 13 for recorded in batch):
        os._exit(9)  # no rollback, no clean-up: as if the machine lost power

projections.processor.before_commit = die
projections.catch_up()
"""


def test_a_worker_killed_before_its_batch_commits_leaves_no_trace_and_a_successor_finishes(
    services: Services, database: Database, desk: Desk, projections: Projections
) -> None:
    populate(desk)

    worker = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_WORKER), database.url, SALT.decode()],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert worker.returncode == 9, worker.stderr.decode()
    assert projections.position("queue") == 10
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())


@dataclass(frozen=True)
class LedgerTables:
    applied: Table


class Ledger(View[LedgerTables]):
    """A view that appends a row per event applied: a double application shows as two rows."""

    name = "ledger"

    def define(self, metadata: MetaData, suffix: str) -> LedgerTables:
        return LedgerTables(
            Table(
                f"ledger{suffix}",
                metadata,
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("position", BigInteger, nullable=False),
            )
        )

    def _apply(self, conn: Connection, tables: LedgerTables, chunk: Sequence[Recorded]) -> None:
        conn.execute(tables.applied.insert(), [{"position": r.position} for r in chunk])
        time.sleep(0.002)  # hold the transaction open so that the two workers overlap


class Unlocked(Processor):
    """Without the PostgreSQL advisory lock: only the guarded position update protects."""

    def _locked(self, conn: Connection, view: str, generation: int) -> bool:
        return True


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "guard-only"])
def test_two_workers_on_one_view_apply_each_event_exactly_once(
    services: Services, database: Database, desk: Desk, locked: bool
) -> None:
    populate(desk, cases=6)
    ledger = Ledger()
    engines = [database.create_engine(), database.create_engine()]  # separate connections
    kind = Processor if locked else Unlocked
    workers = [kind(engine, EventLog(services.cases), batch_size=2) for engine in engines]
    setup = Projections(services.engine, services.cases, [ledger])
    setup.create_schema()
    outcomes: list[Outcome] = []
    start = threading.Barrier(2)

    def work(processor: Processor) -> None:
        start.wait()
        while (step := processor.step(ledger, 1)).outcome is not Outcome.IDLE:
            outcomes.append(step.outcome)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    with services.engine.connect() as conn:
        table = ledger.tables(1).applied
        applied = [row.position for row in conn.execute(select(table.c.position))]
    assert sorted(applied) == list(range(1, head(services) + 1))
    assert {Outcome.LOST, Outcome.BUSY} & set(outcomes), "the workers never contended"
    for engine in engines:
        engine.dispose()


def test_a_batch_planned_while_another_worker_applies_it_is_not_written_twice(
    services: Services, database: Database, desk: Desk, projections: Projections
) -> None:
    """SQLite: the first worker folds outside the write lock, the second applies the same
    batch meanwhile, so the first one's claim fails. PostgreSQL: the first holds the view's
    lock while it folds, so the second finds it busy. Either way, each event once."""
    populate(desk)
    engine = database.create_engine()
    other = build_projections(engine, services.cases, services.workflows, SALT, batch_size=5)
    overtaken: list[int] = []

    def let_the_other_worker_in(position: int) -> None:
        if not overtaken:
            overtaken.append(position)
            other.catch_up(["audit"])

    audit = projections.views["audit"]
    audit.fault = let_the_other_worker_in
    try:
        projections.catch_up(["audit"])
    finally:
        audit.fault = None
        engine.dispose()

    assert overtaken == [1]
    assert projections.position("audit") == head(services)
    projections.catch_up()
    check_views_equal_fold(projections, desk, services.clock.now())


def test_a_gap_in_the_log_is_passed_over(
    services: Services, desk: Desk, projections: Projections
) -> None:
    first = desk.register()
    stale: Case = services.cases.repository.get(first)
    desk.act(first, c.Accept())
    context = Context(
        services.workflows.get(stale.workflow), services.clock.now(), services.directory
    )
    execute(stale, c.AddNote("written on a stale copy"), desk.actors["clerk"], context)
    with pytest.raises(IntegrityError):
        services.cases.save(stale)  # refused; on PostgreSQL it uses up a notification id
    desk.register(registration(summary="after the gap"))

    projections.catch_up()

    audit = projections.views["audit"].tables(1).events
    with services.engine.connect() as conn:
        positions = [row.position for row in conn.execute(select(audit.c.position))]
    ids = [n.id for n in services.cases.recorder.select_notifications(1, 100)]
    if services.engine.dialect.name == "postgresql":
        assert ids == [1, 2, 4]  # the refused save took id 3
    assert sorted(positions) == ids
    assert projections.position("audit") == ids[-1]


def test_status_shows_each_views_position_and_lag(
    services: Services, desk: Desk, projections: Projections
) -> None:
    populate(desk, cases=1)
    projections.catch_up(["queue"])

    status = {s.name: s for s in projections.status()}

    assert (status["queue"].position, status["queue"].lag) == (head(services), 0)
    assert (status["audit"].position, status["audit"].lag) == (0, head(services))
    assert status["audit"].generation == 1


def test_the_follower_applies_new_events_and_wait_for_returns_once_they_are_in(
    services: Services, desk: Desk, projections: Projections
) -> None:
    projections.start()
    case_id = desk.register()
    position = desk.act(case_id, c.Accept())

    assert projections.wait_for(position, timeout=5)
    assert all(projections.position(name) >= position for name in projections.views)


def test_wait_for_gives_up_after_its_timeout_when_nothing_follows(
    desk: Desk, projections: Projections
) -> None:
    position = desk.act(desk.register(), c.Accept())
    started = time.monotonic()

    assert not projections.wait_for(position, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 1.0


def test_the_follower_outlives_a_failing_batch_and_catches_up_after_it(
    services: Services, desk: Desk, projections: Projections
) -> None:
    failures: list[int] = []

    def fail_twice(position: int) -> None:
        if len(failures) < 2:
            failures.append(position)
            raise InjectedFaultError(position)

    projections.views["queue"].fault = fail_twice
    projections.start()
    position = desk.act(desk.register(), c.Accept())

    assert projections.wait_for(position, timeout=5)
    assert len(failures) == 2
    check_views_equal_fold(projections, desk, services.clock.now())


def test_the_standard_views_build_with_the_default_batch_size(services: Services) -> None:
    built = build_projections(services.engine, services.cases, services.workflows, SALT)
    built.create_schema()
    built.create_schema()  # a second start-up finds everything in place

    assert [s.generation for s in built.status()] == [1, 1, 1]


def test_the_garbage_collector_is_off_while_a_batch_folds_and_back_on_after_a_failing_one(
    desk: Desk, projections: Projections
) -> None:
    populate(desk)
    seen: list[bool] = []

    def look_then_fail(position: int) -> None:
        seen.append(gc.isenabled())
        raise InjectedFaultError(position)

    projections.views["queue"].fault = look_then_fail
    with pytest.raises(InjectedFaultError):
        projections.catch_up(["queue"])
    assert seen == [False]
    assert gc.isenabled()


def test_the_collector_comes_back_when_the_last_of_overlapping_batches_ends() -> None:
    first, second = collector_paused(), collector_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the other batch still runs
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_program_stays_off_after_a_batch() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_statistics_of_one_request_come_from_one_state_of_the_view(
    services: Services, desk: Desk, projections: Projections
) -> None:
    """Counts and days to close are read in separate statements: a batch committed between
    them must not reach one and not the other."""
    desk.resolve(desk.register())  # one case closed
    projections.catch_up()
    facts = projections.views["stats"].tables(1).facts
    with services.engine.connect() as conn:
        closed = conn.execute(select(facts).where(facts.c.kind == "closed")).one()._asdict()
    injected: list[int] = []

    def commit_between(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if injected or "stats_facts" not in statement or "count(" not in statement.lower():
            return
        injected.append(closed["position"] + 1000)  # as a batch's commit would, meanwhile
        with services.engine.begin() as other:
            other.execute(facts.insert().values(closed | {"position": injected[0]}))

    event.listen(services.engine, "after_cursor_execute", commit_between)
    try:
        query = StatsQuery(frozenset({"cg-a"}), date(2000, 1, 1), date(2100, 1, 1), ())
        [total] = stats(projections, query, services.clock.now()).totals
    finally:
        event.remove(services.engine, "after_cursor_execute", commit_between)

    assert injected
    assert sum(total.closed.values()) == len(total.days_to_close) == 1
