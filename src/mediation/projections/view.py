"""A view: tables built from the event log, one generation at a time, applied in batches."""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Connection, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from mediation.domain.case import Case
from mediation.projections.bulk import converted_first
from mediation.projections.held import HELD_ROWS, HeldRows, Row, keep_rows

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
    # Whether the rows of a case depend on that case's events alone: then a rebuild may apply
    # the cases part by part, side by side (see `rebuild.load_part`).
    partitionable: ClassVar[bool] = False
    # Raised when the view folds events otherwise than before into tables of the same shape:
    # its tables then count as another shape, and are built again on upgrade (see `shape`).
    fold_version: ClassVar[int] = 1

    def __init__(self) -> None:
        self._generations: dict[int, tuple[MetaData, T]] = {}
        self._lock = threading.Lock()
        self.fault: FaultHook | None = None
        self.held_rows_limit = HELD_ROWS  # tests make it small, to write rows mid-rebuild
        self._held_rows: dict[str, HeldRows] = {}  # by table name (which has the generation)

    def tables(self, generation: int) -> T:
        return self._generation(generation)[1]

    def shape(self, dialect: Dialect) -> str:
        """A digest of the statements that create this view's tables and indexes on `dialect`
        (and of `fold_version`): tables made by a version of mediation that defined them, or
        folded events into them, otherwise have another shape, and this version does not
        write or read them (see `Projections.create_schema`)."""
        metadata = MetaData()
        self.define(metadata, "_g0")
        statements = []
        for table in metadata.sorted_tables:
            statements.append(str(CreateTable(table).compile(dialect=dialect)))
            indexes = (str(CreateIndex(index).compile(dialect=dialect)) for index in table.indexes)
            statements.extend(sorted(indexes))
        if self.fold_version > 1:  # version 1 adds nothing: the shapes recorded before stay
            statements.append(f"-- fold {self.fold_version}")
        return hashlib.sha256("\n".join(statements).encode()).hexdigest()

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

    def plan(self, conn: Connection, generation: int, batch: Sequence[Recorded]) -> Any:
        """Work out what `batch` changes, reading the tables but writing nothing.

        On SQLite the processor calls this before it takes the one write lock, and writes the
        plan only if the view's position has not moved meanwhile. By default the plan is the
        batch itself, and `_apply` does all the work in `write`.
        """
        return self._plan(conn, self.tables(generation), batch)

    def write(self, conn: Connection, generation: int, plan: Any) -> None:
        """Write a plan made by `plan`, inside the caller's transaction."""
        self._write(conn, self.tables(generation), plan)

    def defer_writes(self, generation: int, every_plan_written: bool = False) -> None:
        """A rebuild's new generation is written by the rebuilding process alone and read by
        nobody until `write_deferred`: a view may keep part of its writes to it in memory
        meanwhile, where writing them batch by batch costs more than writing them at once.
        A rebuild that dies leaves the generation abandoned (never switched to, see
        `rebuild`), so nothing deferred is ever missed by a reader. By default the rows of
        the tables `_held_tables` names are held (see `held.HeldRows`), and `_rows_written`
        is told when they are written.

        `every_plan_written`: each plan made meanwhile is written, or the rebuild fails (a
        part's load, which no claim guards, see `Processor.load`): a plan may then change the
        held rows themselves rather than copies (copying them took 1.6 % of a rebuild of the
        three case views with `--jobs 2`)."""
        tables = self.tables(generation)
        for table in self._held_tables(tables):
            written = partial(self._rows_written, tables)
            held = HeldRows(table, self.held_rows_limit, written, lent=every_plan_written)
            with self._lock:
                self._held_rows[table.name] = held

    def write_deferred(self, conn: Connection, generation: int) -> None:
        """Write what `defer_writes` kept back, inside the caller's transaction, and write
        batch by batch again from now on (before the generation's indexes and switch)."""
        with converted_first(conn):
            for table in self._held_tables(self.tables(generation)):
                with self._lock:
                    held = self._held_rows.pop(table.name, None)
                if held is not None:
                    held.flush(conn)

    def drop_deferred(self, generation: int) -> None:
        """Forget what was kept back for `generation` (its rebuild failed)."""
        for table in self._held_tables(self.tables(generation)):
            with self._lock:
                self._held_rows.pop(table.name, None)

    def begin_part(self, generation: int) -> None:
        """`rebuild.load_part` is about to apply one part of the cases to `generation`, in
        this process: what the view cannot decide from that part alone it notes until
        `end_part` (by default there is nothing: the view is partitionable as it is)."""

    def end_part(self, generation: int) -> Any:
        """What `begin_part` noted (None: nothing), which the rebuild hands, with every other
        part's, to `join_parts`; and forget it."""
        return None

    def join_parts(self, conn: Connection, generation: int, notes: Sequence[Any]) -> None:
        """Every part is in: decide from all parts' notes what none could alone and write it,
        inside the caller's transaction (before the rebuild applies the rest of the log)."""

    def held(self, table: Table) -> HeldRows | None:
        """The rows of `table` a rebuild holds, if it does (a view reads the table through
        `held.load_rows` with it, and writes it through `_keep_rows`)."""
        return self._held_rows.get(table.name)

    def _keep_rows(
        self,
        conn: Connection,
        tables: T,
        table: Table,
        rows: Mapping[Any, Row],
        stored: Collection[Any],
    ) -> None:
        """Write a batch's rows of a table `_held_tables` names (`stored`: those read from the
        table), or hold them in a rebuild; `_rows_written` is told as they are written."""
        written = partial(self._rows_written, tables)
        keep_rows(conn, table, rows, stored, self.held(table), written)

    def _held_tables(self, tables: T) -> Sequence[Table]:
        """The tables whose rows a rebuild holds: those a view reads back for later events."""
        return ()

    def _rows_written(
        self, tables: T, conn: Connection, rows: Mapping[Any, Row], stored: Container[Any]
    ) -> None:
        """Rows of a table `_held_tables` names were written (`stored`: the keys whose row the
        table held before), inside `conn`'s transaction: a view whose other tables are derived
        from those rows writes them here (nothing by default), whether the rows were written
        by a batch (`_keep_rows`) or from memory."""

    def folded(self, position: int) -> None:
        """Each view calls this after folding an event in memory."""
        if self.fault is not None:
            self.fault(position)

    @abstractmethod
    def define(self, metadata: MetaData, suffix: str) -> T:
        """Declare this view's tables in `metadata`, every name ending in `suffix`."""

    def _plan(self, conn: Connection, tables: T, batch: Sequence[Recorded]) -> Any:
        return batch

    def _write(self, conn: Connection, tables: T, plan: Any) -> None:
        self._apply(conn, tables, plan)

    def _apply(self, conn: Connection, tables: T, batch: Sequence[Recorded]) -> None:
        """Read, fold and write a batch: a view does this, or splits it into `_plan` and
        `_write`."""
        raise NotImplementedError(f"{type(self).__name__} implements neither _apply nor _write")

    def _generation(self, generation: int) -> tuple[MetaData, T]:
        with self._lock:
            if generation not in self._generations:
                metadata = MetaData()
                tables = self.define(metadata, f"_g{generation}")
                self._generations[generation] = (metadata, tables)
            return self._generations[generation]
