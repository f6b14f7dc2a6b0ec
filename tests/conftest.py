"""Shared fixtures: a fresh database per test, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from mediation.bootstrap import Services
from mediation.store import Database
from tests.support import (
    POSTGRES_URL_VAR,
    FakeClock,
    Org,
    build_test_services,
    make_org,
    postgres_admin_url,
)

# No time limit per generated example: the tests run real databases on a shared machine, and
# speed is measured in bench/, not by a deadline that fails a correct test on a busy runner.
settings.register_profile("mediation", deadline=None)
settings.load_profile("mediation")


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin_url = postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"set {POSTGRES_URL_VAR} to run the PostgreSQL tests")
    admin = make_url(admin_url)
    name = f"mediation_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, empty database: a SQLite file, or a new schema in the run's PostgreSQL database."""
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'mediation.db'}")
        return
    import psycopg

    base_url: str = request.getfixturevalue("postgres_database_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Database(f"{base_url}?schema={schema}")
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    """A fresh SQLite file, for tests whose subject does not depend on the backend."""
    return Database(f"sqlite:///{tmp_path / 'mediation.db'}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def services(database: Database, clock: FakeClock) -> Iterator[Services]:
    """The real services on a fresh database, with a fake clock."""
    built = build_test_services(database, clock)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def org(services: Services) -> Org:
    return make_org(services)
