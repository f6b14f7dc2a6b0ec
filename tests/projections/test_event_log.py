"""Reading the case event log: each stored case event decoded as the application's mapper
decodes it, whether `EventLog` decodes the rows itself or hands them to the mapper."""

from __future__ import annotations

import json
import pickle
import uuid
from typing import Any

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from mediation.application.service import CaseApplication
from mediation.domain.case import Case
from mediation.projections.log import CaseId, EventLog
from mediation.store import Database
from tests.projections.projection_support import Desk
from tests.projections.test_parallel_rebuild import populate_both_parts
from tests.support import FakeClock, build_test_services, make_org


class Foreign(Aggregate):
    """An aggregate that is no case, whose events share the log."""


def by_the_mapper(app: CaseApplication) -> list[tuple[int, Any]]:
    """The log's case events as the library reads its notifications and its mapper decodes them."""
    found = app.recorder.select_notifications(0, 10**6, None, inclusive_of_start=False)
    decoded = [(n.id, app.mapper.to_domain_event(n)) for n in found]
    return [(p, e) for p, e in decoded if isinstance(e, Case.Event)]


def read_all(log: EventLog) -> list[tuple[int, Any]]:
    return [(r.position, r.event) for r in log.read(0, 10**6).events]


def same_events(read: list[tuple[int, Any]], expected: list[tuple[int, Any]]) -> None:
    """Equal events of the same classes, attribute by attribute (not only as dataclasses
    compare them)."""
    assert read == expected
    assert [(p, type(e), vars(e)) for p, e in read] == [(p, type(e), vars(e)) for p, e in expected]


def insert(app: CaseApplication, topic: str, state: bytes, originator: uuid.UUID) -> None:
    app.recorder.insert_events(
        [StoredEvent(originator_id=originator, originator_version=1, topic=topic, state=state)]
    )


def test_every_case_event_is_read_as_the_applications_mapper_decodes_it(
    services: Any, desk: Desk
) -> None:
    populate_both_parts(desk)
    app = services.cases

    same_events(read_all(EventLog(app)), by_the_mapper(app))


def test_the_events_of_one_case_share_one_id_on_sqlite(
    sqlite_database: Database, clock: FakeClock
) -> None:
    """SQLite stores ids as text: each case's id is made once, however many events it has."""
    services = build_test_services(sqlite_database, clock)
    try:
        populate_both_parts(Desk(services.cases, make_org(services).actors))
        events = [r.event for r in EventLog(services.cases).read(0, 10**6).events]
        first: dict[uuid.UUID, uuid.UUID] = {}
        for event in events:
            assert event.originator_id is first.setdefault(event.originator_id, event.originator_id)
        assert len(first) < len(events)
    finally:
        services.close()


def test_events_of_other_aggregates_are_left_out_without_being_decoded(
    services: Any, desk: Desk
) -> None:
    populate_both_parts(desk)
    app = services.cases
    expected = by_the_mapper(app)
    insert(app, get_topic(Foreign.Created), b"not JSON: never decoded", uuid.uuid4())
    case_id = desk.register()

    read = read_all(EventLog(app))

    assert read[:-1] == expected
    assert read[-1][1].originator_id == case_id
    assert read[-1][0] == app.recorder.max_notification_id()
    assert read[-1][0] - read[-2][0] == 2  # the foreign event's position was passed over


def test_a_case_event_that_cannot_be_decoded_fails_the_read_naming_the_event(
    services: Any, desk: Desk
) -> None:
    desk.register()
    broken = uuid.uuid4()
    insert(services.cases, get_topic(Case.Registered), b"{not JSON", broken)

    # the id as the store keeps it: its hex digits on SQLite, the UUID's text on PostgreSQL
    with pytest.raises(MapperDeserialisationError, match=f"{broken.hex}|{broken}"):
        EventLog(services.cases).read(0, 10**6)


def test_events_of_a_class_that_upcasts_are_upcast_by_the_mapper(
    services: Any, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class whose `class_version` is past 1: its stored events (which name no version,
    being of version 1) go through its `upcast_v1_v2`, as the mapper takes them."""
    populate_both_parts(desk)

    def upcast(state: dict[str, Any]) -> None:
        state["summary"] = f"v2: {state['summary']}"

    monkeypatch.setattr(Case.Registered, "class_version", 2, raising=False)
    monkeypatch.setattr(Case.Registered, "upcast_v1_v2", staticmethod(upcast), raising=False)
    read = read_all(EventLog(services.cases))

    same_events(read, by_the_mapper(services.cases))
    summaries = [e.summary for _p, e in read if isinstance(e, Case.Registered)]
    assert summaries
    assert all(summary.startswith("v2: case ") for summary in summaries)


def test_an_event_whose_state_names_its_class_version_is_read_as_the_mapper_reads_it(
    services: Any, desk: Desk
) -> None:
    """As a later version of the code writes an event of a class it upcasts: the version is
    taken out of the event's attributes."""
    desk.register()
    app = services.cases
    registered = next(e for _p, e in by_the_mapper(app) if isinstance(e, Case.Registered))
    state = app.mapper.to_stored_event(registered).state
    named = json.dumps({**json.loads(state), "class_version": 1}).encode()
    insert(app, get_topic(Case.Registered), named, other := uuid.uuid4())

    read = read_all(EventLog(app))

    same_events(read, by_the_mapper(app))
    assert read[-1][1].originator_id == other
    assert "class_version" not in vars(read[-1][1])


def test_the_events_at_chosen_positions_are_those_the_log_reads_there(
    services: Any, desk: Desk
) -> None:
    """What the audit trail shows of each event of a page: positions that hold another
    aggregate's event, or none yet, are left out."""
    populate_both_parts(desk)
    app = services.cases
    foreign = uuid.uuid4()
    insert(app, get_topic(Foreign.Created), b"not JSON: never decoded", foreign)
    desk.register()
    every = read_all(EventLog(app))
    chosen = [position for position, _event in every[::3]]
    head = app.recorder.max_notification_id()

    found = EventLog(app).events_at([*reversed(chosen), head - 1, head + 1, chosen[0]])

    assert head - 1 not in [p for p, _e in every]  # the foreign event's position
    same_events(sorted(found.items()), [(p, e) for p, e in every if p in chosen])
    assert EventLog(app).events_at([]) == {}


def test_the_events_at_chosen_positions_of_a_store_the_log_reads_generically(
    services: Any, desk: Desk
) -> None:
    """A store other than SQLite's and PostgreSQL's (the library's in-memory one) is read
    through its notifications: the same events."""
    populate_both_parts(desk)
    app = services.cases
    memory = CaseApplication(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"}, app.workflows, app.directory
    )
    stored = app.recorder.select_notifications(1, 10**6)
    memory.recorder.insert_events(
        [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in stored]
    )
    chosen = [p for p, _e in read_all(EventLog(app))][1::2]

    found = EventLog(memory).events_at(chosen)

    assert sorted(found) == chosen
    same_events(sorted(found.items()), sorted(EventLog(app).events_at(chosen).items()))


def test_an_encrypted_store_is_read_through_its_mapper(
    database: Database, clock: FakeClock
) -> None:
    services = build_test_services(database, clock, cipher_key=AESCipher.create_key(32))
    try:
        populate_both_parts(Desk(services.cases, make_org(services).actors))
        app = services.cases

        same_events(read_all(EventLog(app)), by_the_mapper(app))
        assert len(read_all(EventLog(app))) > 10
        chosen = by_the_mapper(app)[2::4]
        same_events(sorted(EventLog(app).events_at([p for p, _e in chosen]).items()), chosen)
    finally:
        services.close()


@given(value=st.uuids())
def test_a_case_id_read_from_the_log_behaves_as_its_uuid(value: uuid.UUID) -> None:
    """Its hash and hex digits, worked out once, are the UUID's; it keys the same dict
    entries, and comes back from pickling whole."""
    case_id = CaseId(str(value))
    copied = pickle.loads(pickle.dumps(case_id))

    assert (case_id == value, hash(case_id), case_id.hex, str(case_id)) == (
        True,
        hash(value),
        value.hex,
        str(value),
    )
    by_case: dict[uuid.UUID, str] = {case_id: "row"}
    assert {value: "row"}[case_id] == by_case[value] == "row"
    assert (copied, copied.hex, hash(copied)) == (value, value.hex, hash(value))
