"""Per-center webhooks: notifications POSTed over real HTTP, signed, retried, sent once."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.errors import InvalidFieldError, NotFoundError
from mediation.domain.values import Risk
from mediation.rules.webhooks import (
    MAX_ATTEMPTS,
    DeliveryState,
    HttpPoster,
    Webhooks,
    deliveries,
)
from tests.rules.conftest import Register
from tests.support import FakeClock, Org


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """A real HTTP server on loopback that records each POST and answers the given statuses."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn; then 204


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.received.append(Received(dict(self.headers.items()), self.rfile.read(length)))
            self.send_response(state.statuses.pop(0) if state.statuses else 204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/mediation"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def escalate_red_case(services: Services, register: Register, clock: FakeClock) -> None:
    """A red case: the rules escalate it at once from cg-a to cg; the views catch up."""
    register(risk=Risk.RED)
    services.projections.catch_up()
    services.rules.run_once(clock.now())
    services.projections.catch_up()


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def states(services: Services) -> list[tuple[str, int, str]]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.center, deliveries.c.attempts, deliveries.c.state)
        ).all()
    return [(row.center, row.attempts, row.state) for row in rows]


def test_an_escalation_is_posted_to_its_centers_webhook_signed_and_without_personal_data(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    secret = services.webhooks.set("cg", receiver.url)
    escalate_red_case(services, register, clock)

    attempts = services.webhooks.run_once(clock.now())

    assert [(a.center, a.state, a.error) for a in attempts] == [
        ("cg", DeliveryState.DELIVERED, None)
    ]
    [post] = receiver.received
    assert post.headers["X-Mediation-Signature"] == signed(secret, post.body)
    assert post.headers["Content-Type"] == "application/json"
    body = post.json
    assert body["delivery"] == post.headers["X-Mediation-Delivery"] == f"cg:{body['notification']}"
    assert (body["kind"], body["to_center"], body["case_center"], body["level"]) == (
        "escalation",
        "cg",
        "cg-a",
        1,
    )
    assert body["actor"] == "rules:red_risk"
    assert "赵六" not in post.body.decode()  # no party names, phones or ID numbers
    assert services.webhooks.run_once(clock.advance(hours=1)) == []  # sent once
    assert len(receiver.received) == 1


def test_a_center_without_a_webhook_and_notifications_from_before_it_was_set_send_nothing(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    escalate_red_case(services, register, clock)  # before any webhook: in the feed only
    services.webhooks.set("dz", receiver.url)  # another county: its cases are not escalated
    services.webhooks.set("cg", receiver.url)

    assert services.webhooks.run_once(clock.now()) == []
    assert receiver.received == []

    escalate_red_case(services, register, clock)
    assert len(services.webhooks.run_once(clock.now())) == 1
    assert [r.json["to_center"] for r in receiver.received] == ["cg"]


def test_a_failed_delivery_is_retried_later_with_the_same_delivery_id(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    services.webhooks.set("cg", receiver.url)
    escalate_red_case(services, register, clock)
    receiver.statuses = [503]

    [failed] = services.webhooks.run_once(clock.now())
    not_yet = services.webhooks.run_once(clock.advance(seconds=30))
    [retried] = services.webhooks.run_once(clock.advance(seconds=31))

    assert (failed.state, failed.error) == (DeliveryState.PENDING, "HTTP 503")
    assert not_yet == []
    assert (retried.state, retried.error) == (DeliveryState.DELIVERED, None)
    first, second = receiver.received
    assert first.headers["X-Mediation-Delivery"] == second.headers["X-Mediation-Delivery"]
    assert first.body == second.body
    assert states(services) == [("cg", 2, DeliveryState.DELIVERED)]


def test_an_unreachable_webhook_is_given_up_after_the_last_attempt(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    services.webhooks.set("cg", "http://127.0.0.1:9/nobody-listens")
    escalate_red_case(services, register, clock)

    outcomes = [services.webhooks.run_once(clock.advance(hours=2)) for _ in range(MAX_ATTEMPTS)]

    assert [len(attempts) for attempts in outcomes] == [1] * MAX_ATTEMPTS
    assert outcomes[-1][0].state is DeliveryState.FAILED
    assert services.webhooks.run_once(clock.advance(hours=2)) == []
    hook = services.webhooks.describe("cg")
    assert (hook.pending, hook.delivered, hook.failed) == (0, 0, 1)
    assert "ConnectError" in (hook.last_error or "")


def test_queueing_again_and_rebuilding_the_notifications_never_queue_one_twice(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    services.webhooks.set("cg", receiver.url)
    escalate_red_case(services, register, clock)

    first = services.webhooks.queue(clock.now())
    again = services.webhooks.queue(clock.now())
    services.projections.rebuild(["notifications"])
    after_rebuild = services.webhooks.queue(clock.now())
    services.webhooks.send_due(clock.now())

    assert (first, again, after_rebuild) == (1, 0, 0)
    assert len(receiver.received) == 1


def test_two_senders_at_once_send_each_delivery_once(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    services.webhooks.set("cg", receiver.url)
    for _ in range(12):
        register(risk=Risk.RED)
    services.projections.catch_up()
    services.rules.run_once(clock.now())
    services.projections.catch_up()
    services.webhooks.queue(clock.now())
    other = Webhooks(services.engine, services.projections, services.directory, clock, HttpPoster())
    start = threading.Barrier(2)
    sent: list[int] = []

    def send(webhooks: Webhooks) -> None:
        start.wait()
        sent.append(len(webhooks.send_due(clock.now(), limit=4)))

    threads = [threading.Thread(target=send, args=(w,)) for w in (services.webhooks, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()
    while services.webhooks.send_due(clock.now(), limit=4):
        pass

    ids = [r.headers["X-Mediation-Delivery"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 12
    if services.engine.dialect.name == "postgresql":  # each took rows the other had not locked
        assert sent == [4, 4]


def test_removing_a_webhook_gives_up_what_it_still_had_to_send(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    services.webhooks.set("cg", receiver.url)
    escalate_red_case(services, register, clock)
    services.webhooks.queue(clock.now())

    services.webhooks.remove("cg")

    assert services.webhooks.run_once(clock.now()) == []
    assert states(services) == [("cg", 0, DeliveryState.FAILED)]
    with pytest.raises(NotFoundError, match="no webhook"):
        services.webhooks.describe("cg")


def test_changing_the_url_sends_what_is_due_to_the_new_one_with_a_new_secret(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    old = services.webhooks.set("cg", "http://127.0.0.1:9/old")
    escalate_red_case(services, register, clock)
    services.webhooks.queue(clock.now())

    new = services.webhooks.set("cg", receiver.url)
    services.webhooks.send_due(clock.now())

    assert new != old
    [post] = receiver.received
    assert post.headers["X-Mediation-Signature"] == signed(new, post.body)


@pytest.mark.parametrize(
    ("center", "url", "error", "field_or_text"),
    [
        ("cg", "ftp://example.org/x", InvalidFieldError, "url"),
        ("cg", "http:///no-host", InvalidFieldError, "url"),
        ("cg", "https://example.org/" + "x" * 2000, InvalidFieldError, "url"),
        ("cg", "https://example.org/a\x00b", InvalidFieldError, "url"),
        ("c g", "https://example.org/x", InvalidFieldError, "center"),
        ("nowhere", "https://example.org/x", NotFoundError, "no center 'nowhere'"),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_field_and_nothing_is_stored(
    services: Services,
    org: Org,
    center: str,
    url: str,
    error: type[Exception],
    field_or_text: str,
) -> None:
    with pytest.raises(error) as raised:
        services.webhooks.set(center, url)

    if isinstance(raised.value, InvalidFieldError):
        assert raised.value.field == field_or_text
    else:
        assert field_or_text in str(raised.value)
    with pytest.raises(NotFoundError):
        services.webhooks.describe(center)


def test_an_escalation_by_a_person_is_sent_too(
    services: Services, register: Register, clock: FakeClock, org: Org, receiver: Receiver
) -> None:
    services.webhooks.set("cg", receiver.url)
    case_id = register()
    services.cases.act(case_id, c.Escalate("申请人投诉 complaint"), org.actors["sup"])
    services.projections.catch_up()

    services.webhooks.run_once(clock.now() + timedelta(seconds=1))

    assert [(r.json["actor"], r.json["reason"]) for r in receiver.received] == [
        ("sup", "申请人投诉 complaint")
    ]
