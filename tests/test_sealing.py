"""Secrets kept beside the events (see `mediation.sealing`): sealed with the store's key when
it has one, opened again; the installation's own secrets sealed at start-up."""

from __future__ import annotations

from typing import cast

import pytest
from eventsourcing.cipher import AESCipher
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import MetaData, String, Table, select, update

from mediation.accounts.tables import InstanceSecretRow
from mediation.bootstrap import Services, StoreKeyError
from mediation.sealing import SEALED, SEALED_LENGTH, SealedSecretError, Sealer
from mediation.store import Database
from tests.support import FakeClock, build_test_services

KEY = AESCipher.create_key(32)


@given(secret=st.text(max_size=64))
def test_a_sealed_secret_opens_to_itself_and_fits_its_column(secret: str) -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(secret)

    assert sealed.startswith(SEALED)
    assert sealer.open(sealed) == secret
    assert len(sealed) <= SEALED_LENGTH or len(secret.encode()) > 64


def test_the_same_secret_is_sealed_differently_each_time() -> None:
    sealer = Sealer(KEY)
    assert sealer.seal("s") != sealer.seal("s")


def test_without_a_key_secrets_are_stored_and_read_as_they_are() -> None:
    assert Sealer().seal("plain") == "plain"
    assert Sealer().open("plain") == "plain"
    assert Sealer(KEY).open("plain") == "plain"  # stored before a key was configured
    assert not Sealer().sealing


@pytest.mark.parametrize(
    ("opener", "reason"),
    [
        (Sealer(AESCipher.create_key(32)), "cannot be opened with this MEDIATION_CIPHER_KEY"),
        (Sealer(), "sealed with a key: set MEDIATION_CIPHER_KEY"),
    ],
)
def test_a_sealed_secret_does_not_open_without_its_key(opener: Sealer, reason: str) -> None:
    with pytest.raises(SealedSecretError, match=reason):
        opener.open(Sealer(KEY).seal("secret"))


@pytest.mark.parametrize("damage", ["", "!!!", "AAAA", "c2hvcnQ="])
def test_a_damaged_sealed_secret_is_refused_not_misread(damage: str) -> None:
    with pytest.raises(SealedSecretError, match="MEDIATION_CIPHER_KEY"):
        Sealer(KEY).open(SEALED + damage)


def stored_instance_secrets(services: Services) -> dict[str, str]:
    with services.engine.connect() as conn:
        rows = conn.execute(select(InstanceSecretRow.name, InstanceSecretRow.value)).all()
    return {str(name): str(value) for name, value in rows}


def test_with_a_key_the_installations_secrets_are_stored_sealed_and_kept_across_starts(
    database: Database, clock: FakeClock
) -> None:
    first = build_test_services(database, clock, cipher_key=KEY)
    try:
        salt = first.directory.instance_secret("party_hash_salt")
        session = first.directory.instance_secret("session_secret")
        stored = stored_instance_secrets(first)
    finally:
        first.close()
    again = build_test_services(database, clock, cipher_key=KEY)
    try:
        assert again.directory.instance_secret("party_hash_salt") == salt
        assert again.directory.instance_secret("session_secret") == session
    finally:
        again.close()

    assert set(stored) == {"party_hash_salt", "session_secret"}
    assert all(value.startswith(SEALED) for value in stored.values())
    assert salt not in stored["party_hash_salt"]
    assert session not in stored["session_secret"]


def test_secrets_an_earlier_version_stored_plainly_are_sealed_at_start_keeping_their_value(
    database: Database, clock: FakeClock
) -> None:
    """The salt must stay the same: the statistics' party keys were made with it."""
    first = build_test_services(database, clock, cipher_key=KEY)
    try:
        with first.engine.begin() as conn:  # as versions before sealing stored it
            conn.execute(update(InstanceSecretRow).values(value="plain-salt-from-before"))
    finally:
        first.close()

    again = build_test_services(database, clock, cipher_key=KEY)
    try:
        stored = stored_instance_secrets(again)
        salt = again.directory.instance_secret("party_hash_salt")
    finally:
        again.close()

    assert salt == "plain-salt-from-before"
    assert stored["party_hash_salt"].startswith(SEALED)


def test_a_store_whose_secrets_another_key_sealed_does_not_start(
    database: Database, clock: FakeClock
) -> None:
    """No event yet tells the key is wrong; the sealed salt does."""
    build_test_services(database, clock, cipher_key=KEY).close()

    with pytest.raises(StoreKeyError, match="cannot be opened with this MEDIATION_CIPHER_KEY"):
        build_test_services(database, clock, cipher_key=AESCipher.create_key(32))
    with pytest.raises(StoreKeyError, match="set MEDIATION_CIPHER_KEY"):
        build_test_services(database, clock)
    with pytest.raises(StoreKeyError, match="cannot be opened"):  # the session secret tells
        build_test_services(
            database,
            clock,
            cipher_key=AESCipher.create_key(32),
            party_hash_salt="a configured salt of 32 bytes.....",
        )


def test_a_secrets_table_made_for_plain_secrets_is_widened_for_sealed_ones(
    database: Database, clock: FakeClock
) -> None:
    """PostgreSQL enforces a VARCHAR's length: the 128 characters a plain secret took cannot
    hold a sealed one."""
    earlier = MetaData()
    table = cast(Table, InstanceSecretRow.__table__).to_metadata(earlier)
    table.c.value.type = String(128)
    database.create_schema()
    engine = database.create_engine()
    try:
        with engine.begin() as conn:
            earlier.create_all(conn)
    finally:
        engine.dispose()

    services = build_test_services(database, clock, cipher_key=KEY)
    try:
        stored = stored_instance_secrets(services)
    finally:
        services.close()

    assert len(stored["party_hash_salt"]) > 128
