"""The sign-in throttle: failed sign-ins counted per key in the database, and the wait they cost.

The keys: a name from everywhere (`user:NAME`), a name from one address (`user:NAME@ADDRESS`)
and an address for any name (`source:ADDRESS`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediation.accounts.tables import SignInFailureRow, is_username

# Failures for one name from all addresses together before its tries slow down: a guesser
# spreading over many addresses is slowed, one failing on purpose does not lock the user out.
NAME_FREE_FAILURES = 20
# Any constant: the PostgreSQL advisory lock that makes each try's check-and-count one step.
THROTTLE_LOCK = 72_026_0611
# A name that cannot be a username stands for every such name: no user to protect, and a typed
# "mia@10.1.1.1" must not count as mia from 10.1.1.1.
_NOT_A_USERNAME = "?"
_ADDRESS_LENGTH = 64  # longer (a proxy's header, say) is keyed by its digest
# The bits of an IPv6 address that tell one client from another (see `_address`).
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class Failures:
    """Failed sign-ins counted under one key; `last`: when the last one began (epoch seconds)."""

    key: str
    count: int
    last: float

    @property
    def name(self) -> str | None:
        """The (casefolded) name failing; None for an address's failures for any name."""
        if not self.key.startswith("user:"):
            return None
        return self.key.removeprefix("user:").partition("@")[0]

    @property
    def address(self) -> str | None:
        """The address failing; None for a name's failures from everywhere."""
        if self.key.startswith("source:"):
            return self.key.removeprefix("source:")
        _name, at, address = self.key.partition("@")
        return address if at else None


def name_key(username: str) -> str:
    """The key of a name's failures from everywhere."""
    name = username.casefold() if is_username(username) else _NOT_A_USERNAME
    return f"user:{name}"


def address_key(address: str) -> str:
    """The key of an address's failures for any name."""
    return f"source:{_address(address)}"


def sign_in_keys(username: str, source: str | None, free: int) -> dict[str, int]:
    """The keys a sign-in is counted under, each with its number of free failures."""
    name = name_key(username)
    keys = {f"{name}@{_address(source or '')}": free, name: NAME_FREE_FAILURES}
    if source:
        keys[address_key(source)] = free
    return keys


def _address(address: str) -> str:
    """One text for each client, however its address is written: `unlock --address 10.6.6.6`
    must find the failures of the IPv4 client a dual-stack socket saw as ::ffff:10.6.6.6.

    An IPv6 client counts by its /64 network (`2001:db8:1:2::/64`): a network of that size is
    what one site or one subscriber is given, and each host picks addresses in it at will
    (privacy addresses change daily), so a guesser counted per address would start afresh
    with every one of its 2**64 addresses. The clients of one such network share their count,
    as the clients behind one IPv4 address do."""
    try:
        parsed = ip_address(address)
    except ValueError:
        pass
    else:
        mapped = parsed.ipv4_mapped if isinstance(parsed, IPv6Address) else None
        if mapped is not None or not isinstance(parsed, IPv6Address):
            address = str(mapped or parsed)
        else:
            address = str(ip_network((parsed, IPV6_CLIENT_PREFIX), strict=False))
    if len(address) <= _ADDRESS_LENGTH:
        return address
    return "#" + hashlib.sha256(address.encode()).hexdigest()[:32]


class Throttle:
    """Slows guessing: after a few failures for a key, each try must wait, doubling each time.

    The failures are kept in the database: every process on it counts the same tries, a restart
    forgets none, and an administrator can clear a user's (`mediation user unlock`). The clock
    is the wall clock, which every process and machine shares.
    """

    def __init__(
        self,
        engine: Engine,
        free: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.free = free
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.clock = clock

    def attempt(self, keys: Collection[str] | Mapping[str, int]) -> float:
        """Seconds to wait before any of these keys may try again (0: try now, and the try is
        counted as a failure at once, in the same step: tries made at the same moment, in any
        process, each count, so a burst of parallel guesses waits as a row of them would;
        `succeeded` forgets them). Keys given with a number are allowed that many free failures
        instead of `free`."""
        now = self.clock()
        frees = keys if isinstance(keys, Mapping) else dict.fromkeys(keys, self.free)
        with self.engine.begin() as conn:
            self._one_at_a_time(conn, now)
            found = self._read(conn, list(frees))
            waits = (self.wait(found[k], free, now) for k, free in frees.items() if k in found)
            wait = max(waits, default=0.0)
            if wait == 0:
                self._count(conn, frees, now)
            return wait

    def succeeded(self, keys: Iterable[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(SignInFailureRow).where(SignInFailureRow.key.in_(list(keys))))

    def clear(self, keys: Collection[str] = (), prefix: str | None = None) -> list[Failures]:
        """Forget the failures of these keys and of the keys starting with `prefix`; those
        forgotten that still counted, by key."""
        row = SignInFailureRow
        matching = _matching(keys, prefix)
        with self.engine.begin() as conn:
            self._one_at_a_time(conn, self.clock())  # no try counts between reading and forgetting
            found = conn.execute(select(row.key, row.tries, row.last_try).where(matching))
            cleared = [Failures(*each) for each in found]
            conn.execute(delete(row).where(matching))
        return self._fresh(cleared)

    def recorded(self, keys: Collection[str] = (), prefix: str | None = None) -> list[Failures]:
        """The failures still counting under these keys and the keys starting with `prefix`."""
        row = SignInFailureRow
        query = select(row.key, row.tries, row.last_try).where(_matching(keys, prefix))
        with self.engine.connect() as conn:
            return self._fresh([Failures(*found) for found in conn.execute(query)])

    def wait(self, failures: Failures, free: int, now: float) -> float:
        """Seconds these failures make a try wait at `now`, given `free` failures free."""
        if failures.count < free or now - failures.last > self.forget_after:
            return 0.0
        delay = min(self.base_delay * 2.0 ** (failures.count - free), self.max_delay)
        # A clock set back must not stretch the wait past the delay itself.
        return min(max(failures.last + delay - now, 0.0), delay)

    def _fresh(self, found: Iterable[Failures]) -> list[Failures]:
        """Those not too old to count any more (the next try forgets them), by key."""
        since = self.clock() - self.forget_after
        return sorted((f for f in found if f.last >= since), key=lambda f: f.key)

    def _one_at_a_time(self, conn: Connection, now: float) -> None:
        """Take the lock that lets one try at a time check and count; forget old failures (bounded
        storage: a stream of failures from ever-new addresses must not grow forever)."""
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(THROTTLE_LOCK)))
        # On SQLite this write, the transaction's first statement, takes the one writer's lock.
        stale = SignInFailureRow.last_try < now - self.forget_after
        conn.execute(delete(SignInFailureRow).where(stale))

    def _read(self, conn: Connection, keys: list[str]) -> dict[str, Failures]:
        row = SignInFailureRow
        found = conn.execute(select(row.key, row.tries, row.last_try).where(row.key.in_(keys)))
        return {key: Failures(key, count, last) for key, count, last in found}

    def _count(self, conn: Connection, keys: Iterable[str], now: float) -> None:
        row = SignInFailureRow
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        upsert = insert(row).values([{"key": key, "tries": 1, "last_try": now} for key in keys])
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[row.key], set_={"tries": row.tries + 1, "last_try": now}
            )
        )


@dataclass(frozen=True)
class Unlocked:
    """What unlocking a name forgot, and the failures it kept of the addresses the name failed
    from: those of any name there, which still slow the user's tries from there."""

    cleared: list[Failures]
    kept: list[Failures]


def unlock_name(throttle: Throttle, username: str, address: str | None = None) -> Unlocked:
    """Forget the name's failed sign-ins, from everywhere and from each address, and with
    `address` that address's for any name."""
    name = name_key(username)
    extra = [address_key(address)] if address is not None else []
    cleared = throttle.clear([name, *extra], prefix=f"{name}@")
    failed_from = {f.address for f in cleared if f.name is not None and f.address}
    kept = throttle.recorded([address_key(place) for place in failed_from])
    return Unlocked(cleared, [f for f in kept if f.count >= throttle.free])


def names_waiting(throttle: Throttle) -> set[str]:
    """The (casefolded) names whose sign-ins must wait now, from everywhere or some address."""
    now = throttle.clock()
    waiting = (
        failures
        for failures in throttle.recorded(prefix="user:")
        if throttle.wait(failures, _free(failures, throttle.free), now) > 0
    )
    return {failures.name for failures in waiting if failures.name is not None}


def _free(failures: Failures, free: int) -> int:
    """The free failures of a key, as `sign_in_keys` gives them."""
    return NAME_FREE_FAILURES if failures.address is None else free


def _matching(keys: Collection[str], prefix: str | None) -> ColumnElement[bool]:
    exact = SignInFailureRow.key.in_(list(keys))
    if prefix is None:
        return exact
    return or_(exact, SignInFailureRow.key.startswith(prefix, autoescape=True))
