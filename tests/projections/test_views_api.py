"""GET /api/v1/queue, /audit and /stats: scoping, filters, pages, masking, CSV, `after=`."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mediation.api import routes_views
from mediation.api.app import create_app
from mediation.domain import commands as c
from mediation.projections import cursor, standard
from tests.projections.projection_support import TENZIN, World, registration

QUEUE, AUDIT, STATS = "/api/v1/queue", "/api/v1/audit", "/api/v1/stats"
SUMMARY, EXPORT = "/api/v1/queue/summary", "/api/v1/audit/export"


def views_app(world: World) -> FastAPI:
    """The API app with the views router and the world's projections."""
    app = create_app(world.services)
    app.state.projections = world.projections
    if not any(getattr(route, "path", None) == QUEUE for route in app.routes):
        app.include_router(routes_views.router)  # until the lead wires it into create_app
    return app


@pytest.fixture(scope="module")
def cases(world: World) -> dict[str, UUID]:
    desk = world.desk
    made = {"mine": desk.register(registration(applicant=TENZIN))}
    desk.mediate(made["mine"], "mia")
    made["new"] = desk.register(registration(dispute_type="labour"))
    made["escalated"] = desk.register()
    desk.act(made["escalated"], c.Escalate("no decision"), "sup")
    made["far"] = desk.register(by="dz_clerk")
    world.projections.catch_up()
    return made


@pytest.fixture(scope="module")
def client(world: World, cases: dict[str, UUID]) -> TestClient:
    return TestClient(views_app(world))


def get(client: TestClient, world: World, as_user: str, url: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {world.tokens[as_user]}"} | params.pop("headers", {})
    return client.get(url, params=params, headers=headers)


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_the_queue_shows_the_callers_center_and_a_supervisor_the_centers_below(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    clerk = ids(get(client, world, "clerk", QUEUE))
    city = ids(get(client, world, "city_sup", QUEUE))
    dz = ids(get(client, world, "dz_clerk", QUEUE))

    assert set(clerk) == {str(cases[n]) for n in ("mine", "new", "escalated")}
    assert set(city) == set(clerk) | {str(cases["far"])}
    assert dz == [str(cases["far"])]


def test_queue_filters_mine_escalated_and_pages(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    mine = ids(get(client, world, "mia", QUEUE, assignee="mine"))
    escalated = ids(get(client, world, "clerk", QUEUE, escalated="true"))
    labour = ids(get(client, world, "clerk", QUEUE, dispute_type="labour", phase="intake"))
    first = get(client, world, "clerk", QUEUE, limit=2).json()
    rest = get(client, world, "clerk", QUEUE, limit=2, cursor=first["next_cursor"]).json()

    assert mine == [str(cases["mine"])]
    assert escalated == [str(cases["escalated"])]
    assert labour == [str(cases["new"])]
    assert len(first["items"]) == 2
    assert rest["next_cursor"] is None
    assert len({i["id"] for i in first["items"] + rest["items"]}) == 3
    assert first["position"] == world.projections.log.head()


def test_the_queue_summary_counts_the_open_cases_the_queue_lists_by_phase_and_center(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    for user, params in (("clerk", {}), ("city_sup", {}), ("sup", {"center": "cg-a"})):
        listed = get(client, world, user, QUEUE, limit=200, **params).json()["items"]
        summary = get(client, world, user, SUMMARY, **params)
        assert summary.status_code == 200, summary.text
        body = summary.json()

        overdue = sum(item["overdue"] for item in listed)
        assert body["total"] == {"open": len(listed), "overdue": overdue}
        for key, field in (("phases", "phase"), ("centers", "center")):
            values = sorted({item[field] for item in listed})
            assert list(body[key]) == values
            assert [body[key][v]["open"] for v in values] == [
                sum(item[field] == v for item in listed) for v in values
            ]
        assert body["position"] == world.projections.log.head()
    assert set(get(client, world, "city_sup", SUMMARY).json()["centers"]) == {"cg-a", "dz"}


def test_the_queue_summary_counts_the_callers_own_cases_on_request(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    mine = get(client, world, "mia", SUMMARY, assignee="mine").json()
    everyone = get(client, world, "mia", SUMMARY).json()

    assert mine["total"]["open"] == 1
    assert mine["phases"] == {"mediation": {"open": 1, "overdue": 0}}
    assert everyone["total"]["open"] > 1


@pytest.mark.parametrize(
    ("user", "url", "center"),
    [
        ("clerk", QUEUE, "dz"),
        ("clerk", QUEUE, "cg"),
        ("sup", QUEUE, "dz"),
        ("sup", SUMMARY, "dz"),
        ("clerk", SUMMARY, "cg"),
        ("sup", AUDIT, "city"),
        ("dz_sup", AUDIT, "cg-a"),
        ("sup", EXPORT, "city"),
        ("sup", STATS, "dz"),
        ("clerk", STATS, "nowhere"),
    ],
)
def test_a_center_outside_the_callers_subtree_is_forbidden(
    client: TestClient, world: World, cases: dict[str, UUID], user: str, url: str, center: str
) -> None:
    assert get(client, world, user, url, center=center).status_code == 403


def test_a_supervisor_may_narrow_to_a_center_below(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    assert set(ids(get(client, world, "city_sup", QUEUE, center="dz"))) == {str(cases["far"])}


def test_the_audit_trail_is_for_supervisors_only(client: TestClient, world: World) -> None:
    for user in ("clerk", "mia"):
        assert get(client, world, user, AUDIT).status_code == 403
        assert get(client, world, user, EXPORT).status_code == 403


def test_the_audit_trail_filters_masks_and_pages(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    by_sup = get(client, world, "sup", AUDIT, actor="sup").json()["items"]
    registered = get(client, world, "sup", AUDIT, case=str(cases["mine"]), type="Registered")
    first = get(client, world, "city_sup", AUDIT, limit=5).json()
    second = get(client, world, "city_sup", AUDIT, limit=5, cursor=first["next_cursor"]).json()

    assert [(e["type"], e["case_id"]) for e in by_sup] == [("Escalated", str(cases["escalated"]))]
    (entry,) = registered.json()["items"]
    applicant = entry["data"]["parties"][0]
    assert (applicant["name"], applicant["phone"], applicant["id_number"]) == (
        TENZIN[0],
        "***",
        "***",
    )
    assert TENZIN[2] not in registered.text
    positions = [e["position"] for e in first["items"] + second["items"]]
    assert positions == sorted(set(positions))
    assert len(positions) == 9  # every event: 5 + 1 + 2 + 1


def test_the_audit_trail_pages_newest_first_on_request(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    oldest = get(client, world, "city_sup", AUDIT, limit=200).json()["items"]
    first = get(client, world, "city_sup", AUDIT, limit=5, order="newest").json()
    second = get(
        client, world, "city_sup", AUDIT, limit=5, order="newest", cursor=first["next_cursor"]
    ).json()

    newest = [e["position"] for e in first["items"] + second["items"]]
    assert newest == [e["position"] for e in oldest][::-1]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("filters", [{}, {"type": "Registered"}, {"order": "newest"}])
def test_the_audit_export_holds_every_matching_event_as_csv_with_parties_masked(
    client: TestClient, world: World, cases: dict[str, UUID], filters: dict[str, str]
) -> None:
    listed = get(client, world, "city_sup", AUDIT, limit=200, **filters).json()["items"]

    response = get(client, world, "city_sup", EXPORT, **filters)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="audit.csv"' in response.headers["content-disposition"]
    assert int(response.headers["log-position"]) == world.projections.log.head()
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(line["position"]) for line in lines] == [e["position"] for e in listed]
    for line, entry in zip(lines, listed, strict=True):
        assert (line["type"], line["case_id"], line["actor"]) == (
            entry["type"],
            entry["case_id"],
            entry["actor"]["user"],
        )
        assert (line["status_before"] or None, line["status_after"]) == (
            entry["status_before"],
            entry["status_after"],
        )
        assert json.loads(line["data"]) == entry["data"]
        assert line["at"].endswith("Z")
    assert TENZIN[2] not in response.text  # the applicant's ID number, masked
    assert len(lines) == len(listed) > 0


def test_an_export_of_more_events_than_it_may_hold_is_refused_naming_the_range(
    client: TestClient, world: World, cases: dict[str, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = len(get(client, world, "city_sup", AUDIT, limit=200).json()["items"])
    monkeypatch.setattr(standard, "EXPORT_MOST", everything - 1)

    refused = get(client, world, "city_sup", EXPORT)
    narrowed = get(client, world, "city_sup", EXPORT, type="Registered")

    assert refused.status_code == 422, refused.text
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["query", "since"]
    assert (
        detail["msg"] == f"more than {everything - 1:,} events match: export a shorter time range"
    )
    assert narrowed.status_code == 200


def test_statistics_as_json_and_as_csv(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    as_json = get(client, world, "sup", STATS, group_by="month,dispute_type")
    as_csv = get(client, world, "sup", STATS, headers={"Accept": "text/csv"})

    assert as_json.status_code == 200, as_json.text
    body = as_json.json()
    registered = {(r["center"], r["dispute_type"]): r["counts"]["registered"] for r in body["rows"]}
    assert registered == {("cg-a", "labour"): 1, ("cg-a", "neighbour"): 2}
    assert (body["group_by"], body["end"]) == (["month", "dispute_type"], "2026-03-02")
    assert as_csv.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert {(line["center"], line["period"]) for line in lines} >= {
        ("cg-a", "total"),
        ("cg", "total"),
    }


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (QUEUE, {"cursor": "not-a-cursor"}),
        (QUEUE, {"limit": "500"}),
        (STATS, {"group_by": "hour"}),
        (STATS, {"from": "2026-03-02", "to": "2026-03-01"}),
        (AUDIT, {"since": "2026-03-01T00:00:00"}),
        # Numbers and cursors beyond what the database holds, or cursors no page ever gave.
        (QUEUE, {"after": str(2**63)}),
        (SUMMARY, {"after": "-1"}),
        (SUMMARY, {"assignee": "m" * 65}),
        (AUDIT, {"cursor": cursor.encode("audit", 2**63)}),
        (AUDIT, {"cursor": cursor.encode("audit", True)}),
        (AUDIT, {"order": "latest"}),
        (EXPORT, {"order": "latest"}),
        (EXPORT, {"since": "2026-03-01T00:00:00"}),
        (AUDIT, {"cursor": cursor.encode("audit-newest", 3)}),  # a newest-first list's
        (AUDIT, {"cursor": cursor.encode("audit", 3), "order": "newest"}),
        (QUEUE, {"cursor": cursor.encode("queue", "2026-03-02T09:00:00", str(UUID(int=1)))}),
        (QUEUE, {"cursor": cursor.encode("queue", "2026-03-02T09:00:00+08:00", 7)}),
    ],
)
def test_malformed_parameters_are_refused_with_422(
    client: TestClient, world: World, url: str, params: dict[str, str]
) -> None:
    assert get(client, world, "sup", url, **params).status_code == 422


def test_no_token_no_views(client: TestClient) -> None:
    assert client.get(QUEUE).status_code == 401


def test_after_waits_for_the_view_to_include_an_action(
    client: TestClient, world: World, cases: dict[str, UUID]
) -> None:
    world.projections.start()
    try:
        position = world.desk.act(cases["new"], c.Accept())
        response = get(client, world, "clerk", QUEUE, after=position, status="awaiting_routing")
    finally:
        world.projections.stop()

    assert ids(response) == [str(cases["new"])]
    assert response.json()["position"] >= position


def test_after_a_position_the_view_has_not_reached_answers_503_with_retry_after(
    client: TestClient, world: World, cases: dict[str, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_views, "AFTER_WAIT_SECONDS", 0.2)
    position = world.desk.act(cases["escalated"], c.AddNote("nobody follows the log now"))

    response = get(client, world, "sup", AUDIT, after=position)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    world.projections.catch_up()
    assert get(client, world, "sup", AUDIT, after=position).status_code == 200


def test_statistics_up_to_the_calendars_first_days_start_on_its_first_day(
    client: TestClient, world: World
) -> None:
    for end in ("0001-01-01", "0001-06-30"):
        response = get(client, world, "sup", STATS, to=end)
        assert response.status_code == 200, response.text
        assert (response.json()["start"], response.json()["end"]) == ("0001-01-01", end)
    # From the 365th day on, the default is the 365 days that end on `to`.
    assert get(client, world, "sup", STATS, to="0001-12-31").json()["start"] == "0001-01-01"
    assert get(client, world, "sup", STATS, to="0002-01-01").json()["start"] == "0001-01-02"


def test_audit_moments_beyond_what_utc_holds_bound_at_the_calendars_ends(
    client: TestClient, world: World
) -> None:
    def listed(**params: str) -> int:
        response = get(client, world, "city_sup", AUDIT, limit=200, **params)
        assert response.status_code == 200, response.text
        return len(response.json()["items"])

    everything = listed()
    assert everything > 0
    # The calendar's first midnight east of UTC is before year 1 in UTC; its last west of it, after.
    first, last = "0001-01-01T00:00:00+08:00", "9999-12-31T23:00:00-08:00"
    assert (listed(since=first), listed(until=last)) == (everything, everything)
    assert (listed(until=first), listed(since=last)) == (0, 0)


def test_a_queue_cursor_at_the_calendars_first_midnight_east_of_utc_starts_at_the_top(
    client: TestClient, world: World
) -> None:
    top = get(client, world, "sup", QUEUE, limit=200)
    first = cursor.encode("queue", "0001-01-01T00:00:00+08:00", str(UUID(int=0)))
    after = get(client, world, "sup", QUEUE, limit=200, cursor=first)
    assert after.status_code == 200, after.text
    assert after.json()["items"] == top.json()["items"]


@pytest.mark.parametrize(
    ("url", "params", "where"),
    [
        (QUEUE, {"risk": "bogus"}, "risk"),
        (QUEUE, {"phase": "bogus"}, "phase"),
        (QUEUE, {"status": "bogus"}, "status"),
        (QUEUE, {"center": ""}, "center"),
        (AUDIT, {"type": "Bogus"}, "type"),
        (AUDIT, {"since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        (STATS, {"from": "2999-01-01"}, "from"),  # after today, the default of `to`
    ],
)
def test_a_value_no_view_holds_is_refused_naming_its_parameter(
    client: TestClient, world: World, url: str, params: dict[str, str], where: str
) -> None:
    response = get(client, world, "sup", url, **params)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["query", where]]


@pytest.mark.parametrize("url", [QUEUE, SUMMARY, AUDIT, EXPORT, STATS])
def test_a_parameter_given_twice_is_refused_rather_than_one_of_them_taken(
    client: TestClient, world: World, url: str
) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['sup']}"}
    response = client.get(f"{url}?center=cg-a&center=dz", headers=headers)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "center"]
    assert "more than once" in response.json()["detail"][0]["msg"]


def test_after_beyond_the_logs_head_is_refused_at_once_not_waited_for(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_views, "AFTER_WAIT_SECONDS", 30.0)  # a wait would time the test out
    head = world.projections.log.head()

    response = get(client, world, "sup", QUEUE, after=head + 1000)

    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", "after"]
    assert f"({head})" in detail["msg"]


def test_a_bad_parameter_is_refused_before_waiting_for_the_view(
    client: TestClient, world: World, cases: dict[str, UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_views, "AFTER_WAIT_SECONDS", 0.2)
    position = world.desk.act(cases["escalated"], c.AddNote("the views do not follow now"))
    try:
        refused = get(client, world, "sup", AUDIT, after=position, cursor="not-a-cursor")
        behind = get(client, world, "sup", AUDIT, after=position)
    finally:
        world.projections.catch_up()

    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "cursor"]
    assert behind.status_code == 503  # the same request with a good cursor waits, and is told


def test_an_admin_reads_the_audit_trail_as_a_supervisor_does(
    client: TestClient, world: World
) -> None:
    _user, token = world.services.directory.add_user("ada", "admin", "cg")
    headers = {"Authorization": f"Bearer {token}"}

    as_admin = client.get(AUDIT, headers=headers, params={"limit": 200})
    as_supervisor = get(client, world, "sup", AUDIT, limit=200)

    assert as_admin.status_code == 200, as_admin.text
    assert as_admin.json()["items"] == as_supervisor.json()["items"]


def test_statistics_without_a_period_list_each_center_once(
    client: TestClient, world: World
) -> None:
    as_json = get(client, world, "sup", STATS, group_by="dispute_type").json()
    as_csv = get(client, world, "sup", STATS, group_by="dispute_type", headers={"Accept": CSV})

    assert as_json["rows"] == []
    assert {(r["center"], r["dispute_type"]) for r in as_json["totals"]} == {
        ("cg-a", "labour"),
        ("cg-a", "neighbour"),
    }
    lines = [
        (line["center"], line["dispute_type"]) for line in csv.DictReader(io.StringIO(as_csv.text))
    ]
    assert sorted(lines) == sorted(set(lines))
    assert len(lines) == len(as_json["totals"])


@pytest.mark.parametrize(
    ("accept", "is_csv"),
    [
        ("text/csv", True),
        ("text/csv, application/json", True),
        ("application/json;q=0.5, text/csv", True),
        ("text/csv;q=0, application/json", False),
        ("text/csv;q=0.5, application/json", False),
        ("*/*", False),
        ("text/csv;q=0", False),
        ("", False),
    ],
)
def test_statistics_come_as_csv_only_when_the_client_prefers_it(
    client: TestClient, world: World, accept: str, is_csv: bool
) -> None:
    response = get(client, world, "sup", STATS, headers={"Accept": accept})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(CSV if is_csv else "application/json")


CSV = "text/csv"
