"""Two requests at once on one version: one wins, the other is told, nothing is half-written."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import anyio.to_thread
import httpx2
from fastapi.testclient import TestClient

from mediation.api.app import create_app
from mediation.bootstrap import Services
from mediation.domain.values import Role
from tests.api.conftest import (
    CASES,
    act,
    auth,
    case_url,
    done,
    mark,
    register,
    registration,
    written_since,
)

ROUNDS = 5


def at_once(*requests: Callable[[], httpx2.Response]) -> list[httpx2.Response]:
    """Run the requests in threads released together by a barrier."""
    barrier = threading.Barrier(len(requests))

    def run(request: Callable[[], httpx2.Response]) -> httpx2.Response:
        barrier.wait(timeout=10)
        return request()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


def test_two_clerks_routing_one_version_one_wins_and_the_history_holds_one_event(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    _user, second_clerk = services.directory.add_user("clerk2", Role.CLERK, "cg-a")
    for _round in range(ROUNDS):
        case_id = register(client, tokens["clerk"])["id"]
        done(act(client, tokens["clerk"], case_id, "accept"))
        before = mark(services, case_id)
        responses = at_once(
            partial(
                act, client, tokens["clerk"], case_id, "route", {"mediator": "mia"}, if_match="2"
            ),
            partial(act, client, second_clerk, case_id, "route", {"mediator": "mo"}, if_match="2"),
        )
        codes = sorted(r.status_code for r in responses)
        assert codes in ([200, 409], [200, 412]), [r.text for r in responses]
        winner = next(r.json() for r in responses if r.status_code == 200)
        entries = client.get(case_url(case_id, "history"), headers=auth(tokens["clerk"])).json()
        assert [e["type"] for e in entries] == ["Registered", "Accepted", "Routed"]
        assert entries[-1]["data"]["mediator"] == winner["case"]["mediator"]
        assert before.case_version == 2
        assert mark(services, case_id).case_version == winner["version"] == 3
        assert written_since(services, before) == ["Routed"]


def test_two_retries_with_one_idempotency_key_at_once_register_one_case(
    client: TestClient, tokens: dict[str, str], services: Services
) -> None:
    for attempt in range(ROUNDS):
        headers = auth(tokens["clerk"]) | {"Idempotency-Key": f"hotline-{attempt}"}
        before = mark(services)
        retry = partial(client.post, CASES, headers=headers, json=registration())
        responses = at_once(retry, retry)
        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
        assert set(replayed) == {"true", None}
        assert written_since(services, before) == ["Registered"]


def test_the_request_thread_pool_takes_its_size_from_the_settings(services: Services) -> None:
    def pool_size() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    with TestClient(create_app(services)) as client:
        size = client.portal.call(pool_size)  # type: ignore[union-attr]

    assert size == services.settings.threads_for_requests()
    assert size == (2 if services.settings.database_url.startswith("sqlite") else 40)
