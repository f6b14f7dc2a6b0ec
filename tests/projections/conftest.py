"""Fixtures for the projection tests: the views over the real services, a desk to act with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest

from mediation.bootstrap import Services, build_services
from mediation.domain.values import Actor
from mediation.projections import Projections, build_projections
from mediation.settings import Settings
from mediation.store import Database
from tests.projections.projection_support import SALT, START, Desk, MovableClock, World, make_org


class HasActors(Protocol):
    actors: dict[str, Actor]


@pytest.fixture
def projections(services: Services) -> Iterator[Projections]:
    """The three views, small batches so that a few cases span several of them."""
    built = build_projections(
        services.engine, services.cases, services.workflows, SALT, batch_size=5, poll_interval=0.05
    )
    built.create_schema()
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture
def desk(services: Services, org: HasActors) -> Desk:
    return Desk(services.cases, org.actors)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Database]]:
    """Makes a new empty database on each call (for property tests: one per example)."""
    import psycopg

    schemas: list[str] = []
    base_url = (
        request.getfixturevalue("postgres_database_url") if request.param == "postgres" else ""
    )

    # Durability is no part of these tests: on tmpfs, SQLite's fsync per commit costs nothing.
    folder = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path
    files: list[Path] = []

    def make() -> Database:
        name = uuid.uuid4().hex[:12]
        if request.param == "sqlite":
            files.append(folder / f"mediation-test-{name}.db")
            return Database(f"sqlite:///{files[-1]}")
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "p_{name}"')
        schemas.append(f"p_{name}")
        return Database(f"{base_url}?schema=p_{name}")

    yield make
    for file in files:
        for leftover in file.parent.glob(f"{file.name}*"):  # the database, -wal and -shm
            leftover.unlink()
    if schemas:
        with psycopg.connect(base_url, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """One database per module and backend: tests that only read share what a fixture wrote."""
    import psycopg

    base_url, schema = "", f"w_{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('world') / 'mediation.db'}"
    else:
        base_url = request.getfixturevalue("postgres_database_url")
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base_url}?schema={schema}"
    clock = MovableClock(START)
    services = build_services(Settings(database_url=url), clock=clock)
    projections = build_projections(
        services.engine, services.cases, services.workflows, SALT, batch_size=5
    )
    projections.create_schema()
    tokens: dict[str, str] = {}
    desk = Desk(services.cases, make_org(services.directory, tokens))
    try:
        yield World(services, projections, desk, clock, tokens)
    finally:
        services.close()
        if base_url:
            with psycopg.connect(base_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
