"""Domain test helpers: a fake center directory, a fixed moment, and a desk that works cases."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from uuid import uuid4

from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.decisions import execute, register_case
from mediation.domain.ports import Context
from mediation.domain.values import Actor, Channel, Outcome, PartyRole, Role
from mediation.workflows import Workflow

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
CITY, COUNTY, TOWN = "lhasa", "chengguan", "gyama"
UNIT = "chengguan judicial office"

MEDIATOR_ACTIONS = frozenset(
    {
        "record_consent",
        "schedule_session",
        "record_session",
        "extend_deadline",
        "reach_agreement",
        "terminate",
        "record_follow_up",
    }
)
SUPERVISOR_ACTIONS = frozenset({"reopen", "escalate", "supervise"})


PARENTS: Mapping[str, str | None] = {CITY: None, COUNTY: CITY, TOWN: COUNTY}
MEDIATORS: Mapping[str, frozenset[str]] = {
    CITY: frozenset({"norbu"}),
    COUNTY: frozenset({"kelsang"}),
    TOWN: frozenset({"mia", "tenzin"}),
}


class FakeDirectory:
    """The Directory port for city > county > town, each center with its own mediators."""

    def is_mediator_of(self, username: str, center: str) -> bool:
        return username in MEDIATORS.get(center, frozenset())

    def parent_of(self, center: str) -> str | None:
        return PARENTS.get(center)


def new_register(**changes: object) -> c.Register:
    """A valid registration (Tibetan applicant, Chinese respondent), with `changes` applied."""
    command = c.Register(
        dispute_type="neighbour",
        channel=Channel.WINDOW,
        summary="噪音纠纷: loud music at night",
        parties=(
            c.NewParty(PartyRole.APPLICANT, "ཚེ་རིང་", "13800000000", "540102199001011234"),
            c.NewParty(PartyRole.RESPONDENT, "王五"),
        ),
    )
    return dataclasses.replace(command, **changes)  # type: ignore[arg-type]


def replay(events: Iterable[object]) -> Case:
    """Rebuild a case from its events alone: no workflow, no guards, no directory."""
    case: Case | None = None
    for event in events:
        assert isinstance(event, Case.Event)
        case = event.mutate(case)
    assert case is not None
    return case


class Desk:
    """Works cases at the town center at a settable moment; picks each action's usual actor."""

    START, CITY, COUNTY, TOWN, UNIT = NOW, CITY, COUNTY, TOWN, UNIT
    registration = staticmethod(new_register)
    replay = staticmethod(replay)
    clerk = Actor("dolma", Role.CLERK, TOWN)
    mediator = Actor("mia", Role.MEDIATOR, TOWN)
    other_mediator = Actor("tenzin", Role.MEDIATOR, TOWN)
    supervisor = Actor("boss", Role.SUPERVISOR, COUNTY)

    def __init__(self, workflow: Workflow, directory: FakeDirectory) -> None:
        self.workflow = workflow
        self.directory = directory
        self.now = NOW

    @property
    def ctx(self) -> Context:
        return Context(self.workflow, self.now, self.directory)

    def actor_for(self, action: str) -> Actor:
        if action in MEDIATOR_ACTIONS:
            return self.mediator
        if action in SUPERVISOR_ACTIONS:
            return self.supervisor
        return self.clerk

    def register(self, command: c.Register | None = None, **changes: object) -> Case:
        command = command or new_register(**changes)
        return register_case(uuid4(), command, self.clerk, TOWN, "fingerprint", self.ctx)

    def do(self, case: Case, command: c.Command, actor: Actor | None = None) -> Case:
        execute(case, command, actor or self.actor_for(command.ACTION), self.ctx)
        return case

    def consent_all(self, case: Case) -> Case:
        for party in case.party_ids():
            self.do(case, c.RecordConsent(party, True))
        return case

    def walk(self, case: Case, status: str) -> Case:
        """Take `case` along the usual path (skipping steps taken) until it reaches `status`."""
        if status == "transfer_pending":
            self.walk(case, "awaiting_routing")
            return self.do(case, c.Transfer(UNIT, "a labour dispute: for arbitration"))
        for step in self._usual_path(case):
            if case.status == status:
                return case
            if step.ACTION in self.workflow.allowed_actions(case.status):
                self.do(case, step)
        assert case.status == status, f"the usual path does not reach {status}"
        return case

    def _usual_path(self, case: Case) -> Iterator[c.Command]:
        yield c.Accept()
        yield c.Route(self.mediator.user)
        for party in case.party_ids():
            if not case.consents.get(party):
                yield c.RecordConsent(party, True)
        yield c.ReachAgreement("王五 pays 500 yuan by 31 March", tuple(case.party_ids()))
        yield c.RecordFollowUp(True, "paid in full")
        yield c.Close(Outcome.RESOLVED)
