"""Web page fixtures: the real services on SQLite, the views following the log, signed-in clients.

The pages do not depend on the database backend (the layers below are tested on both), so
these tests use SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mediation import web
from mediation.accounts import Passwords
from mediation.bootstrap import Services
from mediation.projections import Projections
from mediation.store import Database
from tests.support import ORG_CENTERS, ORG_USERS, FakeClock, build_test_services
from tests.web.web_support import PASSWORD, SECRET, sign_in

# Cheap hashing parameters: the real ones cost ~0.2 s a hash, by design.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def web_services(sqlite_database: Database, clock: FakeClock) -> Iterator[Services]:
    built = build_test_services(sqlite_database, clock)
    built.directory.passwords = Passwords(FAST_HASHER)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def staff(web_services: Services) -> list[str]:
    """The small organisation of tests.support, every user with the password PASSWORD."""
    for code, name, parent in ORG_CENTERS:
        web_services.directory.add_center(code, name, parent)
    for username, role, center in ORG_USERS:
        web_services.directory.add_user(username, role, center, password=PASSWORD)
    return [username for username, _role, _center in ORG_USERS]


@pytest.fixture
def web_projections(web_services: Services) -> Iterator[Projections]:
    """The services' own views (queue, audit, stats, the rules'), following the log briskly."""
    built = web_services.projections
    built.follower.poll_interval = 0.05
    built.start()
    try:
        yield built
    finally:
        built.stop()


@pytest.fixture
def web_app(web_services: Services, web_projections: Projections, staff: list[str]) -> FastAPI:
    app = FastAPI()
    web.install(
        app, web_services, web.WebConfig(session_secret=SECRET, projections=web_projections)
    )
    return app


@pytest.fixture
def browser(web_app: FastAPI) -> Iterator[TestClient]:
    """A client that keeps cookies like a browser, not signed in, asking for English."""
    with TestClient(web_app, headers={"Accept-Language": "en"}) as client:
        yield client


@pytest.fixture
def clerk(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app, headers={"Accept-Language": "en"}) as client:
        sign_in(client, "clerk")
        yield client
