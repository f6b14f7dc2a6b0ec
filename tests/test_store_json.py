"""The JSON columns' encoder: what `json.dumps` writes, and the domain's values as ISO text."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mediation.domain.values import Actor, Party, PartyRole, Role
from mediation.store import json_text

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those, the standard encoder takes over
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
zones = st.none() | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(value=plain)
def test_plain_json_values_are_written_as_the_standard_encoder_writes_them(value: Any) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


@given(moment=st.datetimes(timezones=zones), day=st.dates(), key=st.uuids())
def test_moments_dates_and_uuids_are_written_as_their_iso_text(
    moment: datetime, day: date, key: uuid.UUID
) -> None:
    written = json.loads(json_text({"at": moment, "on": [day], "id": key}))
    assert written == {"at": moment.isoformat(), "on": [day.isoformat()], "id": str(key)}


def test_actors_and_parties_are_written_as_objects_of_their_fields() -> None:
    actor = Actor("clerk.town", Role.CLERK, "town")
    party = Party("p1", PartyRole.APPLICANT, "申请人", "13800000001", None)
    assert json.loads(json_text({"actor": actor, "parties": [party]})) == {
        "actor": {"user": "clerk.town", "role": "clerk", "center": "town"},
        "parties": [
            {
                "id": "p1",
                "role": "applicant",
                "name": "申请人",
                "phone": "13800000001",
                "id_number": None,
            }
        ],
    }


def test_an_integer_beyond_64_bits_beside_domain_values_is_written_exactly() -> None:
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    actor = Actor("clerk.town", Role.CLERK, "town")
    written = json.loads(json_text({"amount": 2**70, "at": moment, "by": actor, "n": {3: "x"}}))
    assert written == {
        "amount": 2**70,
        "at": "2026-03-02T09:00:00+00:00",
        "by": {"user": "clerk.town", "role": "clerk", "center": "town"},
        "n": {"3": "x"},
    }


def test_keys_that_are_not_text_are_written_as_the_standard_encoder_writes_them() -> None:
    value = {3: "x", True: [None], 1.5: {"at": datetime(2026, 3, 2, tzinfo=UTC)}}
    assert json.loads(json_text(value)) == {
        "3": "x",
        "true": [None],
        "1.5": {"at": "2026-03-02T00:00:00+00:00"},
    }


def test_chinese_text_is_written_as_utf8_not_escapes() -> None:
    assert json_text({"name": "申请人"}) == '{"name":"申请人"}'
