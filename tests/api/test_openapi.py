"""The OpenAPI document: every action its own POST path and body schema; every route described."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import MISSING, fields
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mediation.api.app import create_app
from mediation.bootstrap import build_services
from mediation.domain.commands import ACTION_COMMANDS
from mediation.settings import Settings
from tests.api.conftest import CASES, Json

METHODS = frozenset({"get", "post", "put", "patch", "delete"})


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Json]:
    """The served document; it does not depend on the database, so SQLite serves it once."""
    path = tmp_path_factory.mktemp("openapi") / "mediation.db"
    services = build_services(Settings(database_url=f"sqlite:///{path}"))
    try:
        yield TestClient(create_app(services)).get("/openapi.json").json()
    finally:
        services.close()


def resolve(document: Json, schema: Json) -> Json:
    """The object schema behind a `$ref`, or behind the one `$ref` of an optional body."""
    refs = [schema, *schema.get("anyOf", ())]
    ref: str = next(s["$ref"] for s in refs if "$ref" in s)
    resolved: Json = document["components"]["schemas"][ref.rpartition("/")[2]]
    return resolved


def body_schema(document: Json, action: str) -> Json:
    operation = document["paths"][f"{CASES}/{{case_id}}/actions/{action}"]["post"]
    return resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])


def required_fields(command: type[Any]) -> set[str]:
    return {
        f.name for f in fields(command) if f.default is MISSING and f.default_factory is MISSING
    }


@pytest.mark.parametrize("action", sorted(ACTION_COMMANDS))
def test_every_action_has_its_own_post_path_requiring_its_commands_fields(
    document: Json, action: str
) -> None:
    command = ACTION_COMMANDS[action]
    schema = body_schema(document, action)
    assert set(schema["properties"]) == {f.name for f in fields(command)}
    assert set(schema.get("required", ())) == required_fields(command)
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("action", "required"),
    [
        ("reject", {"reason"}),
        ("route", {"mediator"}),
        ("transfer", {"unit", "reason"}),
        ("record_consent", {"party", "consent"}),
        ("schedule_session", {"at", "place"}),
        ("extend_deadline", {"days", "reason", "consented_by"}),
        ("reach_agreement", {"terms", "signed_by"}),
        ("terminate", {"reason", "referral"}),
        ("confirm_judicially", {"court", "decision", "date"}),
        ("close", {"outcome"}),
        ("reopen", {"reason"}),
        ("accept", set()),
    ],
)
def test_action_bodies_require_what_domain_md_says_each_action_needs(
    document: Json, action: str, required: set[str]
) -> None:
    assert set(body_schema(document, action).get("required", ())) == required


def test_no_path_but_the_actions_takes_an_action_name(document: Json) -> None:
    action_paths = {p for p in document["paths"] if p.startswith(f"{CASES}/{{case_id}}/actions/")}
    expected = {f"{CASES}/{{case_id}}/actions/{name}" for name in ACTION_COMMANDS}
    assert action_paths == expected
    assert all(set(document["paths"][p]) == {"post"} for p in action_paths)


def test_every_route_has_a_summary_and_a_description(document: Json) -> None:
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    assert len(operations) >= len(ACTION_COMMANDS) + 4
    undescribed = [
        f"{method.upper()} {path}"
        for path, method, operation in operations
        if not operation.get("summary", "").strip() or not operation.get("description", "").strip()
    ]
    assert undescribed == []


def test_every_action_documents_the_if_match_header(document: Json) -> None:
    for action in ACTION_COMMANDS:
        operation = document["paths"][f"{CASES}/{{case_id}}/actions/{action}"]["post"]
        headers = {p["name"].lower() for p in operation["parameters"] if p["in"] == "header"}
        assert "if-match" in headers, action
