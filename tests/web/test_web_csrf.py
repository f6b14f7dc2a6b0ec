"""Every form carries the session's CSRF token; a post without it changes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from mediation.bootstrap import Services
from tests.web.web_support import csrf, register, registration


def log_head(services: Services) -> int:
    return services.cases.recorder.max_notification_id() or 0


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_an_intake_form_without_the_sessions_token_is_refused_and_nothing_is_written(
    clerk: TestClient, web_services: Services, token: str | None
) -> None:
    before = log_head(web_services)
    data = registration() | ({"csrf_token": token} if token is not None else {})
    response = clerk.post("/cases/new", data=data)
    assert response.status_code == 403
    assert "did not come from this site" in response.text
    assert log_head(web_services) == before


def test_a_token_from_another_session_is_refused(
    web_app: object, clerk: TestClient, web_services: Services
) -> None:
    with TestClient(clerk.app) as other:
        stolen = csrf(other)
    before = log_head(web_services)
    response = clerk.post("/cases/new", data=registration() | {"csrf_token": stolen})
    assert response.status_code == 403
    assert log_head(web_services) == before


def test_an_action_without_the_token_is_refused(clerk: TestClient, web_services: Services) -> None:
    case_id = register(clerk)
    before = log_head(web_services)
    response = clerk.post(f"/cases/{case_id}/actions/accept", data={"version": "1"})
    assert response.status_code == 403
    assert log_head(web_services) == before


def test_sign_in_and_sign_out_need_the_token_too(browser: TestClient, clerk: TestClient) -> None:
    refused = browser.post("/sign-in", data={"username": "clerk", "password": "x" * 12})
    assert refused.status_code == 403
    assert clerk.post("/sign-out").status_code == 403
    assert clerk.get("/queue", follow_redirects=False).status_code == 200


def test_every_form_on_the_pages_carries_the_token(clerk: TestClient) -> None:
    case_id = register(clerk)
    for path in ("/queue", "/cases/new", f"/cases/{case_id}", "/stats", "/notifications"):
        page = clerk.get(path).text
        posts = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', page, re.S)
        assert posts, path
        for form in posts:
            assert 'name="csrf_token"' in form, (path, form[:200])
