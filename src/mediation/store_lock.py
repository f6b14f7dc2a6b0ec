"""Which processes have a SQLite store open: a lock on a file beside it, `<database>.lock`.

Every process that opens the store (`build_services`: the service, the workers, the commands)
holds it shared, so they run side by side; a restore holds it exclusive, so it never replaces
a store under a running process, nor does one start during a restore. The operating system
lets go of a process's lock when it ends, however it ends: nothing is ever left stale. Where
there is no `fcntl` (Windows), nothing is locked. PostgreSQL stores are not locked here.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from mediation.domain.errors import InvalidFieldError, MediationError
from mediation.store import Database

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("mediation")


class StoreInUseError(MediationError):
    """Another process holds the store in a way that excludes what this one would do."""


@dataclass
class _Lock:
    fd: int
    exclusive: bool
    holds: int = 0


# This process's locks, by lock file: holders in one process share its lock (the services a
# restore opens to verify what it restored run under the restore's own exclusive lock).
_LOCKS: dict[Path, _Lock] = {}
_GUARD = threading.Lock()


class StoreHold:
    """One holder's part of this process's lock on a store; `release` once done with it."""

    def __init__(self, lock_file: Path | None) -> None:
        self._lock_file = lock_file

    def release(self) -> None:
        lock_file, self._lock_file = self._lock_file, None
        if lock_file is None:
            return
        with _GUARD:
            lock = _LOCKS[lock_file]
            lock.holds -= 1
            if lock.holds == 0:
                del _LOCKS[lock_file]
                os.close(lock.fd)  # never LOCK_UN: a forked child shares the lock

    def __enter__(self) -> StoreHold:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def hold_store(database: Database, exclusive: bool = False) -> StoreHold:
    """Hold the SQLite store shared (to use it) or exclusive (to restore it), or refuse
    naming who holds it otherwise; a no-op for PostgreSQL and where there is no fcntl."""
    file = database.sqlite_file()
    if file is None or sys.platform == "win32":
        return StoreHold(None)
    real = file.resolve()  # one lock whatever link or relative path names the file
    lock_file = real.with_name(real.name + ".lock")
    with _GUARD:
        lock = _LOCKS.get(lock_file)
        if lock is None or (exclusive and not lock.exclusive):
            # Exclusive where this process holds it shared: its own lock refuses it.
            lock = _take(lock_file, file, exclusive)
            if lock is None:
                return StoreHold(None)
            _LOCKS[lock_file] = lock
        lock.holds += 1
    return StoreHold(lock_file)


def _take(lock_file: Path, file: Path, exclusive: bool) -> _Lock | None:
    try:
        if exclusive:  # a restore makes the folder it restores into
            lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDONLY | os.O_CREAT, LOCK_FILE_MODE)  # flock reads only
    except OSError as error:
        if exclusive:
            reason = f"cannot lock {file}: {error}"
            raise InvalidFieldError("MEDIATION_DATABASE_URL", reason) from None
        if not isinstance(error, FileNotFoundError):  # no such folder: SQLite names it next
            log.warning("cannot lock %s (%s): a restore would not see this process", file, error)
        return None
    _readable_by_all(fd)
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except BlockingIOError:
        holders = ", ".join(_holders(fd)) or "another process"
        os.close(fd)
        raise StoreInUseError(_refusal(file, holders, exclusive)) from None
    return _Lock(fd, exclusive)


def _readable_by_all(fd: int) -> None:
    """Give the lock file LOCK_FILE_MODE whatever the umask of the process that made it: one
    made by an administrator's command under umask 077 could not be opened by the service's
    user, which would then run without the lock (and a restore would not see it)."""
    try:
        if os.fstat(fd).st_mode & 0o777 != LOCK_FILE_MODE:
            os.fchmod(fd, LOCK_FILE_MODE)
    except OSError:  # another user's file: its maker's mode stands
        pass


def _refusal(file: Path, holders: str, exclusive: bool) -> str:
    if exclusive:
        return (
            f"{file} is open in {holders}: stop every mediation process on this database "
            "(the service, its workers), then restore; --force does not override this"
        )
    return f"{file} is being restored by {holders}: start again once the restore is done"


def _holders(fd: int) -> list[str]:
    """The processes holding a lock on `fd`'s file, as Linux's /proc/locks names them."""
    stat = os.fstat(fd)
    file_id = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii").splitlines()
    except OSError:  # not Linux
        return []
    rows = [line.split() for line in lines]
    pids = {row[4] for row in rows if row[1] == "FLOCK" and row[5] == file_id}  # not "->" waits
    return [f"{_command(pid)} (pid {pid})" for pid in sorted(pids, key=int)]


# The lock file's mode: every user may open it to lock (flock needs only reading).
LOCK_FILE_MODE = 0o644
# A worker of `projections rebuild --jobs N` is a child of the command's fork server.
WORKER_GENERATIONS = 2
UNKNOWN_LENGTH = 60  # of a command line not mediation's (a fork server's is its whole setup)


def _command(pid: str) -> str:
    """`mediation serve`, `mediation projections run`... from the process's command line; a
    worker by the command it works for (`mediation projections rebuild worker`)."""
    args = _args(pid)
    named = _mediation(args)
    if named is not None:
        return named
    ancestor: str | None = pid
    for _ in range(WORKER_GENERATIONS):
        ancestor = _parent(ancestor) if ancestor is not None else None
        if ancestor is None:
            break
        boss = _mediation(_args(ancestor))
        if boss is not None:
            return f"{boss} worker"
    unknown = " ".join([Path(args[0]).name, *args[1:3]]).strip()
    if len(unknown) > UNKNOWN_LENGTH:
        return unknown[:UNKNOWN_LENGTH] + "..."
    return unknown or "a process"


def _mediation(args: list[str]) -> str | None:
    """`mediation` and its subcommand's words, if `args` runs mediation."""
    for at, arg in enumerate(args):
        if Path(arg).name == "mediation" or arg == "mediation.cli":
            words = []
            for word in args[at + 1 :]:
                if not word or word.startswith("-"):
                    break
                words.append(word)
            return " ".join(["mediation", *words])
    return None


def _args(pid: str) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return [""]


def _parent(pid: str) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    parent = stat.rpartition(")")[2].split()[1]  # after the name, which may hold anything
    return parent if parent != "0" else None
