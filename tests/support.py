"""Test support shared across layers: a fake clock, a small center hierarchy, built services."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from mediation.bootstrap import Services, build_services
from mediation.domain.values import Actor, Role
from mediation.settings import Settings
from mediation.store import Database

POSTGRES_URL_VAR = "MEDIATION_TEST_POSTGRES_URL"


def postgres_admin_url() -> str | None:
    """The PostgreSQL server the tests may make databases on (None: skip those tests); with
    CI=true it must be given."""
    url = os.environ.get(POSTGRES_URL_VAR)
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {POSTGRES_URL_VAR} is not set: PostgreSQL tests must run in CI")
    return None


class FakeClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


class FakeTime:
    """Seconds since the epoch that stand still until a test moves them (`now`), for what
    takes `time.time`'s place (the sign-in throttle)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Org:
    """A small hierarchy: city > county (cg) > town (cg-a), and a second county (dz)."""

    tokens: dict[str, str]
    actors: dict[str, Actor]


ORG_CENTERS = (
    ("city", "拉萨市矛盾纠纷调解中心", None),
    ("cg", "城关区矛盾纠纷调解中心", "city"),
    ("cg-a", "ལྷ་ས་ 八廓街道调解中心", "cg"),
    ("dz", "达孜区矛盾纠纷调解中心", "city"),
)
ORG_USERS = (
    ("clerk", Role.CLERK, "cg-a"),
    ("mia", Role.MEDIATOR, "cg-a"),
    ("mo", Role.MEDIATOR, "cg-a"),
    ("sup", Role.SUPERVISOR, "cg"),
    ("city_sup", Role.SUPERVISOR, "city"),
    ("dz_clerk", Role.CLERK, "dz"),
    ("dz_sup", Role.SUPERVISOR, "dz"),
    ("admin", Role.ADMIN, "city"),
)


def build_test_services(database: Database, clock: FakeClock, **settings: Any) -> Services:
    return build_services(Settings(database_url=database.url, **settings), clock=clock)


def make_org(services: Services) -> Org:
    """The small hierarchy and its users in `services`' directory."""
    for code, name, parent in ORG_CENTERS:
        services.directory.add_center(code, name, parent)
    tokens, actors = {}, {}
    for username, role, center in ORG_USERS:
        _user, tokens[username] = services.directory.add_user(username, role, center)
        actors[username] = Actor(username, role, center)
    return Org(tokens, actors)
