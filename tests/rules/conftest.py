"""Fixtures for the escalation rules: the real services, the rules' index and engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.values import Actor, Channel, Complexity, PartyRole, Risk
from mediation.projections.service import Projections
from mediation.rules import Escalation, RulesEngine
from mediation.rules.index import DeadlineIndex, DeadlineIndexView
from mediation.store import Database
from tests.rules.receivers import Receiver, receiving
from tests.support import FakeClock, Org, build_test_services


@dataclass
class Rules:
    services: Services
    projections: Projections
    engine: RulesEngine
    clock: FakeClock

    def run(self, now: datetime | None = None) -> list[Escalation]:
        """Bring the index up to date, then evaluate as of `now` (default: the fake clock)."""
        self.projections.catch_up()
        return self.engine.run_once(now or self.clock.now())


def build_rules(services: Services, clock: FakeClock) -> Rules:
    view = DeadlineIndexView(services.workflows, services.cases.calendar)
    projections = Projections(services.engine, services.cases, [view])
    projections.create_schema()
    engine = RulesEngine(services.cases, DeadlineIndex(projections), clock)
    return Rules(services, projections, engine, clock)


@pytest.fixture
def rules(services: Services, clock: FakeClock, org: Org) -> Rules:
    return build_rules(services, clock)


Register = Callable[..., UUID]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback, recording what it is sent."""
    with receiving() as state:
        yield state


@pytest.fixture
def register(services: Services, org: Org) -> Register:
    return registering(services, org.actors["clerk"])


def registering(services: Services, clerk: Actor) -> Register:
    """Registers a case at the clerk's center, of the given risk and complexity."""

    def register(
        risk: Risk = Risk.LOW, complexity: Complexity = Complexity.GENERAL, **_: object
    ) -> UUID:
        command = c.Register(
            dispute_type="neighbour",
            channel=Channel.WINDOW,
            summary="邻里纠纷 a dispute between neighbours",
            parties=(
                c.NewParty(PartyRole.APPLICANT, "བསོད་ནམས་"),
                c.NewParty(PartyRole.RESPONDENT, "赵六"),
            ),
            risk=risk,
            complexity=complexity,
        )
        return services.cases.register(command, clerk).view.id

    return register


def escalate_red_case(services: Services, register: Register, clock: FakeClock) -> None:
    """A red case: the rules escalate it at once from cg-a to cg; the views catch up."""
    register(risk=Risk.RED)
    services.projections.catch_up()
    services.rules.run_once(clock.now())
    services.projections.catch_up()


@contextmanager
def services_allowing_private(
    database: Database, clock: FakeClock, **settings: Any
) -> Iterator[Services]:
    """The services as started with MEDIATION_WEBHOOKS_ALLOW_PRIVATE=true in the environment
    (and these settings)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MEDIATION_WEBHOOKS_ALLOW_PRIVATE", "true")
        built = build_test_services(database, clock, **settings)
    try:
        yield built
    finally:
        built.close()
