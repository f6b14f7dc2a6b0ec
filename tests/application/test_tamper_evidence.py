"""A case's stored history cannot be edited, reordered or cut without `verify_chain` noticing."""

from __future__ import annotations

import json
from uuid import UUID

from sqlalchemy import text

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.values import Channel, PartyRole
from mediation.store import Database
from tests.support import FakeClock, Org, build_test_services, make_org


def a_case_with_history(services: Services, org: Org) -> UUID:
    clerk = org.actors["clerk"]
    case_id = services.cases.register(
        c.Register(
            dispute_type="land",
            channel=Channel.GRID,
            summary="宅基地边界争议 boundary of a homestead",
            parties=(
                c.NewParty(PartyRole.APPLICANT, "次仁"),
                c.NewParty(PartyRole.RESPONDENT, "卓玛"),
            ),
        ),
        clerk,
    ).view.id
    services.cases.act(case_id, c.Accept(), clerk)
    services.cases.act(case_id, c.AddNote("现场查看 site visit"), clerk)
    services.cases.act(case_id, c.AddNote("第二次查看 second visit"), clerk)
    return case_id


def events_table(services: Services) -> str:
    return "stored_events" if services.database.is_sqlite else "mediation_events"


def edit_state(services: Services, case_id: UUID, version: int, change: dict[str, str]) -> None:
    table = events_table(services)
    key = case_id.hex if services.database.is_sqlite else case_id
    where = "originator_id = :id AND originator_version = :v"
    with services.engine.begin() as conn:
        state = conn.execute(
            text(f"SELECT state FROM {table} WHERE {where}"), {"id": key, "v": version}
        ).scalar_one()
        data = json.loads(bytes(state))
        data.update(change)
        new = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        conn.execute(
            text(f"UPDATE {table} SET state = :s WHERE {where}"),
            {"s": new, "id": key, "v": version},
        )


def test_an_untouched_history_verifies_intact(services: Services, org: Org) -> None:
    case_id = a_case_with_history(services, org)

    check = services.cases.verify_chain(case_id)

    assert (check.intact, check.events, check.problem) == (True, 4, None)
    assert all(entry.chain_intact for entry in services.cases.history(case_id, org.actors["clerk"]))


def test_an_event_edited_in_the_database_breaks_the_chain_after_it(
    services: Services, org: Org
) -> None:
    case_id = a_case_with_history(services, org)

    edit_state(services, case_id, 3, {"text": "没有查看 no visit"})

    check = services.cases.verify_chain(case_id)
    assert not check.intact
    assert check.problem == "version 4 does not follow version 3: edited or reordered"
    history = services.cases.history(case_id, org.actors["clerk"])
    assert [entry.chain_intact for entry in history] == [True, True, True, False]


def test_an_event_cut_from_the_middle_is_named(services: Services, org: Org) -> None:
    case_id = a_case_with_history(services, org)
    key = case_id.hex if services.database.is_sqlite else case_id
    with services.engine.begin() as conn:
        conn.execute(
            text(
                f"DELETE FROM {events_table(services)} WHERE originator_id = :id AND originator_version = 2"
            ),
            {"id": key},
        )

    check = services.cases.verify_chain(case_id)

    assert not check.intact
    assert check.problem == "version 2 is missing (found 3)"


def snapshots_table(services: Services) -> str:
    return "stored_snapshots" if services.database.is_sqlite else "mediation_snapshots"


def test_a_snapshot_edited_in_the_database_is_named_though_the_events_are_intact(
    database: Database, clock: FakeClock
) -> None:
    """The service loads a case from its latest snapshot: an edit there would change what it
    shows and decides, while every event still verifies."""
    services = build_test_services(database, clock, snapshot_interval=2)
    try:
        org = make_org(services)
        case_id = a_case_with_history(services, org)  # 4 events: snapshots at 2 and 4
        assert services.cases.verify_chain(case_id).intact
        table = snapshots_table(services)
        key = case_id.hex if services.database.is_sqlite else case_id
        where = "originator_id = :id AND originator_version = 4"
        with services.engine.begin() as conn:
            state = conn.execute(
                text(f"SELECT state FROM {table} WHERE {where}"), {"id": key}
            ).scalar_one()
            edited = bytes(state).replace("宅基地边界争议".encode(), "已经解决".encode())
            assert edited != bytes(state)
            conn.execute(
                text(f"UPDATE {table} SET state = :s WHERE {where}"), {"s": edited, "id": key}
            )

        check = services.cases.verify_chain(case_id)
    finally:
        services.close()

    assert not check.intact
    assert check.problem is not None
    assert "snapshot does not agree with its events" in check.problem
