"""Per-center webhooks: notifications POSTed over real HTTP, signed, retried, sent once."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from mediation.bootstrap import Services, run_rules_forever
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
from mediation.store import Database
from tests.rules.conftest import Register, escalate_red_case, services_allowing_private
from tests.rules.receivers import Receiver
from tests.support import FakeClock, Org


@pytest.fixture
def services(database: Database, clock: FakeClock) -> Iterator[Services]:
    """The real services as an operator starts them for receivers on this network: the
    receivers here listen on loopback, which webhooks are refused by default."""
    with services_allowing_private(database, clock) as built:
        yield built


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
    poster = HttpPoster(allow_private=True)
    other = Webhooks(services.engine, services.projections, services.directory, clock, poster)
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
        ("cg", "http://" + "a" * 70 + ".com/hook", InvalidFieldError, "url"),  # a label > 63
        ("cg", "http://example.org:99999/hook", InvalidFieldError, "url"),
        ("cg", "https://user:secret@example.org/hook", InvalidFieldError, "url"),
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


@dataclass
class ScriptedPoster:
    """A poster whose answer per URL the test decides: a status, or an error raised."""

    answers: dict[str, int | Exception]
    posted: list[str] = field(default_factory=list)
    during: Any = None  # called while a POST is under way

    def post(self, url: str, body: bytes, headers: Any) -> int:
        self.posted.append(url)
        if self.during is not None:
            self.during()
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        pass


def scripted(services: Services, clock: FakeClock, poster: ScriptedPoster) -> Webhooks:
    return Webhooks(services.engine, services.projections, services.directory, clock, poster)


def cg_hooked(
    services: Services, register: Register, clock: FakeClock
) -> tuple[ScriptedPoster, Webhooks]:
    """A scripted receiver for cg's webhook, and a red case's escalation to cg for it."""
    poster = ScriptedPoster({"http://cg.example/": 204})
    webhooks = scripted(services, clock, poster)
    webhooks.set("cg", "http://cg.example/")
    escalate_red_case(services, register, clock)
    return poster, webhooks


def escalate_to_cg_then_city(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    case_id = register(risk=Risk.RED)  # the rules: to cg
    services.projections.catch_up()
    services.rules.run_once(clock.now())
    services.cases.act(case_id, c.Escalate("no answer from cg"), org.actors["sup"])  # to city
    services.projections.catch_up()


def test_a_delivery_that_fails_in_any_way_does_not_stop_the_others(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    poster = ScriptedPoster(
        {"http://cg.example/": ValueError("odd URL"), "http://city.example/": 204}
    )
    webhooks = scripted(services, clock, poster)
    webhooks.set("cg", "http://cg.example/")
    webhooks.set("city", "http://city.example/")
    escalate_to_cg_then_city(services, register, clock, org)

    attempts = webhooks.run_once(clock.now() + timedelta(seconds=1))

    assert sorted((a.center, a.state, a.error) for a in attempts) == [
        ("cg", DeliveryState.PENDING, "ValueError: odd URL"),
        ("city", DeliveryState.DELIVERED, None),
    ]


def test_a_delivery_whose_senders_died_each_time_is_given_up_not_claimed_again(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    poster, webhooks = cg_hooked(services, register, clock)
    webhooks.queue(clock.now())
    with services.engine.begin() as conn:  # claimed MAX_ATTEMPTS times, never answered
        conn.execute(deliveries.update().values(attempts=MAX_ATTEMPTS))

    assert webhooks.send_due(clock.now() + timedelta(seconds=1)) == []
    assert poster.posted == []
    assert states(services) == [("cg", MAX_ATTEMPTS, DeliveryState.FAILED)]
    assert "given up after 12 attempts" in (webhooks.describe("cg").last_error or "")


def test_a_webhook_removed_while_its_delivery_is_posted_stays_given_up(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    poster, webhooks = cg_hooked(services, register, clock)
    poster.during = lambda: webhooks.remove("cg")

    webhooks.run_once(clock.now() + timedelta(seconds=1))

    assert poster.posted == ["http://cg.example/"]
    assert states(services) == [("cg", 1, DeliveryState.FAILED)]


@pytest.fixture
def dripping() -> Iterator[str]:
    """A receiver that answers one byte every 0.2 s: a whole answer takes some 8 s."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            try:
                for byte in b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"a" * 16 + b"\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass  # the client hung up: as it should

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slow"
    finally:
        server.shutdown()
        server.server_close()


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off_at_the_deadline(
    dripping: str,
) -> None:
    poster = HttpPoster(timeout=5.0, deadline=0.5, allow_private=True)  # each byte comes in time

    with pytest.raises(TimeoutError):
        poster.post(dripping, b"{}", {"Content-Type": "application/json"})


def test_a_webhook_that_hangs_does_not_hold_up_the_escalations(
    services: Services, register: Register, clock: FakeClock, org: Org
) -> None:
    released = threading.Event()
    poster = ScriptedPoster({"http://cg.example/": 204}, during=lambda: released.wait(30))
    services.webhooks = scripted(services, clock, poster)
    services.webhooks.set("cg", "http://cg.example/")
    escalate_red_case(services, register, clock)  # queued for cg: its POST will hang
    stop = threading.Event()
    worker = threading.Thread(target=run_rules_forever, args=(services, stop, 0.05, True))
    worker.start()
    try:
        for _ in range(200):
            if poster.posted:
                break
            time.sleep(0.05)
        later = register(risk=Risk.RED)  # while the POST hangs
        escalated = False
        for _ in range(200):  # the rules pass runs every 0.05 s meanwhile
            history = services.cases.history(later, org.actors["clerk"])
            escalated = any(entry.type == "Escalated" for entry in history)
            if escalated:
                break
            time.sleep(0.05)
        hanging = poster.posted == ["http://cg.example/"] and not released.is_set()
    finally:
        released.set()
        stop.set()
        worker.join(30)

    assert hanging
    assert escalated
