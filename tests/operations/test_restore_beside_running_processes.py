"""`mediation restore` on SQLite while mediation processes have the store open: refused, even
with --force, and nothing changed; the commands meant to run beside the service still do."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from mediation.cli import app
from mediation.store import Database
from mediation.store_lock import LOCK_FILE_MODE, StoreInUseError, hold_store
from tests.operations.operations_support import (
    backed_up_between_two_cases,
    configure,
    stored_cases,
)
from tests.reliability.processes import Deployment, mediation_command
from tests.support import FakeClock

HELD_TIMEOUT = 60.0


@dataclass(frozen=True)
class Store:
    """A SQLite store holding two cases, and a backup taken when it held the first alone."""

    database: Database
    file: Path
    backup: Path
    kept: UUID
    later: UUID


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def store(
    sqlite_database: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Store:
    configure(monkeypatch, sqlite_database)
    kept, later = backed_up_between_two_cases(sqlite_database, clock, tmp_path / "backup.db")
    file = tmp_path / "mediation.db"
    return Store(sqlite_database, file, tmp_path / "backup.db", kept, later)


@pytest.fixture
def service(store: Store, tmp_path: Path) -> Iterator[Deployment]:
    """A real `mediation serve` on the store, its views and rules in its own process."""
    deployment = Deployment(store.database.url, tmp_path, separate_workers=False, env={})
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()


def wait_until_held(database: Database) -> None:
    """Until another process has started on the store (a restore would be refused)."""
    deadline = time.monotonic() + HELD_TIMEOUT
    while time.monotonic() < deadline:
        try:
            hold_store(database, exclusive=True).release()
        except StoreInUseError:
            return
        time.sleep(0.1)
    pytest.fail(f"no process held {database.url} within {HELD_TIMEOUT:.0f} s")


def test_restore_is_refused_while_serve_runs_even_with_force_and_changes_nothing(
    store: Store, service: Deployment, clock: FakeClock
) -> None:
    refused = run("restore", "--force", str(store.backup))

    assert refused.exit_code == 1
    assert f"{store.file} is open in mediation serve (pid " in refused.stderr
    assert "stop every mediation process on this database" in refused.stderr
    assert "restored" not in refused.stderr
    assert stored_cases(store.database, clock) == {store.kept, store.later}


@pytest.mark.parametrize("worker", [("projections", "run"), ("rules", "run")])
def test_restore_is_refused_while_a_worker_process_has_the_store_open(
    store: Store, clock: FakeClock, worker: tuple[str, ...]
) -> None:
    process = subprocess.Popen(
        [mediation_command(), *worker],
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_held(store.database)
        refused = run("restore", "--force", str(store.backup))
    finally:
        process.terminate()
        process.wait(20)

    assert refused.exit_code == 1
    assert f"is open in mediation {' '.join(worker)} (pid {process.pid})" in refused.stderr
    assert stored_cases(store.database, clock) == {store.kept, store.later}


def flock_holders(file: Path) -> set[int]:
    """The processes that /proc/locks shows holding a flock on `file`."""
    stat = file.stat()
    file_id = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    rows = [line.split() for line in Path("/proc/locks").read_text().splitlines()]
    return {int(row[4]) for row in rows if row[1] == "FLOCK" and row[5] == file_id}


def wait_for_worker(rebuild: subprocess.Popen[str], lock_file: Path) -> int:
    """The first process besides `rebuild` itself to hold the store's lock: its worker."""
    deadline = time.monotonic() + HELD_TIMEOUT
    while time.monotonic() < deadline and rebuild.poll() is None:
        workers = flock_holders(lock_file) - {rebuild.pid}
        if workers:
            return workers.pop()
        time.sleep(0.005)
    pytest.fail("no worker of the rebuild held the store")


def test_restore_refused_during_a_parallel_rebuild_names_its_worker_by_the_rebuild(
    store: Store,
) -> None:
    rebuild = subprocess.Popen(
        [mediation_command(), "projections", "rebuild", "--jobs", "2"],
        env=os.environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = wait_for_worker(rebuild, store.file.with_name(store.file.name + ".lock"))
    os.kill(worker, signal.SIGSTOP)  # a worker forked from the rebuild's fork server, mid-way
    try:
        refused = run("restore", "--force", str(store.backup))
    finally:
        os.kill(worker, signal.SIGCONT)
        _out, errors = rebuild.communicate(timeout=HELD_TIMEOUT)

    assert refused.exit_code == 1
    assert f"mediation projections rebuild (pid {rebuild.pid})" in refused.stderr
    assert f"mediation projections rebuild worker (pid {worker})" in refused.stderr
    assert "multiprocessing" not in refused.stderr
    assert rebuild.returncode == 0, errors


def test_commands_meant_to_run_beside_the_service_still_run_while_it_runs(
    store: Store, service: Deployment, tmp_path: Path
) -> None:
    commands = [
        ["audit", "verify"],
        ["projections", "status"],
        ["backup", str(tmp_path / "beside.db")],
        ["center", "list"],
        ["user", "add", "dawa", "--role", "clerk", "--center", "cg-a"],
    ]
    for command in commands:
        result = run(*command)
        assert result.exit_code == 0, (command, result.output)


def test_restore_goes_ahead_once_the_service_is_gone_even_killed(
    store: Store, service: Deployment, clock: FakeClock
) -> None:
    service.crash()  # SIGKILL: the operating system lets go of its lock

    restored = run("restore", "--force", str(store.backup))

    assert restored.exit_code == 0, restored.output
    assert stored_cases(store.database, clock) == {store.kept}


def test_a_service_started_during_a_restore_is_refused_naming_the_database(
    store: Store,
) -> None:
    with hold_store(store.database, exclusive=True):  # as `mediation restore` holds it
        started = subprocess.run(
            [mediation_command(), "serve", "--port", "0"],
            env=os.environ,
            capture_output=True,
            text=True,
            timeout=HELD_TIMEOUT,
        )

    assert started.returncode == 1
    assert f"error: {store.file} is being restored by " in started.stderr
    assert "Traceback" not in started.stderr


def test_an_account_command_started_during_a_restore_is_refused_and_adds_no_one(
    store: Store,
) -> None:
    add = [mediation_command(), "user", "add", "dawa", "--role", "clerk", "--center", "cg-a"]
    with hold_store(store.database, exclusive=True):  # as `mediation restore` holds it
        refused = subprocess.run(
            add, env=os.environ, capture_output=True, text=True, timeout=HELD_TIMEOUT
        )

    assert refused.returncode == 1
    assert f"error: {store.file} is being restored by " in refused.stderr
    assert "dawa" not in run("user", "list").output
    added = subprocess.run(add, env=os.environ, capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr  # once the restore is over


def test_the_lock_file_opens_for_every_user_whatever_the_umask_of_the_process_that_made_it(
    sqlite_database: Database,
) -> None:
    before = os.umask(0o077)  # an administrator's shell, say, running a command first
    try:
        with hold_store(sqlite_database):
            pass
    finally:
        os.umask(before)

    file = sqlite_database.sqlite_file()
    assert file is not None
    lock_file = file.with_name(file.name + ".lock")
    assert stat.S_IMODE(lock_file.stat().st_mode) == LOCK_FILE_MODE == 0o644
