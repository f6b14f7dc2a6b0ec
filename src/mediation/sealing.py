"""Secrets the service keeps in its own tables, sealed with the store's key when it has one.

With `MEDIATION_CIPHER_KEY` set, every stored event is encrypted; the secrets the service
keeps beside the events are too: each center's webhook signing secret (whoever reads it can
sign bodies its receiver trusts), the salt of the parties' keys in the statistics (with it,
the key of a guessed phone number could be computed and looked up) and the sessions' signing
secret (with it, a session cookie could be forged). A sealed secret is stored as
`sealed:v1:` and the base64 of AES-GCM's nonce, tag and ciphertext, made by the event store's
own cipher under the same key; a secret stored plainly (before a key was configured, or
without one) reads as it is, and is sealed at start-up once a key is configured.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from binascii import Error as Base64Error

from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment
from sqlalchemy import Column, Connection, select, text, update

from mediation.domain.errors import MediationError

SEALED = "sealed:v1:"
# Room for a sealed secret in a column: the prefix and the base64 of 28 bytes (nonce and tag)
# and the secret's (64 characters, the longest the service makes: 134 in all), with room left.
SEALED_LENGTH = 256


class SealedSecretError(MediationError):
    """A stored secret cannot be opened with the configured key (or without one)."""


class Sealer:
    """Seals secrets with the store's cipher key, and opens them; without a key, both leave a
    secret as it is (and a sealed one cannot be opened)."""

    def __init__(self, cipher_key: str | None = None) -> None:
        self._cipher = None if cipher_key is None else AESCipher(_environment(cipher_key))

    @property
    def sealing(self) -> bool:
        return self._cipher is not None

    def seal(self, secret: str) -> str:
        if self._cipher is None:
            return secret
        return SEALED + b64encode(self._cipher.encrypt(secret.encode())).decode()

    def open(self, stored: str) -> str:
        """The secret a stored value holds: a sealed one opened, a plain one as it is."""
        if not is_sealed(stored):
            return stored
        if self._cipher is None:
            raise SealedSecretError(
                "a secret in the database is sealed with a key: set MEDIATION_CIPHER_KEY"
            )
        try:
            return self._cipher.decrypt(b64decode(stored[len(SEALED) :], validate=True)).decode()
        except (ValueError, Base64Error, UnicodeDecodeError):  # the tag does not match: wrong key
            raise SealedSecretError(
                "a secret in the database cannot be opened with this MEDIATION_CIPHER_KEY"
            ) from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED)


def seal_stored(conn: Connection, sealer: Sealer, key: Column[str], value: Column[str]) -> int:
    """Seal the secrets of column `value` stored plainly (made before a key was configured),
    when `sealer` has a key; how many. Each is replaced only if it is still the one read, so
    that processes starting together, or a secret changed meanwhile, do no harm. Raises
    `SealedSecretError` if a sealed one cannot be opened (a wrong key, or none)."""
    sealed = 0
    for found, stored in conn.execute(select(key, value)).all():
        sealer.open(stored)
        if sealer.sealing and not is_sealed(stored):
            sealed += conn.execute(
                update(value.table)
                .where(key == found, value == stored)
                .values({value.name: sealer.seal(stored)})
            ).rowcount
    return sealed


def widen_for_sealing(conn: Connection, table: str, column: str) -> None:
    """On PostgreSQL, let a text column made before secrets were sealed (narrower) hold a
    sealed one: VARCHAR(SEALED_LENGTH). SQLite does not enforce a length."""
    if conn.dialect.name != "postgresql":
        return
    length = conn.execute(
        text(
            "SELECT character_maximum_length FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = :table "
            "AND column_name = :column"
        ),
        {"table": table, "column": column},
    ).scalar()
    if length is not None and length < SEALED_LENGTH:
        quote = conn.dialect.identifier_preparer.quote
        conn.exec_driver_sql(
            f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} TYPE VARCHAR({SEALED_LENGTH})"
        )


def _environment(cipher_key: str) -> Environment:
    environment = Environment()
    environment[AESCipher.CIPHER_KEY] = cipher_key
    return environment
