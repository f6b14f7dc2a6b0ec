"""The soak's checks find what they look for: an acknowledged action missing from the log, an
event nobody was told about, a view that differs from the fold, an edited event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from sqlalchemy import text, update

from mediation.bootstrap import Services, build_services
from mediation.domain import commands as c
from mediation.settings import Settings
from mediation.store import Database
from tests.projections.projection_support import Desk, make_org
from tests.reliability.checks import check_cases, check_log, check_views
from tests.reliability.tally import Ack, Tally, Unanswered


@pytest.fixture
def services(database: Database) -> Iterator[Services]:
    built = build_services(Settings(database_url=database.url))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def desk(services: Services) -> Desk:
    return Desk(services.cases, make_org(services.directory))


@pytest.fixture
def case_id(desk: Desk) -> UUID:
    case_id = desk.register()
    desk.act(case_id, c.Accept())
    return case_id


def acks(case_id: UUID) -> list[Ack]:
    return [Ack(case_id, 1, None, "register", "clerk"), Ack(case_id, 2, 2, "accept", "clerk")]


def test_the_log_as_acknowledged_passes(services: Services, case_id: UUID) -> None:
    assert check_log(services.cases, Tally(acks=acks(case_id))) == []


def test_an_acknowledged_action_missing_from_the_log_is_found(
    services: Services, case_id: UUID
) -> None:
    lost = Ack(case_id, 3, None, "add_note", "clerk")

    findings = check_log(services.cases, Tally(acks=[*acks(case_id), lost]))

    assert findings == [f"acknowledged {lost} is in the log 0 times"]


def test_an_event_nobody_was_told_about_is_found_unless_its_answer_was_lost(
    services: Services, case_id: UUID
) -> None:
    told = acks(case_id)[:1]
    lost_answer = Unanswered(case_id, 2, "accept", "clerk")

    assert len(check_log(services.cases, Tally(acks=told))) == 1
    assert check_log(services.cases, Tally(acks=told, unanswered=[lost_answer])) == []


def test_a_view_row_unlike_the_fold_is_found(services: Services, desk: Desk, case_id: UUID) -> None:
    projections = services.projections
    projections.catch_up()
    queue = projections.view("queue").tables(1).cases
    with services.engine.begin() as conn:
        conn.execute(update(queue).values(status="closed"))

    findings = check_views(projections, services.cases, desk.actors, datetime.now(UTC))

    assert any("views differ from the fold of the log: queue" in f for f in findings)
    assert "view queue: table cases differs from its rebuild" in findings


def test_an_edited_event_is_found(services: Services, database: Database, case_id: UUID) -> None:
    table = "stored_events" if database.is_sqlite else "mediation_events"
    with services.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE originator_version = 2"),
            {"state": b'{"tampered": true}'},
        )

    assert any(f"case {case_id}" in finding for finding in check_cases(services.cases))
