"""Tables that another version of mediation shaped otherwise are not used: the view starts
again from the log, and a view whose tables this version made is kept as it is."""

from __future__ import annotations

import hashlib
import logging

import pytest
from sqlalchemy import Column, MetaData, String, inspect, update
from sqlalchemy.schema import CreateIndex, CreateTable

from mediation.bootstrap import Services
from mediation.projections import Projections, build_projections, tracking
from mediation.projections.queue import QueueTables, QueueView
from tests.projections.projection_support import SALT, Desk, check_views_equal_fold, registration


def settle(desk: Desk) -> None:
    for n in range(3):
        desk.mediate(desk.register(registration(summary=f"case {n}")))
    desk.resolve(desk.register())


def restart(services: Services) -> Projections:
    """What a new process of mediation does at start: its views over the same database."""
    again = build_projections(services.engine, services.cases, services.workflows, SALT)
    again.create_schema()
    return again


def generations(services: Services) -> dict[str, int | None]:
    with services.engine.connect() as conn:
        return {
            name: tracking.active_generation(conn, name) for name in ("queue", "audit", "stats")
        }


def test_a_restart_keeps_views_whose_tables_this_version_made(
    services: Services, desk: Desk, projections: Projections
) -> None:
    settle(desk)
    projections.catch_up()
    before = [(s.name, s.generation, s.position) for s in projections.status()]

    again = restart(services)

    assert [(s.name, s.generation, s.position) for s in again.status()] == before


@pytest.mark.parametrize("recorded", ["another shape", None])
def test_a_view_with_tables_of_another_version_starts_again_from_the_log(
    services: Services,
    desk: Desk,
    projections: Projections,
    caplog: pytest.LogCaptureFixture,
    recorded: str | None,
) -> None:
    settle(desk)
    projections.catch_up()
    with services.engine.begin() as conn:  # as an older version left it
        shapes = tracking.shapes
        where = (shapes.c.view == "stats", shapes.c.generation == 1)
        if recorded is None:  # made before shapes were recorded
            conn.execute(shapes.delete().where(*where))
        else:
            conn.execute(update(shapes).where(*where).values(shape=recorded))

    with caplog.at_level(logging.WARNING, logger="mediation.projections"):
        again = restart(services)

    assert generations(services) == {"queue": 1, "audit": 1, "stats": 2}
    names = set(inspect(services.engine).get_table_names())
    assert "stats_facts_g2" in names
    assert "stats_facts_g1" not in names
    assert "the stats view's tables were made by another version" in caplog.text
    assert {s.name: s.position for s in again.status()}["stats"] == 0
    again.catch_up()
    check_views_equal_fold(again, desk, services.clock.now())


class WiderQueue(QueueView):
    """The queue as a later version might define it: one more column."""

    def define(self, metadata: MetaData, suffix: str) -> QueueTables:
        tables = super().define(metadata, suffix)
        tables.cases.append_column(Column("note", String(16)))
        return tables


def test_a_view_shape_follows_its_tables_not_its_generation(
    services: Services, projections: Projections
) -> None:
    dialect = services.engine.dialect
    queue = projections.views["queue"]
    assert queue.shape(dialect) == QueueView(services.workflows).shape(dialect)
    assert queue.shape(dialect) != WiderQueue(services.workflows).shape(dialect)
    assert queue.shape(dialect) != projections.views["audit"].shape(dialect)
    with services.engine.connect() as conn:
        assert tracking.shape(conn, "queue", 1) == queue.shape(dialect)


class RefoldedQueue(QueueView):
    """The queue's tables, folded otherwise than version 1 did."""

    fold_version = 2


def test_a_view_that_folds_events_otherwise_has_another_shape_and_version_1_adds_nothing(
    services: Services,
) -> None:
    dialect = services.engine.dialect
    queue = QueueView(services.workflows)
    metadata = MetaData()
    queue.define(metadata, "_g0")
    statements = []  # what the shapes recorded before fold versions were digests of
    for table in metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        indexes = (str(CreateIndex(i).compile(dialect=dialect)) for i in table.indexes)
        statements.extend(sorted(indexes))
    recorded_before = hashlib.sha256("\n".join(statements).encode()).hexdigest()

    assert queue.shape(dialect) == recorded_before
    assert RefoldedQueue(services.workflows).shape(dialect) != recorded_before
