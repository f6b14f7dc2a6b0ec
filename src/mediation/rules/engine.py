"""The escalation rules process: finds due breaches through an index and escalates each once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from mediation.application import CaseApplication
from mediation.domain.errors import (
    BreachEscalatedAlreadyError,
    CaseNotFoundError,
    ConcurrentChangeError,
    MediationError,
    StaleVersionError,
)
from mediation.domain.ports import Clock

log = logging.getLogger("mediation.rules")
ATTEMPTS = 3


class DueIndex(Protocol):
    """Which cases may have a breach due by a moment (a hint: the case itself decides)."""

    def due(self, now: datetime, limit: int) -> list[UUID]: ...


@dataclass(frozen=True)
class Escalation:
    case_id: UUID
    breach: str
    rule: str
    version: int
    to_center: str | None


class RulesEngine:
    """Escalates every due breach exactly once, however many engines run and whenever they run."""

    def __init__(self, cases: CaseApplication, index: DueIndex, clock: Clock) -> None:
        self.cases = cases
        self.index = index
        self.clock = clock

    def run_once(self, now: datetime | None = None, limit: int = 1000) -> list[Escalation]:
        """Evaluate every case the index says may be due at `now` (default: the clock's now)."""
        moment = now or self.clock.now()
        done: list[Escalation] = []
        for case_id in self.index.due(moment, limit):
            try:
                done += self._evaluate(case_id, moment)
            except MediationError as error:  # this case only; the others still get their turn
                log.warning("case %s: rules could not act: %s", case_id, error)
        return done

    def _evaluate(self, case_id: UUID, now: datetime) -> list[Escalation]:
        done: list[Escalation] = []
        for _attempt in range(ATTEMPTS):
            try:
                center, breaches = self.cases.due_breaches(case_id, now)
                for breach in breaches:
                    saved = self.cases.escalate_breach(case_id, breach, center)
                    view = saved.view
                    done.append(
                        Escalation(
                            case_id, breach.key, breach.rule, view.version, view.escalated_to
                        )
                    )
                    log.info("case %s: %s escalated to %s", case_id, breach.key, view.escalated_to)
                return done
            except (BreachEscalatedAlreadyError, ConcurrentChangeError, StaleVersionError):
                continue  # another engine acted first: look again at the case as it is now
            except CaseNotFoundError:
                return done
        log.warning("case %s: gave up after %d conflicting attempts", case_id, ATTEMPTS)
        return done
