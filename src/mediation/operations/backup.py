"""Back up and restore the store: everything in its database (events, accounts, views) at once.

SQLite: the online backup API copies one consistent snapshot while the service keeps writing
(WAL readers do not block writers). PostgreSQL: pg_dump and pg_restore, named for a deployment
by `postgres_commands`.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from sqlalchemy.engine import URL, make_url

from mediation.domain.errors import ConflictError, InvalidFieldError
from mediation.projections import Projections
from mediation.store import Database
from mediation.store_lock import hold_store

EVENTS_TABLE = "stored_events"


class TargetNotEmptyError(ConflictError):
    """The database to restore into holds data already."""


def sqlite_path(database: Database) -> Path:
    """The file of a SQLite database."""
    path = database.sqlite_file()
    if path is None:
        raise InvalidFieldError("MEDIATION_DATABASE_URL", "must name a SQLite file")
    return path


def backup_sqlite(database: Database, target: Path) -> None:
    """Copy the live database to `target`, one self-contained file, replacing it only when done."""
    source_path = sqlite_path(database)
    if not source_path.is_file():
        raise InvalidFieldError("MEDIATION_DATABASE_URL", f"no database file {source_path}")
    if target.is_dir():
        raise InvalidFieldError("FILE", f"{target} is a folder: name the backup file in it")
    _refuse_same_file(source_path, target)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        live, copy = sqlite3.connect(source_path, timeout=10), sqlite3.connect(partial)
        with closing(live), closing(copy):
            live.backup(copy)  # in one step: a single read snapshot of the live database
            copy.execute("PRAGMA journal_mode=DELETE")  # no -wal file beside the backup
    except (OSError, sqlite3.Error) as error:
        raise InvalidFieldError("FILE", f"cannot write {target}: {error}") from None
    check_backup(partial)
    os.replace(partial, target)


def restore_sqlite(source: Path, database: Database, force: bool = False) -> None:
    """Replace the database's content with a backup's; refuses a store another process has
    open (StoreInUseError), and one holding data unless forced."""
    check_backup(source)
    target = sqlite_path(database)
    _refuse_same_file(target, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with hold_store(database, exclusive=True):  # its holders would go on with a stale store
        if not force and holds_data(target):
            raise TargetNotEmptyError(f"{target} holds data; restore over it only with --force")
        with (
            closing(_read_only(source)) as backup,
            closing(sqlite3.connect(target, timeout=10)) as live,
        ):
            backup.backup(live)  # through SQLite's locks: others see the whole new content


def check_backup(path: Path) -> None:
    """Refuse a file that is not a sound SQLite database holding an event store."""
    if not path.is_file():
        raise InvalidFieldError("FILE", f"no file {path}")
    try:
        with closing(_read_only(path)) as conn:
            (verdict,) = conn.execute("PRAGMA quick_check").fetchone()
            tables = _tables(conn)
    except sqlite3.DatabaseError as error:
        raise InvalidFieldError("FILE", f"{path} is not a SQLite database ({error})") from None
    if verdict != "ok":
        raise InvalidFieldError("FILE", f"{path} is damaged: {verdict}")
    if EVENTS_TABLE not in tables:
        raise InvalidFieldError("FILE", f"{path} holds no event store")


def sample_events(path: Path, count: int) -> list[StoredEvent]:
    """Up to `count` stored events from the start of a backup's log and as many from its end
    (read only): enough to tell whether a configuration's key reads it."""
    with closing(_read_only(path)) as conn:
        columns = f"originator_id, originator_version, topic, state FROM {EVENTS_TABLE}"
        rows = conn.execute(f"SELECT {columns} ORDER BY rowid LIMIT ?", (count,)).fetchall()
        rows += conn.execute(f"SELECT {columns} ORDER BY rowid DESC LIMIT ?", (count,)).fetchall()
    return [
        StoredEvent(
            originator_id=UUID(str(originator)),
            originator_version=version,
            topic=topic,
            state=bytes(state),
        )
        for originator, version, topic, state in rows
    ]


# What a store holds that is worth refusing to overwrite: the events and the accounts. What a
# service writes as it starts (its instance secrets, its views' tracking rows) is not.
HOLDINGS = (EVENTS_TABLE, "centers", "users")


def holds_data(path: Path) -> bool:
    """Whether a SQLite file holds events or accounts (a store a service merely started on,
    with its tables and their bookkeeping, does not count)."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with closing(sqlite3.connect(path, timeout=10)) as conn:
        present = set(_tables(conn))
        return any(
            conn.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone()
            for table in HOLDINGS
            if table in present
        )


def rebuild_views(projections: Projections) -> list[str]:
    """Rebuild every view from the (restored) log; the names rebuilt."""
    projections.create_schema()
    return list(projections.rebuild())


@dataclass(frozen=True)
class PostgresCommands:
    """The commands that back up and restore a PostgreSQL deployment (password from PGPASSWORD)."""

    dump: list[str]
    create: list[str]
    restore: list[str]
    database_url: str  # MEDIATION_DATABASE_URL of the restored store

    def lines(self) -> list[str]:
        return [shlex.join(self.dump), shlex.join(self.create), shlex.join(self.restore)]


def postgres_commands(database: Database, file: Path, into: str) -> PostgresCommands:
    """pg_dump of the database (its schema, if it names one) and pg_restore into database `into`."""
    url = make_url(database.url)
    schema = url.query.get("schema")
    scoped = {"schema": schema} if isinstance(schema, str) else {}

    def address(name: str, query: dict[str, str] | None = None) -> str:
        # No password: pg_dump and pg_restore read PGPASSWORD or ~/.pgpass, not the command line.
        found = URL.create("postgresql", url.username, None, url.host, url.port, name, query or {})
        return found.render_as_string(hide_password=False)

    dump = [
        "pg_dump",
        "--format=custom",
        f"--file={file}",
        f"--dbname={address(url.database or '')}",
    ]
    dump += [f"--schema={name}" for name in scoped.values()]
    create = ["createdb", f"--host={url.host or '127.0.0.1'}", f"--port={url.port or 5432}"]
    create += [f"--username={url.username or 'postgres'}", into]
    restore = [
        "pg_restore",
        "--no-owner",
        "--exit-on-error",
        f"--dbname={address(into)}",
        str(file),
    ]
    if schema == "public":
        # The dump of schema public creates it, and a new database has it already: restoring
        # only what is in it leaves the creation out (another schema must be created).
        restore.insert(-1, "--schema=public")
    return PostgresCommands(dump, create, restore, address(into, scoped))


def _refuse_same_file(database: Path, file: Path) -> None:
    if file.exists() and database.exists() and file.samefile(database):
        raise InvalidFieldError("FILE", f"{file} is the database itself")


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return [name for (name,) in rows if not name.startswith("sqlite_")]
