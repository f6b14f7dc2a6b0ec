"""The application's transcoder decodes exactly what the library's generic one decodes."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex
from hypothesis import given
from hypothesis import strategies as st

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
# Plain dicts that look like a transcoded object, too: {"_type_": ..., "_data_": ...} keys.
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["_type_", "_data_", "a", "due_at"]) | texts, inner, max_size=4
        )
    ),
    max_leaves=20,
)


def outcome(transcoder: JSONTranscoder, data: bytes) -> tuple[str, Any]:
    """What decoding gives: the value, or the kind of error it raises."""
    try:
        return "value", transcoder.decode(data)
    except Exception as error:  # compared below: both must fail alike
        return "error", type(error)


@given(value=values)
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
