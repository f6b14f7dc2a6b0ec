"""Who is the same party across cases, without keeping anyone's ID number or phone."""

from __future__ import annotations

import hashlib
import unicodedata

from mediation.domain.values import Party


class PartyKeys:
    """A keyed hash (HMAC-SHA256) of a party's ID number, else of name and phone.

    The salt is a deployment secret: without it the keys cannot be matched against guessed
    ID numbers. Changing it changes every key, so the statistics view must then be rebuilt.
    """

    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            msg = "the party hash salt must be at least 16 bytes"
            raise ValueError(msg)
        # HMAC (RFC 2104) from two SHA-256 states keyed once, copied for each key: keying anew
        # for every party took 1.8 us a key (OpenSSL 3 looks the algorithm up again on each
        # keying), copying an `hmac.HMAC` 1.15 us (its copy and digest are Python code around
        # two such states), copying the states themselves 0.70 us.
        key = hashlib.sha256(salt).digest() if len(salt) > _BLOCK else salt
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def key(self, party: Party) -> str | None:
        """None when the party carries too little to be recognised again (a name alone)."""
        if party.id_number:
            return self.of_id_number(party.id_number)
        if party.phone:
            return self.of_name_and_phone(party.name, party.phone)
        return None

    def of_id_number(self, id_number: str) -> str:
        """The key of a party with this ID number (in any case of letters, spaces around)."""
        return self._hash("id", id_number.strip().upper())

    def of_name_and_phone(self, name: str, phone: str) -> str:
        """The key of a party without an ID number: their name (compared as NFKC, casefolded)
        with the digits of their phone (however it is written)."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        folded = unicodedata.normalize("NFKC", name).strip().casefold()
        return self._hash("np", f"{folded}\x1f{digits}")

    def keys(self, parties: list[Party]) -> set[str]:
        return {key for party in parties if (key := self.key(party)) is not None}

    def _hash(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of the text, its first 32 hex digits (as `hmac.new(...).hexdigest()`)."""
        inner = self._inner.copy()
        inner.update(f"{kind}\x1f{value}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]


_BLOCK = hashlib.sha256().block_size  # 64 bytes: a longer key is hashed first (RFC 2104)
