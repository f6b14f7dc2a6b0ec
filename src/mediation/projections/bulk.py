"""Inserting many rows fast: one compiled statement, each value through its column's processor.

SQLAlchemy's general `execute(insert(table), rows)` costs about as much per row as the view's
own work; a batch of a view inserts thousands of rows, so the statement and the per-column
bind processors are prepared once per table and dialect, and the rows go to `executemany`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool


# By table name (which carries the generation) and dialect.
_prepared: dict[tuple[str, str], _Prepared] = {}


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (a dict with a value for each column of `table`)."""
    if not rows:
        return
    prepared = _prepare(table, conn.dialect)
    pairs = tuple(zip(prepared.names, prepared.processors, strict=True))
    values = [
        tuple(row[name] if process is None else process(row[name]) for name, process in pairs)
        for row in rows
    ]
    if prepared.positional:
        conn.exec_driver_sql(prepared.sql, values)
    else:
        conn.exec_driver_sql(
            prepared.sql, [dict(zip(prepared.names, v, strict=True)) for v in values]
        )


def _prepare(table: Table, dialect: Dialect) -> _Prepared:
    key = (table.fullname, dialect.name)
    if key not in _prepared:
        columns = list(table.columns)
        compiled = insert(table).compile(dialect=dialect)
        names = (
            tuple(compiled.positiontup or ())
            if dialect.positional
            else tuple(c.key for c in columns)
        )
        by_key = {c.key: c for c in columns}
        processors = tuple(
            by_key[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        _prepared[key] = _Prepared(compiled.string, names, processors, dialect.positional)
    return _prepared[key]
