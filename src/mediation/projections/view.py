"""A view: tables built from the event log, one generation at a time, applied in batches."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from sqlalchemy import Connection, MetaData
from sqlalchemy.schema import CreateTable

from mediation.domain.case import Case

T = TypeVar("T")

# In an Index's `info`: only queries use it, applying events does not (see View.create).
QUERY_ONLY = "query_only"
QUERY_ONLY_INDEX = {QUERY_ONLY: True}

# Called with each event's position as the view folds it: tests inject faults through it.
FaultHook = Callable[[int], None]


@dataclass(frozen=True)
class Recorded:
    """An event and its position in the log."""

    position: int
    event: Case.Event


class View(ABC, Generic[T]):
    """Tables of type `T` per generation, and how a batch of events changes them."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self._generations: dict[int, tuple[MetaData, T]] = {}
        self._lock = threading.Lock()
        self.fault: FaultHook | None = None
        # Write to the database every N events within a batch (None: once per batch).
        self.flush_every: int | None = None

    def tables(self, generation: int) -> T:
        return self._generation(generation)[1]

    def create(self, conn: Connection, generation: int, defer_indexes: bool = False) -> None:
        """Create the tables; `defer_indexes` leaves out the indexes only queries use (marked
        QUERY_ONLY), for a rebuild to add once the rows are in: faster than keeping them."""
        metadata = self._generation(generation)[0]
        if not defer_indexes:
            metadata.create_all(conn)
            return
        for table in metadata.sorted_tables:
            conn.execute(CreateTable(table))
            for index in table.indexes:
                if not index.info.get(QUERY_ONLY):
                    index.create(conn)

    def create_deferred_indexes(self, conn: Connection, generation: int) -> None:
        for table in self._generation(generation)[0].sorted_tables:
            for index in table.indexes:
                if index.info.get(QUERY_ONLY):
                    index.create(conn, checkfirst=True)

    def drop(self, conn: Connection, generation: int) -> None:
        self._generation(generation)[0].drop_all(conn)
        with self._lock:
            self._generations.pop(generation, None)

    def analyze(self, conn: Connection, generation: int) -> None:
        """Refresh the planner's statistics of these tables (after a bulk load)."""
        for table in self._generation(generation)[0].sorted_tables:
            conn.exec_driver_sql(f'ANALYZE "{table.name}"')

    def apply(self, conn: Connection, generation: int, batch: Sequence[Recorded]) -> None:
        """Apply a batch inside the caller's transaction."""
        tables = self.tables(generation)
        for chunk in _chunks(batch, self.flush_every or len(batch) or 1):
            self._apply(conn, tables, chunk)

    def folded(self, position: int) -> None:
        """Each view calls this after folding an event in memory."""
        if self.fault is not None:
            self.fault(position)

    @abstractmethod
    def define(self, metadata: MetaData, suffix: str) -> T:
        """Declare this view's tables in `metadata`, every name ending in `suffix`."""

    @abstractmethod
    def _apply(self, conn: Connection, tables: T, chunk: Sequence[Recorded]) -> None: ...

    def _generation(self, generation: int) -> tuple[MetaData, T]:
        with self._lock:
            if generation not in self._generations:
                metadata = MetaData()
                tables = self.define(metadata, f"_g{generation}")
                self._generations[generation] = (metadata, tables)
            return self._generations[generation]


def _chunks(batch: Sequence[Recorded], size: int) -> Iterator[Sequence[Recorded]]:
    for start in range(0, len(batch), size):
        yield batch[start : start + size]
