"""What the clients saw: every answer counted, every acknowledgement recorded."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID


@dataclass(frozen=True)
class Ack:
    """An action the service answered 2xx: it promised this event is in the log."""

    case_id: UUID
    version: int
    position: int | None
    action: str
    user: str
    replayed: bool = False  # a registration retried with its Idempotency-Key


@dataclass(frozen=True)
class Unanswered:
    """A write whose answer never came (the server died): it may or may not be in the log."""

    case_id: UUID | None  # None for a registration
    version: int | None  # the version it would have written
    action: str
    user: str


@dataclass
class Tally:
    writes: Counter[int] = field(default_factory=Counter)
    reads: Counter[int] = field(default_factory=Counter)
    view_reads: Counter[int] = field(default_factory=Counter)  # queue/audit/stats with after=
    acks: list[Ack] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)
    refused_connections: int = 0  # the server was down: nothing was sent
    broken_connections: int = 0  # sent, but the answer never came
    surprises: list[str] = field(default_factory=list)  # whatever a correct service never does

    def merge(self, other: Tally) -> None:
        self.writes.update(other.writes)
        self.reads.update(other.reads)
        self.view_reads.update(other.view_reads)
        self.acks += other.acks
        self.unanswered += other.unanswered
        self.refused_connections += other.refused_connections
        self.broken_connections += other.broken_connections
        self.surprises += other.surprises

    @property
    def conflicts(self) -> int:
        return self.writes[409] + self.writes[412]
