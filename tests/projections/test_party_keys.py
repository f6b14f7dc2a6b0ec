"""Party keys: the keyed hash that recognises a party across cases (see `PartyKeys`)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediation.domain.values import Party, PartyRole
from mediation.projections.parties import PartyKeys

SALT = b"party-keys-test-salt"


def stored_form(kind: str, value: str, salt: bytes = SALT) -> str:
    """A key as the statistics view has always stored it: HMAC-SHA256, 32 hex digits."""
    return hmac.new(salt, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()[:32]


def party(name: str = "张三", phone: str | None = None, id_number: str | None = None) -> Party:
    return Party(id="p1", role=PartyRole.APPLICANT, name=name, phone=phone, id_number=id_number)


def test_an_id_number_is_keyed_in_the_stored_form_whatever_its_case_and_spaces() -> None:
    keys = PartyKeys(SALT)

    key = keys.key(party(id_number=" 54010000000000001x "))

    assert key == stored_form("id", "54010000000000001X")


def test_without_an_id_number_the_name_and_the_phone_digits_are_keyed() -> None:
    keys = PartyKeys(SALT)

    key = keys.key(party(name=" ＺＨＡＮＧ San ", phone="138-0000 0001"))

    assert key == stored_form("np", "zhang san\x1f13800000001")


def test_a_name_alone_gives_no_key() -> None:
    assert PartyKeys(SALT).key(party(name="张三")) is None


@given(values=st.lists(st.text(min_size=1).filter(str.strip), min_size=1, max_size=8))
def test_each_key_is_hashed_alone_however_many_came_before(values: list[str]) -> None:
    """The keyed hash is copied for each key: no earlier party's text leaks into a later key."""
    keys = PartyKeys(SALT)

    found = [keys.key(party(id_number=value)) for value in values]

    assert found == [stored_form("id", value.strip().upper()) for value in values]


@given(salt=st.binary(min_size=16, max_size=200), value=st.text(min_size=1).filter(str.strip))
def test_keys_are_hmac_sha256_whatever_the_salt_length(salt: bytes, value: str) -> None:
    """Salts up to the hash's block (64 bytes) and longer ones, which HMAC hashes first."""
    assert PartyKeys(salt).key(party(id_number=value)) == stored_form(
        "id", value.strip().upper(), salt
    )


def test_another_salt_gives_other_keys() -> None:
    one = party(id_number="540100000000000001")

    assert PartyKeys(SALT).key(one) != PartyKeys(SALT + b"!").key(one)


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        PartyKeys(b"too short")
