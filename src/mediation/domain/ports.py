"""What the domain asks of the world outside it: the center directory and the moment of decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from mediation.domain.calendar import WorkingCalendar
from mediation.workflows import Workflow


class Directory(Protocol):
    def is_mediator_of(self, username: str, center: str) -> bool: ...

    def parent_of(self, center: str) -> str | None: ...


@dataclass(frozen=True)
class Context:
    """Everything a decision may consult besides the case and the command."""

    workflow: Workflow
    now: datetime
    directory: Directory
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)

    @property
    def today(self) -> date:
        """The date where the centers are (not in UTC): the day a clerk would write down."""
        return self.now.astimezone(self.calendar.zone).date()


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(tz=UTC)
