"""Webhook signing secrets at rest: sealed with the store's key when it has one, and still
signing every delivery with the secret the center was given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.cipher import AESCipher
from sqlalchemy import MetaData, String, select, update

from mediation.bootstrap import Services
from mediation.rules.webhooks import DeliveryState, hooks
from mediation.sealing import SEALED
from mediation.store import Database
from tests.rules.conftest import (
    Register,
    escalate_red_case,
    registering,
    services_allowing_private,
)
from tests.rules.receivers import Receiver
from tests.rules.test_webhooks import signed
from tests.support import FakeClock, Org, make_org

KEY = AESCipher.create_key(32)


@pytest.fixture
def services(database: Database, clock: FakeClock) -> Iterator[Services]:
    """The services of an encrypted store (MEDIATION_CIPHER_KEY), for receivers on loopback."""
    with services_allowing_private(database, clock, cipher_key=KEY) as built:
        yield built


def stored_secret(services: Services, center: str) -> str:
    with services.engine.connect() as conn:
        found: str = conn.execute(
            select(hooks.c.secret).where(hooks.c.center == center)
        ).scalar_one()
    return found


def test_with_a_store_key_the_signing_secret_is_stored_sealed_and_still_signs(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    secret = services.webhooks.set("cg", receiver.url)
    escalate_red_case(services, register, clock)

    attempts = services.webhooks.run_once(clock.now())

    stored = stored_secret(services, "cg")
    assert stored.startswith(SEALED)
    assert secret not in stored
    assert [(a.center, a.state) for a in attempts] == [("cg", DeliveryState.DELIVERED)]
    [post] = receiver.received
    assert post.headers["X-Mediation-Signature"] == signed(secret, post.body)


def test_a_secret_stored_plainly_by_an_earlier_version_is_sealed_at_start_and_still_signs(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    with services_allowing_private(database, clock, cipher_key=KEY) as first:
        clerk = make_org(first).actors["clerk"]
        first.webhooks.set("cg", receiver.url)
        with first.engine.begin() as conn:  # as versions before sealing stored it
            conn.execute(update(hooks).values(secret="plain-secret-from-before"))

    with services_allowing_private(database, clock, cipher_key=KEY) as services:
        stored = stored_secret(services, "cg")
        escalate_red_case(services, registering(services, clerk), clock)
        attempts = services.webhooks.run_once(clock.now())

    assert stored.startswith(SEALED)
    assert "plain-secret-from-before" not in stored
    assert [(a.center, a.state) for a in attempts] == [("cg", DeliveryState.DELIVERED)]
    [post] = receiver.received
    assert post.headers["X-Mediation-Signature"] == signed("plain-secret-from-before", post.body)


def test_a_webhooks_table_made_for_plain_secrets_is_widened_for_sealed_ones(
    database: Database, clock: FakeClock, receiver: Receiver
) -> None:
    """PostgreSQL enforces a VARCHAR's length: the 64 characters a plain secret took cannot
    hold a sealed one."""
    earlier = MetaData()
    table = hooks.to_metadata(earlier)
    table.c.secret.type = String(64)
    engine = database.create_engine()
    try:
        with engine.begin() as conn:
            database.create_schema()
            earlier.create_all(conn)
    finally:
        engine.dispose()

    with services_allowing_private(database, clock, cipher_key=KEY) as services:
        make_org(services)
        secret = services.webhooks.set("cg", receiver.url)
        stored = stored_secret(services, "cg")

    assert len(stored) > 64
    assert services.webhooks.sealer.open(stored) == secret
