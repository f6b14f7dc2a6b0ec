"""Writing and reading many rows fast: one prepared statement, each value through its column's
converter.

SQLAlchemy's general `execute(insert(table), rows)` costs about as much per row as the view's
own work; a batch of a view inserts thousands of rows, so the statement and the per-column
converters are prepared once per table and dialect, and the rows go to `executemany`. Reading
the stored rows of the cases a batch touches is the same story the other way round (measured:
19 us a row through SQLAlchemy's result, of which 7 are the database's): `select_rows`.

A converter is the column type's own bind (or result) processor, except for the types a view
writes and reads on every row, where a shorter path gives the same value
(`tests/projections/test_bulk.py` checks each against SQLAlchemy's): on SQLite a moment, a UUID
and a date become the same text SQLAlchemy writes, and that text the same value SQLAlchemy
reads, in one or two C calls instead of a chain of Python ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Container, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from operator import attrgetter, itemgetter
from typing import Any, Literal
from uuid import UUID

import orjson
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Date,
    Insert,
    Table,
    Update,
    Uuid,
    bindparam,
    insert,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

from mediation.projections.columns import UTCDateTime

Converter = Callable[[Any], Any]
# Keys per statement of `select_rows` on SQLite (it allows 32,766 parameters since 3.32).
SQLITE_MARKS = 10_000


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]
    # per parameter, in statement order: its value from a row, and how it is bound (or None)
    getters: tuple[Callable[[dict[str, Any]], Any], ...]
    converters: tuple[Converter | None, ...]
    positional: bool


# By table name (which carries the generation), dialect and statement (insert, update).
_prepared: dict[tuple[str, str, str], _Prepared] = {}


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (a dict with a value for each column of `table`)."""
    _execute(conn, _prepare(table, conn.dialect, "insert"), rows)


def update_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE each row in place, found by its primary key: every other column is set to the
    row's value. A delete and insert would write the row's old page and another one, and the
    primary key's index twice (with the party keys in one B-tree instead of two, this took the
    statistics view's commits at 1,000,000 events from 19 to 12.5 us per event)."""
    _execute(conn, _prepare(table, conn.dialect, "update"), rows)


def save_rows(
    conn: Connection, table: Table, rows: Mapping[Any, dict[str, Any]], stored: Container[Any]
) -> None:
    """Rows by their key: UPDATE those whose key is in `stored` (read from the table), INSERT
    the others."""
    update_rows(conn, table, [row for key, row in rows.items() if key in stored])
    insert_rows(conn, table, [row for key, row in rows.items() if key not in stored])


def execute(conn: Connection, statement: Executable) -> None:
    """Execute a statement that returns nothing, in its turn among the bulk writes (see
    `converted_first`)."""
    pending: list[Callable[[], object]] | None = conn.info.get(_PENDING)
    if pending is None:
        conn.execute(statement)
    else:
        pending.append(partial(conn.execute, statement))


@contextmanager
def converted_first(conn: Connection) -> Iterator[None]:
    """Let the bulk writes on `conn` in the body (`insert_rows`, `update_rows`, `save_rows`,
    `execute`) convert their rows, and run them all, in order, once the body is done; if it
    fails, none.

    On SQLite a transaction takes the database's one write lock at its first write, and keeps
    it until it ends: converting the rows first holds the lock only while SQLite works, so a
    rebuild's other processes (and the service's requests) wait less for it. At 1,000,000
    events, all three views, two processes: the time each part load spent waiting for the
    lock fell from about 5 s to 1-2 s of its 50. A write in the body must not depend on
    reading what an earlier one wrote (nothing is written before the body ends)."""
    if _PENDING in conn.info:  # already within: the outer one runs them
        yield
        return
    pending: list[Callable[[], object]] = []
    conn.info[_PENDING] = pending
    try:
        yield
    finally:
        del conn.info[_PENDING]
    for write in pending:
        write()


_PENDING = "mediation.bulk.pending"  # in `Connection.info`: the writes `converted_first` keeps


def _execute(conn: Connection, prepared: _Prepared, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    values: Sequence[Any] = _bound(rows, prepared)
    if not prepared.positional:
        values = [dict(zip(prepared.names, v, strict=True)) for v in values]
    pending: list[Callable[[], object]] | None = conn.info.get(_PENDING)
    if pending is None:
        conn.exec_driver_sql(prepared.sql, values)
    else:
        pending.append(partial(conn.exec_driver_sql, prepared.sql, values))


def _bound(rows: Sequence[dict[str, Any]], prepared: _Prepared) -> list[tuple[Any, ...]]:
    """Each row's parameters in statement order, converted: column by column, each a `map` of
    its getter (and converter) over the rows, zipped into one tuple per row, so that no Python
    code runs per row but the converters. (Converting takes about a fifth of a rebuild of all
    three views; column by column took 3-5 % off it against a loop per row. Taking each
    column straight from the rows, instead of a tuple per row first and then columns of
    those: 0.6 % fewer instructions.)"""
    columns = []
    for get, convert in zip(prepared.getters, prepared.converters, strict=True):
        column: Iterator[Any] = map(get, rows)
        columns.append(column if convert is None else map(convert, column))
    return list(zip(*columns, strict=True))


def _converted(
    rows: list[tuple[Any, ...]], converters: tuple[tuple[int, Converter], ...]
) -> list[tuple[Any, ...]]:
    """Rows read from the database with each converter applied to its column: column by
    column, each a `map` of its converter, so that no Python loop runs per row (as `_bound`
    for the rows written)."""
    if not converters or not rows:
        return rows
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for index, convert in converters:
        columns[index] = list(map(convert, columns[index]))
    return list(zip(*columns, strict=True))


def converter(
    column_type: TypeEngine[Any], dialect: Dialect, nullable: bool = True
) -> Converter | None:
    """How a value of this type is bound on this dialect (None: as it is); for a column that
    is never None (`nullable` False), maybe shorter still: no check for None."""
    direct = None if nullable else _never_none(column_type, dialect)
    if direct is not None:
        return direct
    short = _short_path(column_type, dialect)
    if short is not None:
        return short[0]
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _short_path(
    column_type: TypeEngine[Any], dialect: Dialect
) -> tuple[Converter, Converter] | None:
    """How a value of one of the types every row has is bound and read on SQLite, shorter than
    SQLAlchemy's processors (the same text, the same value)."""
    if dialect.name != "sqlite":
        return None
    if isinstance(column_type, UTCDateTime):
        return sqlite_moment, _sqlite_moment_read
    if isinstance(column_type, Uuid) and column_type.as_uuid:
        return _uuid_hex, _uuid_read
    if isinstance(column_type, Date):
        return _date_iso, _date_read
    return None


def _never_none(column_type: TypeEngine[Any], dialect: Dialect) -> Converter | None:
    """On SQLite, how a value of a column that is never None is bound, where a method or
    function gives the same text without a Python call around it (`_converted` maps it over
    the column in C): a UUID's hex digits, a JSON document's text (the engine's serializer,
    which SQLAlchemy's processor calls for any value but None)."""
    if dialect.name != "sqlite":
        return None
    if isinstance(column_type, Uuid) and column_type.as_uuid:
        return attrgetter("hex")
    if isinstance(column_type, JSON):
        serializer: Converter | None = getattr(dialect, "_json_serializer", None)
        return serializer or json.dumps
    return None


# Texts of days and moments kept for reuse. A fact's day, week and month are the same few
# hundred days over and over: `isoformat` costs about 0.2 us for a day (Python 3.11 formats
# each number through printf), a hit of a C-level cache a tenth of that. A moment costs about
# 1 us; every decoded event's moment is UTC with microseconds, whose text orjson writes in a
# third of that, less than hashing an aware moment for a cache would take, so `utc_text` keeps
# only the others (another zone, no microseconds) in its cache; `iso_text`, for the deadline
# index's moments (all UTC), keeps none.
MOMENT_TEXTS_KEPT = 100_000
DAY_TEXTS_KEPT = 4096


def iso_text(value: datetime) -> str:
    """`value.isoformat()`: by orjson for a UTC moment, which writes the same text in C."""
    if value.tzinfo is UTC:
        return orjson.dumps(value).decode()[1:-1]
    return value.isoformat()


def utc_text(value: datetime) -> str:
    """A moment's ISO text in UTC, as `value.astimezone(UTC).isoformat(timespec=
    "microseconds")` writes it: "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"."""
    if value.tzinfo is UTC and value.microsecond:  # orjson writes just that, in C
        return orjson.dumps(value).decode()[1:-1]
    return _utc_isoformat(value)


@lru_cache(maxsize=MOMENT_TEXTS_KEPT)
def _utc_isoformat(value: datetime) -> str:
    if value.tzinfo is None:
        msg = "a moment needs a time zone"
        raise ValueError(msg)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def sqlite_moment(value: datetime | None) -> str | None:
    """A timezone-aware moment as SQLAlchemy's SQLite DATETIME stores it, in UTC:
    "YYYY-MM-DD HH:MM:SS.ffffff" (its ISO text with a space and without its offset)."""
    if value is None:
        return None
    text = utc_text(value)
    return f"{text[:10]} {text[11:26]}"


def _uuid_hex(value: UUID | None) -> str | None:
    return None if value is None else value.hex


@lru_cache(maxsize=DAY_TEXTS_KEPT)
def _date_iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def select_rows(
    conn: Connection, table: Table, column: Column[Any], keys: Collection[Any]
) -> list[dict[str, Any]]:
    """The rows of `table` whose `column` is one of `keys`, each a dict by column key with the
    values SQLAlchemy's `select(table)` gives (in no particular order)."""
    if not keys:
        return []
    prepared = _prepare_select(table, column, conn.dialect)
    bound = [prepared.bind(key) for key in keys]
    found: list[Any] = []
    if conn.dialect.name == "postgresql":  # one array parameter: `= ANY(%s)`
        result = conn.exec_driver_sql(prepared.sql, (bound,))
        description = result.cursor.description
        found += result.fetchall()
    else:  # a mark per key, at most SQLITE_MARKS in one statement
        for start in range(0, len(bound), SQLITE_MARKS):
            params = tuple(bound[start : start + SQLITE_MARKS])
            result = conn.exec_driver_sql(
                prepared.sql.replace("?", ", ".join("?" * len(params))), params
            )
            description = result.cursor.description
            found += result.fetchall()
    names, converters = prepared.names, prepared.result_converters(conn.dialect, description)
    return [dict(zip(names, row, strict=True)) for row in _converted(found, converters)]


def result_converter(
    column_type: TypeEngine[Any], dialect: Dialect, described: Any = None
) -> Converter | None:
    """How a stored value of this type is read on this dialect (None: as it is); `described`:
    the type code the driver gives for the column, where the processor depends on it."""
    short = _short_path(column_type, dialect)
    if short is not None:
        return short[1]
    return column_type.dialect_impl(dialect).result_processor(dialect, described)


def _sqlite_moment_read(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _uuid_read(value: str | None) -> UUID | None:
    return None if value is None else UUID(hex=value)


def _date_read(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


@dataclass
class _PreparedSelect:
    sql: str  # SQLite: `IN (?)`, the one mark repeated per key at each call
    names: tuple[str, ...]  # the column keys, in the order selected
    types: tuple[TypeEngine[Any], ...]
    bind: Converter  # a key as the statement binds it
    converters: tuple[tuple[int, Converter], ...] | None = None  # once a result described them

    def result_converters(
        self, dialect: Dialect, description: Sequence[Sequence[Any]]
    ) -> tuple[tuple[int, Converter], ...]:
        """Some result processors depend on the type the database names for the column (a
        float on PostgreSQL): they are made from the first result's description."""
        if self.converters is None:
            self.converters = tuple(
                (index, convert)
                for index, (column_type, described) in enumerate(
                    zip(self.types, description, strict=True)
                )
                if (convert := result_converter(column_type, dialect, described[1])) is not None
            )
        return self.converters


_selects: dict[tuple[str, str, str], _PreparedSelect] = {}


def _prepare_select(table: Table, column: Column[Any], dialect: Dialect) -> _PreparedSelect:
    cache_key = (table.fullname, column.key, dialect.name)
    if cache_key not in _selects:
        quote = dialect.identifier_preparer
        columns = ", ".join(quote.format_column(c) for c in table.columns)
        wanted = "= ANY(%s)" if dialect.name == "postgresql" else "IN (?)"
        sql = f"SELECT {columns} FROM {quote.format_table(table)} "
        sql += f"WHERE {quote.format_column(column)} {wanted}"
        bind = converter(column.type, dialect) or (lambda value: value)
        names = tuple(c.key for c in table.columns)
        types = tuple(c.type for c in table.columns)
        _selects[cache_key] = _PreparedSelect(sql, names, types, bind)
    return _selects[cache_key]


Statement = Literal["insert", "update"]


def _prepare(table: Table, dialect: Dialect, kind: Statement) -> _Prepared:
    key = (table.fullname, dialect.name, kind)
    if key not in _prepared:
        statement, columns = _statement(table, kind)
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ()) if dialect.positional else tuple(columns)
        getters = tuple(itemgetter(columns[name].key) for name in names)
        converters = tuple(
            converter(columns[name].type, dialect, columns[name].nullable is not False)
            for name in names
        )
        _prepared[key] = _Prepared(compiled.string, names, getters, converters, dialect.positional)
    return _prepared[key]


def _statement(table: Table, kind: Statement) -> tuple[Insert | Update, dict[str, Column[Any]]]:
    """The statement and, by the name of each of its parameters, the column it binds."""
    if kind == "insert":
        return insert(table), {c.key: c for c in table.columns}
    keys = list(table.primary_key.columns)
    others = [c for c in table.columns if not c.primary_key]
    statement = (
        update(table)
        .where(*(c == bindparam(f"key_{c.key}") for c in keys))
        .values({c: bindparam(c.key) for c in others})
    )
    return statement, {c.key: c for c in others} | {f"key_{c.key}": c for c in keys}
