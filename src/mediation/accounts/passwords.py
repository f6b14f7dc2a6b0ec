"""Passwords for people signing in: argon2id hashes, and the error of a throttled sign-in."""

from __future__ import annotations

import hashlib
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
