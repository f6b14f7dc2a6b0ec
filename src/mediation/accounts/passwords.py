"""Passwords for people signing in: argon2id hashes, and a throttle on repeated failures."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mediation.domain.errors import InvalidFieldError, MediationError

MIN_LENGTH = 10
MAX_LENGTH = 1024


class SignInThrottledError(MediationError):
    """Too many failed sign-ins for this name or address: wait before trying again."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def check_password(password: str) -> None:
    """Refuse a password too short to resist guessing, or absurdly long."""
    if len(password) < MIN_LENGTH:
        raise InvalidFieldError("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidFieldError("password", f"must be at most {MAX_LENGTH} characters")


class Passwords:
    """Hashes and checks passwords; a check costs the same whether or not the user exists."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()

    @cached_property
    def _decoy(self) -> str:
        """Verified against when there is no stored hash, so that an unknown name takes as long."""
        return self.hasher.hash("decoy password, never a real one")

    def hash(self, password: str) -> str:
        check_password(password)
        return self.hasher.hash(password)

    def matches(self, stored: str | None, password: str) -> bool:
        """Whether `password` is the one `stored` was made from (False when nothing is stored)."""
        try:
            return self.hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether the hash was made with weaker parameters than the hasher's current ones."""
        return self.hasher.check_needs_rehash(stored)


def stamp(stored: str | None) -> str:
    """A short fingerprint of the stored hash: sessions carry it, so a new password ends them."""
    return hashlib.sha256((stored or "").encode()).hexdigest()[:16]


@dataclass
class _Failures:
    count: int
    last: float


class Throttle:
    """Slows guessing: after a few failures for a key, each attempt must wait, doubling each time.

    Kept in memory per process: a restart forgets it, and several processes each keep their own;
    the delay still makes guessing a good password by sign-in impractical.
    """

    def __init__(
        self,
        free: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.clock = clock
        self._failures: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def attempt(self, keys: list[str] | dict[str, int]) -> float:
        """Seconds to wait before any of these keys may try again (0: try now, and the try is
        counted as a failure at once, in the same step: tries made at the same moment each
        count, so a burst of parallel guesses waits as a row of them would; `succeeded`
        forgets them). Keys given with a number are allowed that many free failures instead
        of `free`."""
        now = self.clock()
        frees = keys if isinstance(keys, dict) else dict.fromkeys(keys, self.free)
        with self._lock:
            wait = max((self._wait(key, now, free) for key, free in frees.items()), default=0.0)
            if wait > 0:
                return wait
            self._forget_old(now)
            for key in keys:
                entry = self._failures.setdefault(key, _Failures(0, now))
                entry.count += 1
                entry.last = now
            return 0.0

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _wait(self, key: str, now: float, free: int) -> float:
        entry = self._failures.get(key)
        if entry is None or entry.count < free:
            return 0.0
        delay = min(self.base_delay * 2.0 ** (entry.count - free), self.max_delay)
        return max(entry.last + delay - now, 0.0)

    def _forget_old(self, now: float) -> None:
        # Bounded memory: a stream of failures from ever-new addresses must not grow forever.
        stale = [k for k, v in self._failures.items() if now - v.last > self.forget_after]
        for key in stale:
            del self._failures[key]
