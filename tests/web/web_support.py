"""Helpers for the web page tests: signing in, reading the CSRF token, posting forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
SECRET = "test-session-secret-of-at-least-32-characters"
TIBETAN_NAME = "བསྟན་འཛིན་"
CHINESE_NAME = "王秀英"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: TestClient, path: str = "/sign-in") -> str:
    """The CSRF token of the session, as the page at `path` puts it in its forms."""
    found = _CSRF.search(client.get(path).text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> httpx2.Response:
    token = csrf(client)
    data = {"username": username, "password": password, "csrf_token": token, "next": "/queue"}
    response: httpx2.Response = client.post("/sign-in", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


@contextmanager
def signed_in(app: Any, username: str) -> Iterator[TestClient]:
    """A new browser session of `app` in English, signed in as `username`."""
    with TestClient(app, headers={"Accept-Language": "en"}) as client:
        sign_in(client, username)
        yield client


def post_form(client: TestClient, path: str, data: dict[str, Any], page: str) -> httpx2.Response:
    """Post a form as the page at `page` would: with the session's CSRF token, and the page
    as the Referer, as browsers send it."""
    response: httpx2.Response = client.post(
        path,
        data={**data, "csrf_token": csrf(client, page)},
        headers={"Referer": f"http://testserver{page}"},
        follow_redirects=False,
    )
    return response


def registration(**overrides: str) -> dict[str, str]:
    """A valid intake form: a Tibetan-named applicant and a Chinese-named respondent."""
    form = {
        "dispute_type": "neighbour",
        "channel": "window",
        "risk": "low",
        "complexity": "general",
        "summary": "邻里噪音纠纷 ཁྱིམ་མཚེས་ཀྱི་རྩོད་གཞི། noise",
        "place": "八廓街",
        "parties-0-role": "applicant",
        "parties-0-name": TIBETAN_NAME,
        "parties-0-phone": "138 0891 0001",
        "parties-0-id_number": "",
        "parties-1-role": "respondent",
        "parties-1-name": CHINESE_NAME,
        "parties-1-phone": "",
        "parties-1-id_number": "",
    }
    return form | overrides


def register(client: TestClient, **overrides: str) -> str:
    """Register a case through the intake form; the new case's id."""
    response = post_form(client, "/cases/new", registration(**overrides), "/cases/new")
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/cases/")
    return location.removeprefix("/cases/")


def act(client: TestClient, case_id: str, action: str, **fields: Any) -> httpx2.Response:
    """Post an action's form from the case page, on the version the page shows."""
    page = client.get(f"/cases/{case_id}").text
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version, "the case page offers no action form"
    data = {"version": version.group(1), **fields}
    return post_form(client, f"/cases/{case_id}/actions/{action}", data, f"/cases/{case_id}")
