"""The real app and command: the pages at /, the API under /api/v1, the session secret."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mediation.api.app import create_app
from mediation.bootstrap import Services
from mediation.cli import app as cli
from mediation.store import Database
from tests.support import FakeClock, build_test_services
from tests.web.web_support import sign_in


def test_the_app_serves_the_pages_at_the_root_and_keeps_the_api_for_tokens(
    web_services: Services, staff: list[str]
) -> None:
    with TestClient(create_app(web_services), headers={"Accept-Language": "en"}) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/queue"
        to_sign_in = client.get("/queue", follow_redirects=False).headers["location"]
        assert to_sign_in.startswith("/sign-in")
        assert client.get("/static/app.css").status_code == 200
        sign_in(client, "clerk")
        assert "clerk" in client.get("/queue").text
        # A signed-in browser is no API caller: programs keep their bearer tokens.
        case = client.get("/api/v1/cases/00000000-0000-0000-0000-000000000000")
        assert case.status_code == 401
        paths = client.get("/openapi.json").json()["paths"]
        assert all(path.startswith("/api/v1") for path in paths)


def test_without_a_configured_secret_the_installation_makes_one_and_keeps_it(
    sqlite_database: Database, clock: FakeClock
) -> None:
    first = build_test_services(sqlite_database, clock)
    made = first.session_secret()
    first.close()
    again = build_test_services(sqlite_database, clock)
    try:
        assert len(made) >= 32
        assert again.session_secret() == made  # a restart does not sign everyone out
    finally:
        again.close()


def test_a_configured_session_secret_wins_over_the_kept_one(
    sqlite_database: Database, clock: FakeClock
) -> None:
    configured = "k" * 20 + "abcdefghijklmnop"
    services = build_test_services(sqlite_database, clock, session_secret=configured)
    try:
        assert services.session_secret() == configured
    finally:
        services.close()


def test_serve_refuses_a_weak_session_secret(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", sqlite_database.url)
    monkeypatch.setenv("MEDIATION_SESSION_SECRET", "changethis")
    weak = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert weak.exit_code == 2
    assert "MEDIATION_SESSION_SECRET" in weak.stderr
