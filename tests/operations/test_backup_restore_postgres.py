"""PostgreSQL: the documented pg_dump / createdb / pg_restore commands round-trip a store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.operations.audit import stored_case_ids, verify
from mediation.operations.backup import PostgresCommands, postgres_commands
from mediation.store import Database
from tests.operations.operations_support import a_case, run_postgres_tool
from tests.support import FakeClock, Org, build_test_services

pytestmark = pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def commands(services: Services, tmp_path: Path) -> Iterator[PostgresCommands]:
    """The commands for this store, restoring into a database dropped after the test."""
    fresh = f"mediation_restored_{uuid.uuid4().hex[:12]}"
    yield postgres_commands(services.database, tmp_path / "mediation.dump", into=fresh)
    server = (
        make_url(services.database.url).set(database="postgres").difference_update_query(["schema"])
    )
    with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')


def test_a_dump_restored_into_a_fresh_database_verifies_and_reads_back_the_same(
    services: Services, org: Org, commands: PostgresCommands, clock: FakeClock
) -> None:
    clerk = org.actors["clerk"]
    case_ids = [a_case(services, clerk, notes=n) for n in (0, 2, 5)]
    before = {case_id: services.cases.case(case_id, clerk) for case_id in case_ids}
    histories = {case_id: services.cases.history(case_id, clerk) for case_id in case_ids}

    for command in (commands.dump, commands.create, commands.restore):
        run_postgres_tool(command, services.database)
    restored = build_test_services(Database(commands.database_url), clock)
    try:
        assert stored_case_ids(restored.cases) == case_ids
        assert verify(restored.cases, case_ids, {}) == []
        for case_id in case_ids:
            assert restored.cases.case(case_id, clerk) == before[case_id]
            assert restored.cases.history(case_id, clerk) == histories[case_id]
        assert restored.directory.authenticate(org.tokens["clerk"]) is not None
        after = restored.cases.act(case_ids[0], c.AddNote("恢复后 after the restore"), clerk)
        assert after.view.version == before[case_ids[0]].version + 1
    finally:
        restored.close()
