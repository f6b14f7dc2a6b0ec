"""Shadow-test a changed definition: which recorded cases would have escalated differently, when."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mediation.application import CaseApplication
from mediation.domain.simulation import SimulatedBreach
from mediation.workflows import Workflow


@dataclass(frozen=True)
class Difference:
    """A breach one definition has and the other does not, for one case."""

    case_id: UUID
    center: str
    breach: SimulatedBreach
    only_under_candidate: bool

    def describe(self, candidate: str) -> str:
        b = self.breach
        what = f"deadline '{b.clock}' (overdue period {b.period}) at {b.at.isoformat()}"
        if self.only_under_candidate:
            return f"{self.case_id} [{self.center}]: would escalate {what} under {candidate}"
        return f"{self.case_id} [{self.center}]: would no longer escalate {what} under {candidate}"


def simulate(
    cases: CaseApplication,
    candidate: Workflow,
    until: datetime,
    registered_from: datetime | None = None,
    registered_to: datetime | None = None,
) -> Iterator[Difference]:
    """Replay every matching case's history under `candidate`; reads only, writes nothing."""
    name = candidate.definition.name
    for case_id in cases.case_ids():
        workflow, registered_at = cases.simulation_subject(case_id)
        if workflow.split("@")[0] != name:
            continue
        if registered_from and registered_at < registered_from:
            continue
        if registered_to and registered_at > registered_to:
            continue
        center, own, other = cases.simulate(case_id, candidate, until)
        for breach in sorted(set(other) - set(own)):
            yield Difference(case_id, center, breach, only_under_candidate=True)
        for breach in sorted(set(own) - set(other)):
            yield Difference(case_id, center, breach, only_under_candidate=False)
