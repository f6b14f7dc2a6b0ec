"""Supervisors' notifications: escalations reach the centers at and above them, read or unread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from mediation.api.app import create_app
from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.values import Risk
from tests.rules.conftest import Register
from tests.support import FakeClock, Org


def feed(client: TestClient, token: str, **params: str | int) -> dict[str, Any]:
    response = client.get(
        "/api/v1/notifications", headers={"Authorization": f"Bearer {token}"}, params=params
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def escalate_two(services: Services, register: Register, clock: FakeClock, org: Org) -> None:
    register(risk=Risk.RED)  # the rules escalate it at once, to cg
    late = register()
    services.cases.act(late, c.Escalate("complaint from the applicant"), org.actors["sup"])
    services.projections.catch_up()
    services.rules.run_once(clock.now() + timedelta(minutes=1))
    services.projections.catch_up()


def test_an_escalation_reaches_the_supervisors_of_its_target_and_above_not_elsewhere(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    escalate_two(services, register, clock, org)
    client = TestClient(create_app(services))

    county, city, other = (feed(client, org.tokens[u]) for u in ("sup", "city_sup", "dz_sup"))

    assert county["unread"] == 2
    assert city["unread"] == 2
    assert other["unread"] == 0
    items = county["items"]
    assert [(i["kind"], i["actor"], i["to_center"]) for i in items] == [
        ("escalation", "rules:red_risk", "cg"),
        ("escalation", "sup", "cg"),
    ]


def test_a_notification_names_the_cases_center_whoever_escalated_it(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    escalate_two(services, register, clock, org)  # the rules, and sup of cg, above the case
    client = TestClient(create_app(services))

    live = feed(client, org.tokens["city_sup"])["items"]
    services.projections.rebuild(["notifications"])
    rebuilt = feed(client, org.tokens["city_sup"])["items"]

    assert [(i["actor"], i["case_center"]) for i in live] == [
        ("rules:red_risk", "cg-a"),
        ("sup", "cg-a"),
    ]
    assert rebuilt == live


def test_marking_read_is_per_user(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    escalate_two(services, register, clock, org)
    client = TestClient(create_app(services))
    newest = feed(client, org.tokens["sup"])["items"][0]["id"]

    marked = client.post(
        f"/api/v1/notifications/{newest}/read",
        headers={"Authorization": f"Bearer {org.tokens['sup']}"},
    )

    assert marked.status_code == 204
    assert feed(client, org.tokens["sup"])["unread"] == 1
    assert [i["id"] for i in feed(client, org.tokens["sup"], unread=True)["items"]] != [newest]
    assert feed(client, org.tokens["city_sup"])["unread"] == 2
    every = client.post(
        "/api/v1/notifications/read", headers={"Authorization": f"Bearer {org.tokens['sup']}"}
    )
    assert every.status_code == 204
    assert feed(client, org.tokens["sup"])["unread"] == 0


def test_an_overdue_supervision_instruction_is_its_own_kind(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register()
    services.cases.act(case_id, c.Supervise("reply today", clock.now().date()), org.actors["sup"])
    services.projections.catch_up()
    services.rules.run_once(clock.now() + timedelta(days=2))
    services.projections.catch_up()
    client = TestClient(create_app(services))

    kinds = {i["kind"] for i in feed(client, org.tokens["sup"])["items"]}

    assert "supervision_overdue" in kinds


def test_notifications_are_for_supervisors_and_a_foreign_id_is_not_found(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    escalate_two(services, register, clock, org)
    client = TestClient(create_app(services))
    clerk = client.get(
        "/api/v1/notifications", headers={"Authorization": f"Bearer {org.tokens['clerk']}"}
    )
    some = feed(client, org.tokens["sup"])["items"][0]["id"]
    foreign = client.post(
        f"/api/v1/notifications/{some}/read",
        headers={"Authorization": f"Bearer {org.tokens['dz_sup']}"},
    )

    assert clerk.status_code == 403
    assert foreign.status_code == 404
    assert feed(client, org.tokens["sup"])["unread"] == 2


def test_ids_and_pages_beyond_what_the_database_holds_are_refused_naming_the_field(
    services: Services, org: Org
) -> None:
    client = TestClient(create_app(services))
    headers = {"Authorization": f"Bearer {org.tokens['sup']}"}

    marked = client.post(f"/api/v1/notifications/{2**63}/read", headers=headers)
    paged = client.get("/api/v1/notifications", params={"before": 2**63}, headers=headers)

    assert (marked.status_code, marked.json()["detail"][0]["loc"]) == (
        422,
        ["path", "notification_id"],
    )
    assert (paged.status_code, paged.json()["detail"][0]["loc"]) == (422, ["query", "before"])
