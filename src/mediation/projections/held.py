"""Rows a rebuild keeps in memory between batches (see `View.defer_writes`).

In service a case's events are far apart in the log: a view that keeps a row per case reads
that row back and writes it again for nearly every event, since the case's previous event was
in another batch. A rebuild, alone on its new tables, keeps the rows of the cases it touched
last instead and writes a row only when it leaves memory (least recently touched first) or
when the rebuild ends, in key order: each row is read from the table at most once, written
about once instead of once per event, and new rows go into the key's index in runs instead
of one page each.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Container, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table

from mediation.projections.bulk import save_rows, select_rows

Row = dict[str, Any]
# Called as rows of a table are written, with the keys whose row the table held before: a view
# writes here the rows of its other tables that are derived from them (see `View.defer_writes`).
Written = Callable[[Connection, Mapping[Any, Row], Container[Any]], None]

# Rows of one table held at most: more than the cases under way at once in the bench's log
# (a case's steps some 10,000 events apart). All three views on 100,000 events: as fast as
# with 50,000 and 65 MB less at the peak; about 1 KB a row.
HELD_ROWS = 20_000
# Past the limit, rows are written until this share of it is left: 60 % of the limit at once,
# a sorted run. Each run puts its keys at places all over the table's index of case ids, so
# the pages a run touches are written to the write-ahead log whatever the run's length, and
# longer runs share them among more rows: at 1,000,000 events, all three views with `--jobs 2`,
# writing 60 % instead of a fifth at once took 3-5 % off the rebuild (seven alternating pairs
# of runs, six faster; a sixth less written by the command's process, and 1-2 s less system
# time). 80 % at once was no faster again.
KEPT_AFTER_EVICTION = 0.4


class HeldRows:
    """The rows of one table by key, the least recently touched first, each as the last batch
    left it; and which keys the table holds a row of already (written or read before), so
    that each is written by UPDATE or INSERT."""

    def __init__(
        self,
        table: Table,
        limit: int = HELD_ROWS,
        written: Written | None = None,
        lent: bool = False,
    ) -> None:
        self.table = table
        self.limit = limit
        self._written = written
        # `get` gives the held rows themselves, not copies: every plan made of them is written
        # (a part's load, see `View.defer_writes`)
        self._lent = lent
        self._rows: OrderedDict[Any, Row] = OrderedDict()
        self._stored: set[Any] = set()  # keys whose row is in the table (maybe an older one)

    def get(self, keys: Collection[Any]) -> dict[Any, Row]:
        """The held rows of these keys: copies (a plan may change them and not be written),
        unless they are lent."""
        rows = self._rows
        if self._lent:
            return {key: row for key in keys if (row := rows.get(key)) is not None}
        return {key: dict(row) for key in keys if (row := rows.get(key)) is not None}

    def put(self, conn: Connection, rows: Mapping[Any, Row], stored: Collection[Any]) -> None:
        """Hold a batch's rows; `stored`: those it read from the table. Writes the least
        recently touched rows beyond the limit."""
        self._stored.update(stored)
        for key, row in rows.items():
            self._rows[key] = row
            self._rows.move_to_end(key)
        if len(self._rows) > self.limit:
            count = len(self._rows) - int(self.limit * KEPT_AFTER_EVICTION)
            evicted = [self._rows.popitem(last=False) for _ in range(count)]
            self._write(conn, dict(evicted))

    def flush(self, conn: Connection) -> None:
        """Write every held row, and hold none."""
        rows, self._rows = dict(self._rows), OrderedDict()
        self._write(conn, rows)

    def _write(self, conn: Connection, rows: dict[Any, Row]) -> None:
        ordered = {key: rows[key] for key in sorted(rows, key=_order)}  # the index in runs
        save_rows(conn, self.table, ordered, self._stored)
        if self._written is not None:
            self._written(conn, ordered, self._stored)
        self._stored.update(ordered)


def _order(key: Any) -> Any:
    """A key's place in its index; a UUID's by its number (as its text sorts on SQLite), which
    sorts four to five times faster than UUIDs do."""
    return key.int if isinstance(key, UUID) else key


def load_rows(
    conn: Connection, table: Table, keys: Collection[Any], held: HeldRows | None
) -> tuple[dict[Any, Row], set[Any]]:
    """The rows of these keys, held or stored; and the keys of those read from the table."""
    rows = held.get(keys) if held is not None else {}
    missing = [key for key in keys if key not in rows]
    column = next(iter(table.primary_key.columns))
    loaded = {row[column.key]: row for row in select_rows(conn, table, column, missing)}
    rows.update(loaded)
    return rows, set(loaded)


def keep_rows(
    conn: Connection,
    table: Table,
    rows: Mapping[Any, Row],
    loaded: Collection[Any],
    held: HeldRows | None,
    written: Written | None = None,
) -> None:
    """Write a batch's rows (`loaded`: those read from the table), then call `written` with
    them; or hold them (the held rows call theirs as they write them)."""
    if held is None:
        save_rows(conn, table, rows, loaded)
        if written is not None:
            written(conn, rows, loaded)
    else:
        held.put(conn, rows, loaded)


__all__ = ["HELD_ROWS", "HeldRows", "Row", "Written", "keep_rows", "load_rows"]
