"""The bulk paths store exactly what SQLAlchemy's own bind processors store, and read exactly
what its result processors read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from psycopg.types.json import Json, Jsonb
from sqlalchemy import Date, MetaData, Table, Uuid, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.types import TypeEngine

from mediation.domain import VOCABULARY
from mediation.projections import bulk
from mediation.projections.audit import AuditView
from mediation.projections.bulk import (
    converted_first,
    converter,
    execute,
    insert_rows,
    result_converter,
    select_rows,
    update_rows,
)
from mediation.projections.columns import NO_DEADLINE, UTCDateTime
from mediation.projections.parties import PartyKeys
from mediation.projections.queue import QueueView
from mediation.projections.stats import StatsView
from mediation.projections.view import View
from mediation.store import Database
from mediation.workflows import WorkflowRegistry
from tests.projections.projection_support import SALT

DIALECTS: list[Dialect] = [sqlite.dialect(), postgresql.psycopg.dialect()]  # type: ignore[no-untyped-call]
zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
)


def sqlalchemy_bind(column_type: TypeEngine[Any], dialect: Dialect, value: Any) -> Any:
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    return _comparable(value if process is None else process(value))


def bound(column_type: TypeEngine[Any], dialect: Dialect, value: Any) -> Any:
    convert = converter(column_type, dialect)
    return _comparable(value if convert is None else convert(value))


def _comparable(value: Any) -> Any:
    """psycopg's JSON wrapper has no equality of its own: compare what it wraps, and how."""
    return (type(value), value.obj) if isinstance(value, Json | Jsonb) else value


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(moment=moments | st.just(NO_DEADLINE) | st.none())
def test_a_moment_is_bound_as_sqlalchemy_binds_it(dialect: Dialect, moment: datetime) -> None:
    assert bound(UTCDateTime(), dialect, moment) == sqlalchemy_bind(UTCDateTime(), dialect, moment)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(value=st.uuids() | st.none())
def test_a_uuid_is_bound_as_sqlalchemy_binds_it(dialect: Dialect, value: uuid.UUID) -> None:
    assert bound(Uuid(), dialect, value) == sqlalchemy_bind(Uuid(), dialect, value)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@given(value=st.dates() | st.none())
def test_a_date_is_bound_as_sqlalchemy_binds_it(dialect: Dialect, value: date) -> None:
    assert bound(Date(), dialect, value) == sqlalchemy_bind(Date(), dialect, value)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_moment_without_a_time_zone_is_refused(dialect: Dialect) -> None:
    with pytest.raises(ValueError, match="time zone"):
        bound(UTCDateTime(), dialect, datetime(2026, 3, 2, 9, 0))


@given(moment=moments | moments.map(lambda m: m.astimezone(UTC).replace(microsecond=0)))
def test_a_moments_utc_text_is_its_utc_isoformat(moment: datetime) -> None:
    """`utc_text` (orjson's text for a UTC moment with microseconds) is `isoformat`'s, with or
    without microseconds, whatever the zone."""
    expected = moment.astimezone(UTC).isoformat(timespec="microseconds")

    assert bulk.utc_text(moment) == bulk.utc_text(moment.astimezone(UTC)) == expected


@given(moment=moments | moments.map(lambda m: m.astimezone(UTC).replace(microsecond=0)))
def test_a_moments_iso_text_is_its_isoformat_in_its_own_zone(moment: datetime) -> None:
    """`iso_text` (orjson's text for a UTC moment) is `isoformat`'s, with or without
    microseconds, in UTC and in any other zone."""
    in_utc = moment.astimezone(UTC)

    assert (bulk.iso_text(moment), bulk.iso_text(in_utc)) == (
        moment.isoformat(),
        in_utc.isoformat(),
    )


@given(moment=moments, other_zone=zones)
def test_a_moment_bound_again_in_another_zone_is_the_same_utc_text(
    moment: datetime, other_zone: timezone
) -> None:
    """Moments' texts are remembered (see `bulk.sqlite_moment`): the same instant in another
    zone is the same text, each as SQLAlchemy writes it, and the same wall time without a
    zone is still refused."""
    dialect = DIALECTS[0]
    first = bound(UTCDateTime(), dialect, moment)
    again = bound(UTCDateTime(), dialect, moment.astimezone(other_zone))

    assert first == again == sqlalchemy_bind(UTCDateTime(), dialect, moment)
    with pytest.raises(ValueError, match="time zone"):
        bound(UTCDateTime(), dialect, moment.replace(tzinfo=None))


SAMPLES: dict[str, Any] = {
    "UTCDateTime": datetime(2026, 3, 2, 9, 0, 0, 7, tzinfo=timezone(timedelta(hours=8))),
    "Uuid": uuid.uuid4(),
    "Date": date(2026, 3, 2),
    "JSON": {"a": [1, "中"], "b": None},
    "Boolean": True,
    "Float": 1.5,
    "Integer": 3,
    "BigInteger": 2**40,
    "String": "邻里",
}


def view_tables(suffix: str) -> list[Table]:
    """Every table of the three views."""
    workflows = WorkflowRegistry.load(VOCABULARY)
    views: list[View[Any]] = [
        QueueView(workflows),
        AuditView(),
        StatsView(workflows, PartyKeys(SALT)),
    ]
    metadata = MetaData()
    return [table for view in views for table in vars(view.define(metadata, suffix)).values()]


def sqlalchemy_read(column_type: TypeEngine[Any], value: Any) -> Any:
    dialect = sqlite.dialect()
    stored = column_type.dialect_impl(dialect).bind_processor(dialect)
    process = column_type.dialect_impl(dialect).result_processor(dialect, None)
    text_value = value if stored is None else stored(value)
    return text_value, (text_value if process is None else process(text_value))


@given(value=moments | st.just(NO_DEADLINE) | st.none())
def test_a_stored_moment_is_read_as_sqlalchemy_reads_it(value: datetime) -> None:
    stored, read = sqlalchemy_read(UTCDateTime(), value)
    convert = result_converter(UTCDateTime(), sqlite.dialect())
    assert convert is not None
    assert convert(stored) == read
    assert value is None or convert(stored).utcoffset() == timedelta(0)


@given(value=st.uuids() | st.none())
def test_a_stored_uuid_is_read_as_sqlalchemy_reads_it(value: uuid.UUID) -> None:
    stored, read = sqlalchemy_read(Uuid(), value)
    convert = result_converter(Uuid(), sqlite.dialect())
    assert convert is not None
    assert convert(stored) == read


@given(value=st.dates() | st.none())
def test_a_stored_date_is_read_as_sqlalchemy_reads_it(value: date) -> None:
    stored, read = sqlalchemy_read(Date(), value)
    convert = result_converter(Date(), sqlite.dialect())
    assert convert is not None
    assert convert(stored) == read


def test_every_column_of_every_view_is_bound_as_sqlalchemy_binds_it() -> None:
    """Column types without a short path fall back to SQLAlchemy's own processor; a column
    that is never None may take a shorter one still (`bulk._never_none`), with the engine's
    own JSON serializer too."""
    engine = Database("sqlite:///:memory:").create_engine()
    checked = set()
    for table in view_tables("_check"):
        for column in table.columns:
            sample = SAMPLES[type(column.type).__name__]
            for dialect in [*DIALECTS, engine.dialect]:
                where = f"{table.name}.{column.name} on {dialect.name}"
                expected = sqlalchemy_bind(column.type, dialect, sample)
                assert bound(column.type, dialect, sample) == expected, where
                assert bound(column.type, dialect, None) == sqlalchemy_bind(
                    column.type, dialect, None
                ), f"{where}, None"
                as_column = converter(column.type, dialect, column.nullable is not False)
                written = sample if as_column is None else as_column(sample)
                assert _comparable(written) == expected, f"{where}, as the column"
            checked.add(type(column.type).__name__)
    engine.dispose()
    assert checked == set(SAMPLES)


@pytest.fixture
def queue_twins(database: Database) -> Iterator[tuple[Engine, Table, Table]]:
    """Two empty queue tables in one database: one for the bulk path, one for SQLAlchemy's."""
    workflows = WorkflowRegistry.load(VOCABULARY)
    bulk = QueueView(workflows).define(MetaData(), "_bulk").cases
    core = QueueView(workflows).define(MetaData(), "_core").cases
    engine = database.create_engine()
    bulk.create(engine)
    core.create(engine)
    try:
        yield engine, bulk, core
    finally:
        engine.dispose()


MOMENT = datetime(2026, 3, 2, 17, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))


def test_rows_inserted_in_bulk_are_stored_as_sqlalchemys_insert_stores_them(
    queue_twins: tuple[Engine, Table, Table],
) -> None:
    engine, bulk, core = queue_twins
    rows = [_queue_row(uuid.uuid4(), MOMENT, due) for due in (MOMENT + timedelta(days=3), None)]
    with engine.begin() as conn:
        insert_rows(conn, bulk, rows)
        conn.execute(insert(core), rows)
    with engine.connect() as conn:
        assert _raw(conn, bulk) == _raw(conn, core)
        stored = conn.execute(select(bulk).order_by(bulk.c.case_id)).all()
    assert {row.case_id: row.last_activity for row in stored} == {
        row["case_id"]: MOMENT.astimezone(UTC) for row in rows
    }


def test_rows_updated_in_bulk_are_stored_as_sqlalchemys_update_stores_them(
    queue_twins: tuple[Engine, Table, Table],
) -> None:
    engine, bulk, core = queue_twins
    rows = [_queue_row(uuid.uuid4(), MOMENT, MOMENT + timedelta(days=n)) for n in range(3)]
    later = MOMENT + timedelta(hours=5, microseconds=1)
    changed = [
        rows[0] | {"status": "accepted", "next_due": None, "sort_due": NO_DEADLINE},
        rows[2] | {"assignee": "王调解员", "last_activity": later, "clocks": {}},
    ]
    with engine.begin() as conn:
        for table in (bulk, core):
            conn.execute(insert(table), rows)
        update_rows(conn, bulk, changed)
        for row in changed:
            conn.execute(update(core).where(core.c.case_id == row["case_id"]).values(row))
    with engine.connect() as conn:
        assert _raw(conn, bulk) == _raw(conn, core)
        stored = {r.case_id: r for r in conn.execute(select(bulk))}
    assert stored[rows[0]["case_id"]].status == "accepted"
    assert stored[rows[1]["case_id"]].status == "registered"  # not among the changed
    assert stored[rows[2]["case_id"]].last_activity == later.astimezone(UTC)


def test_writes_converted_first_run_in_order_once_the_body_is_done(
    queue_twins: tuple[Engine, Table, Table],
) -> None:
    engine, bulk, _core = queue_twins
    first, second = (_queue_row(uuid.uuid4(), MOMENT, None) for _ in range(2))
    with engine.begin() as conn:
        with converted_first(conn):
            insert_rows(conn, bulk, [first, second])
            update_rows(conn, bulk, [first | {"status": "accepted"}])
            execute(conn, delete(bulk).where(bulk.c.case_id == second["case_id"]))
            insert_rows(conn, bulk, [second | {"status": "rejected"}])
            with converted_first(conn):  # within: the outer one runs these too, in turn
                update_rows(conn, bulk, [second | {"status": "rejected", "assignee": "王调解员"}])
            assert _raw(conn, bulk) == []  # nothing written yet
        stored = {r.case_id: r for r in conn.execute(select(bulk))}
    assert {i: (r.status, r.assignee) for i, r in stored.items()} == {
        first["case_id"]: ("accepted", None),
        second["case_id"]: ("rejected", "王调解员"),
    }
    with engine.begin() as conn:  # the pooled connection writes at once again
        update_rows(conn, bulk, [first | {"status": "closed"}])
        assert conn.scalar(select(bulk.c.status).where(bulk.c.case_id == first["case_id"])) == (
            "closed"
        )


def test_writes_converted_first_are_dropped_when_the_body_fails(
    queue_twins: tuple[Engine, Table, Table],
) -> None:
    engine, bulk, _core = queue_twins

    def failing(conn: Connection) -> None:
        with converted_first(conn):
            insert_rows(conn, bulk, [_queue_row(uuid.uuid4(), MOMENT, None)])
            raise ZeroDivisionError

    with engine.begin() as conn:
        with pytest.raises(ZeroDivisionError):
            failing(conn)
        assert _raw(conn, bulk) == []
        insert_rows(conn, bulk, [_queue_row(uuid.uuid4(), MOMENT, None)])
        assert len(_raw(conn, bulk)) == 1


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_converting_rows_first_leaves_the_sqlite_write_lock_to_others_meanwhile(
    queue_twins: tuple[Engine, Table, Table],
) -> None:
    """What the writes are converted first for: the transaction takes SQLite's one write
    lock only when they run, so another connection may still write meanwhile."""
    engine, bulk, core = queue_twins

    def another_writes() -> None:
        with engine.connect() as other:
            other.exec_driver_sql("PRAGMA busy_timeout=0")  # busy: fail at once
            other.commit()
            try:
                with other.begin():
                    other.execute(insert(core), [_queue_row(uuid.uuid4(), MOMENT, None)])
            finally:
                other.exec_driver_sql("PRAGMA busy_timeout=10000")
                other.commit()

    with engine.connect() as conn, conn.begin():
        with converted_first(conn):
            insert_rows(conn, bulk, [_queue_row(uuid.uuid4(), MOMENT, None)])
            another_writes()
        with pytest.raises(OperationalError, match="locked"):
            another_writes()
    with engine.connect() as conn:
        assert (len(_raw(conn, bulk)), len(_raw(conn, core))) == (1, 1)


def _raw(conn: Any, table: Table) -> list[tuple[Any, ...]]:
    """The stored values as the database keeps them (text on SQLite), without type processing."""
    columns = ", ".join(f'CAST("{c.name}" AS TEXT)' for c in table.columns)
    query = text(f'SELECT {columns} FROM "{table.name}" ORDER BY "case_id"')
    return [tuple(row) for row in conn.execute(query)]


def _queue_row(case_id: uuid.UUID, moment: datetime, due: datetime | None) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "workflow": "dispute@1",
        "center": "town",
        "summary": "邻里纠纷",
        "dispute_type": "neighbour",
        "channel": "window",
        "risk": "low",
        "phase": "intake",
        "status": "registered",
        "assignee": None,
        "clocks": {"intake_decision": "2026-03-03T09:00:00.000000+00:00"},
        "next_due": due,
        "next_clock": None if due is None else "intake_decision",
        "sort_due": due or NO_DEADLINE,
        "escalation_level": 0,
        "last_activity": moment,
        "registered_at": moment,
        "is_open": True,
    }


OTHER_KEYS: dict[str, Any] = {"Uuid": uuid.uuid4(), "BigInteger": 2**40 + 1, "String": "邻里2"}


@pytest.fixture
def every_view_table(database: Database) -> Iterator[tuple[Engine, list[Table]]]:
    tables = view_tables("_read")
    engine = database.create_engine()
    with engine.begin() as conn:
        for table in tables:
            table.create(conn)
    try:
        yield engine, tables
    finally:
        engine.dispose()


def test_rows_selected_in_bulk_equal_sqlalchemys_select(
    every_view_table: tuple[Engine, list[Table]],
) -> None:
    """Each table of each view: a row of sample values, one of other keys and nulls where
    allowed; found by their first key column, as the views look rows up."""
    engine, tables = every_view_table
    for table in tables:
        full = {c.key: SAMPLES[type(c.type).__name__] for c in table.columns}
        sparse = {
            c.key: OTHER_KEYS[type(c.type).__name__] if c.primary_key else None
            for c in table.columns
            if c.primary_key or c.nullable
        }
        key = next(iter(table.primary_key.columns))
        wanted = [full[key.key], sparse[key.key]]
        with engine.begin() as conn:
            conn.execute(insert(table), [full, full | sparse])
            query = select(table).where(key.in_(wanted))
            expected = [dict(row._mapping) for row in conn.execute(query)]
            got = select_rows(conn, table, key, wanted)
        assert len(expected) == 2, table.name
        assert sorted(got, key=repr) == sorted(expected, key=repr), table.name


def test_many_keys_are_selected_in_several_statements(
    every_view_table: tuple[Engine, list[Table]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, tables = every_view_table
    queue_table = next(t for t in tables if t.name.startswith("queue_cases"))
    rows = [_queue_row(uuid.uuid4(), MOMENT, None) for _ in range(5)]
    monkeypatch.setattr(bulk, "SQLITE_MARKS", 2)
    with engine.begin() as conn:
        insert_rows(conn, queue_table, rows)
        found = select_rows(conn, queue_table, queue_table.c.case_id, [r["case_id"] for r in rows])
        none = select_rows(conn, queue_table, queue_table.c.case_id, [])
    assert sorted(r["case_id"] for r in found) == sorted(r["case_id"] for r in rows)
    assert none == []
