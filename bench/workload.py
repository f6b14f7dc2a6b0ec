"""The action mix every driver (HTTP, direct, CRUD) runs: one case's life, step by step.

Ten requests per case, as a clerk and a mediator at one center work it: register, read, accept,
route, two consents, read, two notes, read (seven writes, three reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bench.bench_projections import registration
from mediation.domain import commands as c
from mediation.domain.values import Actor, Role

CITY = "city"


@dataclass(frozen=True)
class Step:
    kind: str  # "register", "read" or the action name
    role: Role  # who gives it: the clerk or the mediator of the client's center
    command: c.Command | None  # None for a read


@dataclass(frozen=True)
class Staff:
    """One client's center and the two people working its cases."""

    center: str
    clerk: str
    mediator: str

    def actor(self, role: Role) -> Actor:
        user = self.mediator if role is Role.MEDIATOR else self.clerk
        return Actor(user, role, self.center)


def staff(client: int) -> Staff:
    return Staff(f"bench{client:02d}", f"clerk{client:02d}", f"mediator{client:02d}")


def case_life(number: int, people: Staff) -> list[Step]:
    """The steps of case `number` (any int; it varies the registration's fields)."""
    note = "打电话给双方 ཁ་པར་བཏང་། called both parties; the respondent asks for a week"
    return [
        Step("register", Role.CLERK, registration(number)),
        Step("read", Role.CLERK, None),
        Step("accept", Role.CLERK, c.Accept()),
        Step("route", Role.CLERK, c.Route(people.mediator)),
        Step("record_consent", Role.MEDIATOR, c.RecordConsent("p1", consent=True)),
        Step("record_consent", Role.MEDIATOR, c.RecordConsent("p2", consent=True)),
        Step("read", Role.MEDIATOR, None),
        Step("add_note", Role.MEDIATOR, c.AddNote(note)),
        Step("add_note", Role.CLERK, c.AddNote("reminded the mediator")),
        Step("read", Role.CLERK, None),
    ]


STEPS_PER_CASE = len(case_life(1, staff(0)))


class Client(Protocol):
    """One simulated user session: gives steps, returns the case id a registration made."""

    def run(self, step: Step, case_id: str | None) -> str | None: ...

    def close(self) -> None: ...


class Target(Protocol):
    """What the mix is driven against: opens one client per concurrent user."""

    def client(self, index: int) -> Client: ...
