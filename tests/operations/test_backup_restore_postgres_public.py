"""PostgreSQL: the documented commands round-trip a store kept in the `public` schema, which a
new database already has."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from mediation.operations.audit import stored_case_ids, verify
from mediation.operations.backup import postgres_commands
from mediation.store import Database
from tests.operations.operations_support import a_case, run_postgres_tool
from tests.support import (
    POSTGRES_URL_VAR,
    FakeClock,
    build_test_services,
    make_org,
    postgres_admin_url,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """A new database whose store is in `public` (its URL), and the name of a database to
    restore into; both dropped after the test."""
    admin_url = postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"set {POSTGRES_URL_VAR} to run the PostgreSQL tests")
    admin = make_url(admin_url)
    source, target = (f"mediation_{kind}_{uuid.uuid4().hex[:12]}" for kind in ("pub", "restored"))
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{source}"')
    try:
        url = admin.set(database=source, query={"schema": "public"})
        yield url.render_as_string(hide_password=False), target
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            for name in (source, target):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_store_in_the_public_schema_restores_into_a_new_database(
    databases: tuple[str, str], clock: FakeClock, tmp_path: Path
) -> None:
    url, target = databases
    services = build_test_services(Database(url), clock)
    try:
        clerk = make_org(services).actors["clerk"]
        case_ids = [a_case(services, clerk, notes=n) for n in (0, 3)]
    finally:
        services.close()
    commands = postgres_commands(Database(url), tmp_path / "mediation.dump", into=target)

    for command in (commands.dump, commands.create, commands.restore):
        run_postgres_tool(command, Database(url))

    assert commands.database_url.endswith(f"/{target}?schema=public")
    restored = build_test_services(Database(commands.database_url), clock)
    try:
        assert stored_case_ids(restored.cases) == case_ids
        assert verify(restored.cases, case_ids, {}) == []
    finally:
        restored.close()
