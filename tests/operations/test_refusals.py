"""Every 401 and 403 is logged, with no secret or personal data; a disabled user is out at once."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from mediation.api.app import create_app
from mediation.bootstrap import Services
from tests.operations.operations_support import a_case
from tests.support import Org

API = "mediation.api"
PHONE = "13800000001"  # the applicant's, in `a_case`


@pytest.fixture
def client(services: Services) -> TestClient:
    return TestClient(create_app(services))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == API and r.levelno >= logging.INFO]


def test_an_unknown_token_is_refused_and_logged_without_the_token(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    guess = "tok_" + uuid.uuid4().hex
    path = f"/api/v1/cases/{uuid.uuid4()}"
    caplog.set_level(logging.INFO, logger=API)

    response = client.get(path, headers=bearer(guess))

    assert response.status_code == 401
    assert logged(caplog) == [f"GET {path} refused (401): unknown or disabled token"]
    assert guess not in caplog.text


def test_a_missing_token_is_refused_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=API)

    response = client.post("/api/v1/cases", json={})

    assert response.status_code == 401
    assert logged(caplog) == ["POST /api/v1/cases refused (401): missing bearer token"]


def test_a_403_is_logged_with_the_user_and_without_the_parties_data(
    services: Services, org: Org, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = a_case(services, org.actors["clerk"])
    caplog.set_level(logging.INFO, logger=API)

    response = client.get(f"/api/v1/cases/{case_id}", headers=bearer(org.tokens["dz_clerk"]))

    assert response.status_code == 403
    (message,) = logged(caplog)
    assert message.startswith(f"GET /api/v1/cases/{case_id} refused (403) for dz_clerk: ")
    assert PHONE not in caplog.text
    assert "次仁" not in caplog.text
    assert org.tokens["dz_clerk"] not in caplog.text


def test_a_disabled_user_is_refused_on_the_very_next_request(
    services: Services, org: Org, client: TestClient
) -> None:
    case_id = a_case(services, org.actors["clerk"])
    url = f"/api/v1/cases/{case_id}"
    assert client.get(url, headers=bearer(org.tokens["clerk"])).status_code == 200

    services.directory.disable_user("clerk")

    assert client.get(url, headers=bearer(org.tokens["clerk"])).status_code == 401
    assert client.get(url, headers=bearer(org.tokens["mia"])).status_code == 200
