"""How values are bound on SQLite once the engine is made: None and booleans by adapters
registered for them (see `store.bind_plainly`), to the values sqlite3 binds for them anyway."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediation.store import Database, bind_plainly

KEYS: list[tuple[type[Any], type[Any]]] = [
    (type(None), sqlite3.PrepareProtocol),
    (bool, sqlite3.PrepareProtocol),
]


@pytest.fixture
def no_adapters() -> Iterator[None]:
    """sqlite3's registry of adapters (which its C code reads) without those of None and
    booleans, as sqlite3 starts; as it was again afterwards."""
    saved = {key: sqlite3.adapters.pop(key) for key in KEYS if key in sqlite3.adapters}
    try:
        yield
    finally:
        for key in KEYS:
            sqlite3.adapters.pop(key, None)
        sqlite3.adapters.update(saved)


@pytest.mark.usefixtures("no_adapters")
def test_a_sqlite_engine_registers_the_adapters_of_none_and_booleans(tmp_path: Path) -> None:
    engine = Database(f"sqlite:///{tmp_path / 'm.db'}").create_engine()
    try:
        assert all(key in sqlite3.adapters for key in KEYS)
    finally:
        engine.dispose()


@pytest.mark.usefixtures("no_adapters")
@pytest.mark.parametrize(
    ("value", "stored", "kind"),
    [(None, None, "null"), (True, 1, "integer"), (False, 0, "integer")],
)
def test_none_and_booleans_are_stored_as_sqlite_stores_them_without_adapters(
    value: object, stored: object, kind: str
) -> None:
    def written() -> tuple[object, str]:
        with sqlite3.connect(":memory:") as conn:
            conn.execute("CREATE TABLE t (v)")
            conn.executemany("INSERT INTO t VALUES (?)", [(value,)])
            row: tuple[object, str] = conn.execute("SELECT v, typeof(v) FROM t").fetchone()
            return row

    before = written()
    bind_plainly()
    after = written()

    assert before == after == (stored, kind)
