"""The application's transcoder decodes exactly what the library's generic one decodes."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

from mediation.application import transcodings
from mediation.application.transcodings import TRANSCODINGS, CaseTranscoder
from mediation.bootstrap import Services
from mediation.domain.values import Actor, Party, PartyRole, Role


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), *TRANSCODINGS):
        transcoder.register(transcoding)
    return transcoder


GENERIC = registered(JSONTranscoder())
FAST = registered(CaseTranscoder())

zones = st.none() | st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
texts = st.text(max_size=12)
actors = st.builds(Actor, texts, st.sampled_from(Role), texts)
parties = st.builds(
    Party, texts, st.sampled_from(PartyRole), texts, st.none() | texts, st.none() | texts
)
leaves = (
    st.datetimes(timezones=zones)
    | st.dates()
    | st.uuids()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | actors
    | parties
    | texts
    | st.integers()
    | st.none()
    | st.booleans()
)


def nested(keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=20,
    )


# Values an event can carry; and plain dicts that look like a transcoded object, too.
values = nested(st.sampled_from(["a", "due_at"]) | texts)
lookalikes = nested(st.sampled_from(["_type_", "_data_", "role", "user", "center"]) | texts)
names = st.sampled_from(["actor", "party", "datetime_iso", "uuid_hex", "date_iso", "unknown"])
fields = leaves | st.sampled_from(["clerk", "applicant", "2026-03-02T09:00:00+08:00"])
shaped = st.fixed_dictionaries(
    {},
    optional={
        key: fields | st.lists(st.integers(), max_size=2)
        for key in ("user", "role", "center", "id", "name", "phone", "id_number")
    },
)
lookalikes |= st.fixed_dictionaries({"_type_": names, "_data_": shaped | fields | lookalikes})


def outcome(transcoder: JSONTranscoder, data: bytes) -> tuple[str, Any]:
    """What decoding gives: the value, or the kind of error it raises."""
    try:
        return "value", transcoder.decode(data)
    except Exception as error:  # compared below: both must fail alike
        return "error", type(error)


@settings(max_examples=500)
@given(value=values | lookalikes)
def test_any_value_decodes_as_the_generic_transcoder_decodes_it(value: Any) -> None:
    encoded = GENERIC.encode({"value": value})
    assert outcome(FAST, encoded) == outcome(GENERIC, encoded)


@given(value=values)
def test_values_of_events_come_back_equal_and_of_their_own_types(value: Any) -> None:
    decoded = FAST.decode(FAST.encode({"value": value}))["value"]
    assert decoded == value or (isinstance(value, tuple) and decoded == list(value))


def test_the_case_application_stores_and_reads_with_the_case_transcoder(
    services: Services,
) -> None:
    assert isinstance(services.cases.mapper.transcoder, CaseTranscoder)


@pytest.mark.parametrize("number", [2**63, 2**63 + 1, -(2**63) - 1, 2**70, 10**30])
def test_an_integer_orjson_would_read_as_a_float_is_read_exactly(number: int) -> None:
    encoded = FAST.encode({"value": number, "nested": [{"value": number}]})
    assert FAST.decode(encoded) == {"value": number, "nested": [{"value": number}]}
    assert type(FAST.decode(encoded)["value"]) is int


def test_text_orjson_refuses_is_read_by_the_standard_parser() -> None:
    assert FAST.decode(b'{"value": NaN, "at": 1e400}')["at"] == float("inf")


def test_an_actor_named_again_is_the_one_value_decoded_before() -> None:
    """Events of the same actor share one immutable Actor; other actors are their own."""
    transcoder = registered(CaseTranscoder())
    clerk = Actor("clerk.1", Role.CLERK, "c1")
    first, again, other = (
        transcoder.decode(transcoder.encode({"actor": actor}))["actor"]
        for actor in (clerk, clerk, Actor("clerk.1", Role.CLERK, "c2"))
    )

    assert first == again == clerk
    assert again is first
    assert other == Actor("clerk.1", Role.CLERK, "c2")


def test_actors_beyond_those_kept_still_decode_as_stored_and_few_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(transcodings, "ACTORS_KEPT", 3)
    transcoder = CaseTranscoder()
    registered(transcoder)
    actors = [Actor(f"u{i}", Role.MEDIATOR, f"c{i % 2}") for i in range(10)] * 2

    decoded = [transcoder.decode(transcoder.encode({"a": actor}))["a"] for actor in actors]

    assert decoded == actors
    assert len(transcoder._actors) <= 3  # kept within its bound
