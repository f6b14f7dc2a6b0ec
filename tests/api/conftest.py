"""API test helpers: a TestClient on the real services, callers' headers, the event log's head."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx2
import pytest
from fastapi.testclient import TestClient

from mediation.api.app import create_app
from mediation.bootstrap import Services
from tests.support import Org

CASES = "/api/v1/cases"
Json = dict[str, Any]

APPLICANT = "བསྟན་འཛིན་ནོར་བུ"  # Tenzin Norbu
RESPONDENT = "王秀英"


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services))


@pytest.fixture
def tokens(org: Org) -> dict[str, str]:
    """Bearer tokens by username (clerk, mia, mo, sup, city_sup, dz_clerk, dz_sup, admin)."""
    return org.tokens


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def case_url(case_id: str, *rest: str) -> str:
    return "/".join((CASES, case_id, *rest))


def registration(**overrides: Any) -> Json:
    """A valid registration body; a Tibetan-named applicant and a Chinese-named respondent."""
    body: Json = {
        "dispute_type": "neighbour",
        "channel": "window",
        "summary": "邻里噪音纠纷 ཁྱིམ་མཚེས་ཀྱི་རྩོད་གཞི། noise between neighbours",
        "parties": [
            {
                "role": "applicant",
                "name": APPLICANT,
                "phone": "138 0891 0001",
                "id_number": "540102199001011234",
            },
            {"role": "respondent", "name": RESPONDENT, "phone": "13908910002"},
        ],
    }
    return body | overrides


def register(client: TestClient, token: str, **overrides: Any) -> Json:
    """Register a case (201 expected) and return the case as the API shows it."""
    response = client.post(CASES, headers=auth(token), json=registration(**overrides))
    assert response.status_code == 201, response.text
    body: Json = response.json()
    return body


def act(
    client: TestClient,
    token: str,
    case_id: str,
    action: str,
    body: Json | None = None,
    **headers: str,
) -> httpx2.Response:
    """POST an action; `if_match="3"` becomes the header `If-Match: 3`."""
    named = {name.replace("_", "-").title(): value for name, value in headers.items()}
    url = case_url(case_id, "actions", action)
    return post_json(client, url, auth(token) | named, body)


def post_json(
    client: TestClient, url: str, headers: dict[str, str], body: Json | None
) -> httpx2.Response:
    """POST a body as most clients write JSON, non-ASCII as escapes: so a test may send what
    no UTF-8 text holds, such as half a surrogate pair (`"\\ud800"`)."""
    if body is None:
        response: httpx2.Response = client.post(url, headers=headers)
    else:
        typed = headers | {"Content-Type": "application/json"}
        response = client.post(url, headers=typed, content=json.dumps(body))
    return response


def done(response: httpx2.Response) -> Json:
    """The body of an action that must have succeeded."""
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


def mediating(client: TestClient, tokens: dict[str, str], *, consented: bool = False) -> str:
    """A new case accepted and routed to mia (version 3; 5 with both consents); its id."""
    case_id: str = register(client, tokens["clerk"])["id"]
    done(act(client, tokens["clerk"], case_id, "accept"))
    done(act(client, tokens["clerk"], case_id, "route", {"mediator": "mia"}))
    if consented:
        for party in ("p1", "p2"):
            body = {"party": party, "consent": True}
            done(act(client, tokens["mia"], case_id, "record_consent", body))
    return case_id


@dataclass(frozen=True)
class Mark:
    """Where the event log and a case stood; equal marks mean nothing was written between."""

    log_head: int
    case_version: int | None


def mark(services: Services, case_id: str | None = None) -> Mark:
    """The event log's head and (given an id) the case's version, read past the API."""
    version = services.cases.repository.get(UUID(case_id)).version if case_id else None
    return Mark(services.cases.recorder.max_notification_id() or 0, version)


def written_since(services: Services, before: Mark) -> list[str]:
    """The types of the events logged after `before`.

    Counted, not subtracted: PostgreSQL's notification ids have gaps where a write lost a race.
    """
    notifications = services.cases.recorder.select_notifications(before.log_head + 1, limit=100)
    return [n.topic.rpartition(".")[2] for n in notifications]
