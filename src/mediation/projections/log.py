"""The case event log, read in order and in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import Application

from mediation.domain.case import Case
from mediation.projections.view import Recorded


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

    def read(self, after: int, limit: int) -> Slice:
        notifications = self._application.recorder.select_notifications(
            after, limit, inclusive_of_start=False
        )
        mapper = self._application.mapper
        events = []
        for notification in notifications:
            event = mapper.to_domain_event(notification)
            if isinstance(event, Case.Event):
                events.append(Recorded(notification.id, event))
        last = notifications[-1].id if notifications else after
        return Slice(events, last)
