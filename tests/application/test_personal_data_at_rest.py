"""Parties' phone and ID numbers never reach the database file in the clear."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.cipher import AESCipher
from pydantic import ValidationError

from mediation.bootstrap import StoreKeyError
from mediation.domain import commands as c
from mediation.domain.values import Actor, Channel, PartyRole, Role
from mediation.settings import Settings
from mediation.store import Database
from tests.support import ORG_CENTERS, FakeClock, build_test_services

PHONE = "13712345678"
ID_NUMBER = "540102199203154321"
NAME = "ཚེ་རིང་དབང་འདུས།"


def registration() -> c.Register:
    return c.Register(
        dispute_type="debt",
        channel=Channel.HOTLINE,
        summary="借款纠纷 a loan not repaid",
        parties=(
            c.NewParty(PartyRole.APPLICANT, NAME, PHONE, ID_NUMBER),
            c.NewParty(PartyRole.RESPONDENT, "李四", "13698765432"),
        ),
    )


def raw_bytes(folder: Path) -> bytes:
    """Everything SQLite wrote: the database file and its write-ahead log."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("mediation.db*")))


CLERK = Actor("clerk", Role.CLERK, "cg-a")


def register_one(database: Database, clock: FakeClock, key: str | None) -> UUID:
    services = build_test_services(database, clock, cipher_key=key)
    try:
        for code, name, parent in ORG_CENTERS:
            services.directory.add_center(code, name, parent)
        saved = services.cases.register(registration(), CLERK)
        services.cases.act(saved.view.id, c.AddNote(f"电话 {PHONE} 已核实"), CLERK)
        return saved.view.id
    finally:
        services.close()


def test_an_encrypted_store_holds_no_phone_or_id_number_in_the_clear(
    sqlite_database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    register_one(sqlite_database, clock, AESCipher.create_key(32))

    stored = raw_bytes(tmp_path)

    assert stored  # the grep below would pass vacuously on an empty file
    for secret in (PHONE, ID_NUMBER, NAME):
        assert secret.encode("utf-8") not in stored


def test_without_a_key_the_same_phone_number_is_visible_in_the_file(
    sqlite_database: Database, clock: FakeClock, tmp_path: Path
) -> None:
    """The control for the test above: the grep finds what is there."""
    register_one(sqlite_database, clock, None)

    assert PHONE.encode() in raw_bytes(tmp_path)


def test_a_wrong_key_stops_start_up_with_a_clear_error(
    sqlite_database: Database, clock: FakeClock
) -> None:
    register_one(sqlite_database, clock, AESCipher.create_key(32))

    with pytest.raises(StoreKeyError, match="MEDIATION_CIPHER_KEY"):
        build_test_services(sqlite_database, clock, cipher_key=AESCipher.create_key(32))


def test_a_missing_key_for_an_encrypted_store_stops_start_up(
    sqlite_database: Database, clock: FakeClock
) -> None:
    register_one(sqlite_database, clock, AESCipher.create_key(32))

    with pytest.raises(StoreKeyError):
        build_test_services(sqlite_database, clock)


def test_the_right_key_reads_the_cases_back(sqlite_database: Database, clock: FakeClock) -> None:
    key = AESCipher.create_key(32)
    case_id = register_one(sqlite_database, clock, key)

    services = build_test_services(sqlite_database, clock, cipher_key=key)
    try:
        view = services.cases.case(case_id, CLERK)
        assert view.parties[0].phone == PHONE
        assert services.cases.verify_chain(case_id).intact
    finally:
        services.close()


@pytest.mark.parametrize("key", ["not base64!", "c2hvcnQ="])
def test_a_malformed_key_is_refused_naming_the_setting(key: str) -> None:
    with pytest.raises(ValidationError, match="cipher_key"):
        Settings(cipher_key=key)
