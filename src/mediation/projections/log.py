"""The case event log, read in order and in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application

from mediation.domain.case import Case
from mediation.projections.view import Recorded


@dataclass(frozen=True)
class Part:
    """One of `count` disjoint parts of the cases, by case id: a rebuild may apply each part
    in a process of its own (see `rebuild.load_part`)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            msg = f"part {self.index} of {self.count} does not exist"
            raise ValueError(msg)

    def holds(self, case_id: UUID | str) -> bool:
        number = case_id.int if isinstance(case_id, UUID) else UUID(case_id).int
        return number % self.count == self.index


@dataclass(frozen=True)
class Slice:
    """Events after a position; `last` is the last id seen, which may skip ids (gaps)."""

    events: list[Recorded]
    last: int


class EventLog:
    """Reads the application's notifications and turns them into domain events."""

    def __init__(self, application: Application[UUID]) -> None:
        self._application = application

    def head(self) -> int:
        return self._application.recorder.max_notification_id() or 0

    def read(
        self, after: int, limit: int, stop: int | None = None, part: Part | None = None
    ) -> Slice:
        """The case events of up to `limit` notifications after `after` (up to `stop`, when
        given); of `part`'s cases only, when given: the others are not even decoded."""
        notifications = self._application.recorder.select_notifications(
            after, limit, stop, inclusive_of_start=False
        )
        mapper = self._application.mapper
        events = []
        for notification in notifications:
            if part is not None and not part.holds(notification.originator_id):
                continue
            event = mapper.to_domain_event(notification)
            if isinstance(event, Case.Event):
                events.append(Recorded(notification.id, event))
        last = notifications[-1].id if notifications else after
        return Slice(events, last)
