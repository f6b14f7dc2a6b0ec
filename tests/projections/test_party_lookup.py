"""POST /api/v1/cases/lookup: a party's cases in the caller's own center, by ID number or by
name and phone, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from mediation.domain import commands as c
from mediation.domain.values import PartyRole
from mediation.projections import PartyQuery, party_cases
from mediation.projections.party_query import PARTY_CASES_MOST
from tests.projections.projection_support import World, registration
from tests.projections.test_views_api import ids, views_app

LOOKUP = "/api/v1/cases/lookup"
DOLMA = ("卓玛", "139 0000 0003", "54010219850505002X")  # name, phone, ID number
LOBSANG = ("Lobsang", "+86 137-0000-0004", None)  # no ID number


@pytest.fixture(scope="module")
def cases(world: World) -> dict[str, UUID]:
    made: dict[str, UUID] = {}

    def register(name: str, command: c.Register, by: str = "clerk") -> None:
        world.clock.advance(minutes=1)  # each registered after the one before
        made[name] = world.desk.register(command, by)

    register("first", registration(applicant=DOLMA))
    register("second", registration(dispute_type="land", respondent=DOLMA))
    register("lobsang", registration(applicant=LOBSANG))
    register("elsewhere", registration(applicant=DOLMA), by="dz_clerk")
    register("amended", registration(applicant=DOLMA))
    world.desk.act(made["amended"], c.Amend(parties=amended_parties()), "clerk")
    register("latest", registration(applicant=DOLMA))
    world.desk.act(made["first"], c.Reject("already before a court"), "clerk")
    world.projections.catch_up()
    return made


def amended_parties() -> tuple[c.NewParty, ...]:
    return (
        c.NewParty(PartyRole.APPLICANT, "次仁", "13600000005", "540102197001010011"),
        c.NewParty(PartyRole.RESPONDENT, "王五", "13900000002"),
    )


@pytest.fixture(scope="module")
def client(world: World, cases: dict[str, UUID]) -> TestClient:
    return TestClient(views_app(world))


def look_up(client: TestClient, world: World, as_user: str, **body: Any) -> Any:
    """POST the body as JSON with non-ASCII escaped (as `\\ud800`: a lone surrogate can be
    sent so, not as UTF-8)."""
    headers = {
        "Authorization": f"Bearer {world.tokens[as_user]}",
        "Content-Type": "application/json",
    }
    return client.post(LOOKUP, content=json.dumps(body), headers=headers)


def test_an_id_number_finds_the_partys_cases_of_the_callers_center_latest_first(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    response = look_up(client, world, "clerk", id_number=DOLMA[2])

    assert ids(response) == [str(cases[n]) for n in ("latest", "second", "first")]
    body = response.json()
    assert body["more"] is False
    assert body["position"] == world.projections.log.head()
    first = body["items"][2]
    assert (first["center"], first["dispute_type"], first["channel"]) == (
        "cg-a",
        "neighbour",
        "window",
    )
    assert (first["phase"], first["status"], first["closed"]) == ("closure", "closed", True)
    assert body["items"][1]["dispute_type"] == "land"  # a respondent's case too
    assert {item["summary"] for item in body["items"]} == {registration().summary}
    assert body["items"][1]["closed"] is False


def test_an_id_number_is_matched_whatever_the_case_of_its_letters_and_the_spaces_around(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    typed = f"  {DOLMA[2].lower()} "

    assert ids(look_up(client, world, "mia", id_number=typed)) == ids(
        look_up(client, world, "clerk", id_number=DOLMA[2])
    )


def test_a_name_and_phone_find_a_party_registered_without_an_id_number_however_written(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    exact = look_up(client, world, "clerk", name=LOBSANG[0], phone=LOBSANG[1])
    written_otherwise = look_up(client, world, "clerk", name=" LOBSANG", phone="8613700000004")
    other_phone = look_up(client, world, "clerk", name=LOBSANG[0], phone="13700000009")

    assert ids(exact) == [str(cases["lobsang"])]
    assert ids(written_otherwise) == [str(cases["lobsang"])]
    assert ids(other_phone) == []


def test_either_an_id_number_or_a_name_and_phone_matches_when_all_three_are_given(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    response = look_up(
        client, world, "clerk", id_number=DOLMA[2], name=LOBSANG[0], phone=LOBSANG[1]
    )

    assert set(ids(response)) == {str(cases[n]) for n in ("latest", "second", "first", "lobsang")}


def test_only_the_callers_own_center_is_searched_even_for_a_supervisor_above_it(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    assert ids(look_up(client, world, "dz_clerk", id_number=DOLMA[2])) == [str(cases["elsewhere"])]
    assert ids(look_up(client, world, "city_sup", id_number=DOLMA[2])) == []
    assert ids(look_up(client, world, "sup", id_number=DOLMA[2])) == []


def test_amended_parties_are_found_by_their_new_number_and_no_longer_by_the_old(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    new = look_up(client, world, "clerk", id_number="540102197001010011")

    assert ids(new) == [str(cases["amended"])]
    assert str(cases["amended"]) not in ids(look_up(client, world, "clerk", id_number=DOLMA[2]))


def test_a_lookup_waits_for_the_view_to_reach_a_registration_it_names(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    party = ("格桑", "13500000006", "540102200002020022")
    world.projections.start()
    try:
        world.clock.advance(minutes=1)
        result = world.services.cases.register(
            registration(applicant=party), world.desk.actors["clerk"]
        )
        response = client.post(
            f"{LOOKUP}?after={result.position}",
            json={"id_number": party[2]},
            headers={"Authorization": f"Bearer {world.tokens['clerk']}"},
        )
    finally:
        world.projections.stop()

    assert ids(response) == [str(result.view.id)]
    assert response.json()["position"] >= (result.position or 0)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({}, "id_number", "give an ID number, or a name and a phone"),
        ({"id_number": "12"}, "id_number", "4 to 32 letters or digits"),
        ({"id_number": "5401-0219"}, "id_number", "4 to 32 letters or digits"),
        ({"name": "卓玛"}, "phone", "give both"),
        ({"phone": "13900000003"}, "name", "give both"),
        ({"name": "  ", "phone": "13900000003"}, "name", "must not be blank"),
        ({"name": "卓玛", "phone": "call me"}, "phone", "3 to 32 digits"),
        ({"name": "卓\ud800玛", "phone": "13900000003"}, "name", "lone surrogate"),
        ({"id_number": "540102", "city": "Lhasa"}, "city", "Extra inputs are not permitted"),
        ({"id_number": "x" * 33}, "id_number", "4 to 32 letters or digits"),
        ({"name": "卓" * 201, "phone": "13900000003"}, "name", "at most 200 characters"),
    ],
)
def test_a_lookup_that_names_no_one_is_refused_naming_the_field(
    client: TestClient, world: World, body: dict[str, str], field: str, reason: str
) -> None:
    response = look_up(client, world, "clerk", **body)

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert any(e["loc"][-1] == field and reason in e["msg"] for e in detail), detail


def test_a_lookup_needs_a_signed_in_caller(client: TestClient, cases: dict[str, UUID]) -> None:
    assert client.post(LOOKUP, json={"id_number": DOLMA[2]}).status_code == 401


def test_a_party_with_more_cases_than_a_list_holds_gets_the_latest_and_more_is_said(
    world: World, cases: dict[str, UUID]
) -> None:
    party = ("多吉", "13300000007", "540102196001010033")
    made = []
    for _ in range(PARTY_CASES_MOST + 1):
        world.clock.advance(seconds=1)
        made.append(world.desk.register(registration(applicant=party)))
    world.projections.catch_up()

    listed = party_cases(world.projections, PartyQuery("cg-a", id_number=party[2]))

    assert listed.more is True
    assert len(listed.items) == PARTY_CASES_MOST
    assert made[0] not in {item.id for item in listed.items}  # the oldest is left out


def test_a_case_the_queue_view_has_not_reached_is_listed_without_its_summary(
    world: World, cases: dict[str, UUID]
) -> None:
    party = ("央金", "13200000008", "540102199505050044")
    world.clock.advance(minutes=1)
    made = world.desk.register(registration(applicant=party))
    world.projections.catch_up(["stats"])

    before = party_cases(world.projections, PartyQuery("cg-a", id_number=party[2]))
    world.projections.catch_up(["queue"])
    after = party_cases(world.projections, PartyQuery("cg-a", id_number=party[2]))

    assert [(item.id, item.summary) for item in before.items] == [(made, None)]
    assert [(item.id, item.summary) for item in after.items] == [(made, registration().summary)]
