"""`mediation backup FILE` and `mediation restore FILE [--force]` on SQLite."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.values import Actor
from mediation.operations.audit import stored_case_ids, verify
from mediation.store import Database
from tests.operations.operations_support import (
    a_case,
    backed_up_between_two_cases,
    configure,
    edit_event,
    run,
    stored_cases,
)
from tests.support import FakeClock, Org, build_test_services, make_org


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """The online backup API is SQLite's; PostgreSQL has its own test."""
    return sqlite_database


@pytest.fixture
def restored_database(tmp_path: Path) -> Database:
    return Database(f"sqlite:///{tmp_path / 'restored' / 'mediation.db'}")


@pytest.fixture
def open_restored(
    restored_database: Database, clock: FakeClock
) -> Iterator[Callable[[], Services]]:
    """Opens services on the restored database, once restored (closed after the test)."""
    opened: list[Services] = []

    def open_services() -> Services:
        opened.append(build_test_services(restored_database, clock))
        return opened[-1]

    yield open_services
    for services in opened:
        services.close()


class Writer(threading.Thread):
    """Keeps acting on cases, recording each action the application acknowledged."""

    def __init__(self, services: Services, clerk: Actor) -> None:
        super().__init__(daemon=True)
        self.services, self.clerk = services, clerk
        self.acknowledged: list[tuple[UUID, int]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                case_id = a_case(self.services, self.clerk, notes=0)
                self.acknowledged.append((case_id, 2))
                for number in range(3):
                    saved = self.services.cases.act(
                        case_id, c.AddNote(f"note {number}"), self.clerk
                    )
                    self.acknowledged.append((case_id, saved.view.version))
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def wait_for(self, count: int) -> None:
        while len(self.acknowledged) < count and self.is_alive():
            threading.Event().wait(0.01)


def test_a_backup_taken_while_a_writer_acts_holds_every_action_acknowledged_before_it(
    services: Services,
    org: Org,
    open_restored: Callable[[], Services],
    restored_database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    configure(monkeypatch, services.database)
    writer = Writer(services, org.actors["clerk"])
    writer.start()
    writer.wait_for(20)
    before = list(writer.acknowledged)
    backup = run("backup", str(tmp_path / "backup.db"))
    writer.wait_for(len(before) + 20)  # still writing after the backup
    writer.stop.set()
    writer.join()
    assert writer.error is None
    assert backup.exit_code == 0, backup.output

    configure(monkeypatch, restored_database)
    restore = run("restore", str(tmp_path / "backup.db"))

    assert restore.exit_code == 0, restore.output
    assert "every history intact" in restore.stderr
    cases = open_restored().cases
    assert verify(cases, stored_case_ids(cases), {}) == []
    for case_id, version in before:
        assert cases.repository.get(case_id).version >= version
    assert len(writer.acknowledged) > len(before)


def test_the_backup_is_one_self_contained_file(
    services: Services, org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, services.database)
    a_case(services, org.actors["clerk"])

    result = run("backup", str(tmp_path / "backup.db"))

    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("backup.db*")) == ["backup.db"]


def test_restore_refuses_a_store_that_holds_data_unless_forced(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, database)
    # closed after: a restore refuses a store open in any process, this one too
    kept, later = backed_up_between_two_cases(database, clock, tmp_path / "backup.db")

    refused = run("restore", str(tmp_path / "backup.db"))
    assert refused.exit_code == 2
    assert "--force" in refused.stderr
    assert stored_cases(database, clock) == {kept, later}

    forced = run("restore", "--force", str(tmp_path / "backup.db"))
    assert forced.exit_code == 0, forced.output
    assert stored_cases(database, clock) == {kept}


def test_restore_names_a_case_edited_in_the_backup_and_exits_1(
    services: Services,
    org: Org,
    restored_database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    configure(monkeypatch, services.database)
    edited = a_case(services, org.actors["clerk"])
    edit_event(services, edited, 3, {"text": "没有查看 no visit"})
    assert run("backup", str(tmp_path / "backup.db")).exit_code == 0

    configure(monkeypatch, restored_database)
    result = run("restore", str(tmp_path / "backup.db"))

    assert result.exit_code == 1
    assert f"{edited}: version 4 does not follow version 3" in result.stdout


def test_restore_refuses_a_file_that_is_not_a_backup(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, services.database)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database\n" * 100, encoding="utf-8")

    result = run("restore", "--force", str(bogus))

    assert result.exit_code == 2
    assert "not a SQLite database" in result.stderr


def test_restore_rebuilds_every_view_from_the_restored_log(
    services: Services,
    org: Org,
    open_restored: Callable[[], Services],
    restored_database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    configure(monkeypatch, services.database)
    for _ in range(3):
        a_case(services, org.actors["clerk"])
    assert run("backup", str(tmp_path / "backup.db")).exit_code == 0
    configure(monkeypatch, restored_database)

    restore = run("restore", str(tmp_path / "backup.db"))

    assert restore.exit_code == 0, restore.output
    assert "rebuilt views: queue, audit, stats, deadlines, notifications" in restore.stderr
    restored = open_restored()
    head = restored.cases.recorder.max_notification_id()
    assert [status.position for status in restored.projections.status()] == [head] * 5


def test_backup_on_postgresql_names_the_pg_dump_commands_instead(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, Database("postgresql://clerk:secret@db.example:5433/cases?schema=lhasa"))

    result = run("backup", str(tmp_path / "backup.dump"))

    assert result.exit_code == 2
    assert (
        f"pg_dump --format=custom --file={tmp_path / 'backup.dump'} "
        "--dbname=postgresql://clerk@db.example:5433/cases --schema=lhasa"
    ) in result.stderr
    assert "secret" not in result.stderr


def test_a_backup_into_a_missing_folder_is_a_clear_error(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, services.database)

    result = run("backup", str(tmp_path / "no" / "such" / "backup.db"))

    assert result.exit_code == 2
    assert "cannot write" in result.stderr


def test_a_backup_named_as_a_folder_is_a_clear_error_and_leaves_nothing(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configure(monkeypatch, services.database)
    (tmp_path / "backups").mkdir()

    result = run("backup", str(tmp_path / "backups"))

    assert result.exit_code == 2
    assert "is a folder" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("backups")) == ["backups"]


def test_a_backup_another_key_wrote_is_refused_before_the_store_is_replaced(
    database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ours, theirs = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    for db, key in ((other, theirs), (database, ours)):
        services = build_test_services(db, clock, cipher_key=key)
        try:
            case_id = a_case(services, make_org(services).actors["clerk"])
        finally:
            services.close()
    configure(monkeypatch, other)
    monkeypatch.setenv("MEDIATION_CIPHER_KEY", theirs)
    assert run("backup", str(tmp_path / "theirs.db")).exit_code == 0

    configure(monkeypatch, database)
    monkeypatch.setenv("MEDIATION_CIPHER_KEY", ours)
    refused = run("restore", "--force", str(tmp_path / "theirs.db"))

    assert refused.exit_code == 1
    assert "the backup cannot be restored" in refused.stderr
    assert "restored" not in refused.stderr.replace("cannot be restored", "")
    services = build_test_services(database, clock, cipher_key=ours)  # still ours, readable
    try:
        assert stored_case_ids(services.cases) == [case_id]
    finally:
        services.close()


def test_a_store_a_service_merely_started_on_takes_a_restore_without_force(
    services: Services, org: Org, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: FakeClock
) -> None:
    configure(monkeypatch, services.database)
    kept = a_case(services, org.actors["clerk"])
    assert run("backup", str(tmp_path / "backup.db")).exit_code == 0
    fresh = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    build_test_services(fresh, clock).close()  # its tables, secrets and views' bookkeeping
    configure(monkeypatch, fresh)

    restored = run("restore", str(tmp_path / "backup.db"))

    assert restored.exit_code == 0, restored.output
    services_again = build_test_services(fresh, clock)
    try:
        assert stored_case_ids(services_again.cases) == [kept]
    finally:
        services_again.close()
