"""Concurrent clients doing random valid actions on a shared set of cases.

Each client reads a case and the actions it may take, picks one, and sends it with
`If-Match: <the version it read>`, so clients that pick the same case conflict for real.
Registrations carry an Idempotency-Key; one whose answer never came is retried with it, as a
careful client would after a crash.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from uuid import UUID

import httpx2

from tests.reliability.clients import REQUEST_TIMEOUT, Client
from tests.reliability.moves import STAFF, Json, choose, registration
from tests.reliability.tally import Ack, Tally, Unanswered

FINAL = "closed"
SUPERVISORS = frozenset({"sup", "city_sup", "dz_sup"})


class CasePool:
    """The cases every client works on, with the status each was last seen in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: dict[UUID, tuple[str, str]] = {}

    def add(self, case_id: UUID, center: str, status: str) -> None:
        with self._lock:
            self._cases[case_id] = (center, status)

    def seen(self, case_id: UUID, status: str) -> None:
        with self._lock:
            self._cases[case_id] = (self._cases[case_id][0], status)

    def open_count(self) -> int:
        with self._lock:
            return sum(status != FINAL for _center, status in self._cases.values())

    def pick(self, rng: random.Random) -> tuple[UUID, str] | None:
        """Mostly an open case; now and then any (closed ones can be reopened, noted)."""
        with self._lock:
            cases = list(self._cases.items())
        live = [item for item in cases if item[1][1] != FINAL]
        chosen = live if live and rng.random() < 0.9 else cases
        if not chosen:
            return None
        case_id, (center, _status) = rng.choice(chosen)
        return case_id, center


class Load:
    """`clients` threads working until `stop()`, spread over the API processes at `urls`;
    `live_cases` open cases are kept in play."""

    def __init__(
        self, urls: list[str], tokens: dict[str, str], clients: int, live_cases: int, seed: int
    ) -> None:
        self.pool = CasePool()
        self.live_cases = live_cases
        self.stopping = threading.Event()
        self._workers = [
            Worker(
                self,
                Client(urls[i % len(urls)], tokens, Tally()),
                random.Random(seed * 1000 + i),
                f"{seed}-{i}",
            )
            for i in range(clients)
        ]
        self._threads = [
            threading.Thread(target=w.run, name=f"client-{i}", daemon=True)
            for i, w in enumerate(self._workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def acknowledged(self) -> int:
        return sum(len(worker.tally.acks) for worker in self._workers)

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT * 2)
        total = Tally()
        for worker in self._workers:
            total.merge(worker.tally)
        return total


@dataclass(frozen=True)
class Registration:
    user: str
    body: Json
    key: str


class Worker:
    """One client thread."""

    def __init__(self, load: Load, client: Client, rng: random.Random, name: str) -> None:
        self.load = load
        self.client = client
        self.tally = client.tally
        self.rng = rng
        self.name = name
        self.registered = 0
        self.retry: Registration | None = None  # sent, answer never came: send it again

    def run(self) -> None:
        try:
            while not self.load.stopping.is_set():
                try:
                    self.step()
                except httpx2.ConnectError:
                    self.tally.refused_connections += 1
                    time.sleep(0.05)
                except httpx2.TransportError:
                    self.tally.broken_connections += 1
                    time.sleep(0.05)
        except Exception as error:  # the client's own fault must fail the run, not hide
            self.tally.surprises.append(f"client {self.name} failed: {error!r}")
        finally:
            self.client.close()

    def step(self) -> None:
        if self.retry is not None:
            self.register(self.retry)
        elif self.load.pool.open_count() < self.load.live_cases or self.rng.random() < 0.03:
            self.registered += 1
            user, body = registration(self.rng)
            self.register(Registration(user, body, f"soak-{self.name}-{self.registered}"))
        else:
            self.act()

    def register(self, request: Registration) -> None:
        self.retry = request
        pending = Unanswered(None, None, "register", request.user)
        answer = self.client.write(
            pending, "/api/v1/cases", request.body, {"Idempotency-Key": request.key}
        )
        self.retry = None
        if not answer.is_success:
            return
        case = answer.json()
        replayed = answer.headers.get("Idempotent-Replayed") == "true"
        if not replayed and case["version"] != 1:
            self.tally.surprises.append(f"a new case answered version {case['version']}")
        ack = Ack(UUID(case["id"]), 1, None, "register", request.user, replayed)
        self.tally.acks.append(ack)
        self.load.pool.add(ack.case_id, case["center"], case["status"])
        if not replayed and self.rng.random() < 0.05:
            self.repeat(request, ack.case_id)

    def repeat(self, request: Registration, case_id: UUID) -> None:
        """Send a registration again with its key: the same case must come back."""
        pending = Unanswered(None, None, "register", request.user)
        answer = self.client.write(
            pending, "/api/v1/cases", request.body, {"Idempotency-Key": request.key}
        )
        replayed = answer.headers.get("Idempotent-Replayed") == "true"
        if not (answer.is_success and replayed and answer.json()["id"] == str(case_id)):
            self.tally.surprises.append(f"a repeated registration answered {answer.text[:300]}")
            return
        self.tally.acks.append(Ack(case_id, 1, None, "register", request.user, replayed=True))

    def act(self) -> None:
        picked = self.load.pool.pick(self.rng)
        if picked is None:
            return
        case_id, center = picked
        user = self.rng.choice(STAFF[center])
        case = self.client.read(user, f"/api/v1/cases/{case_id}")
        if case is None:
            return
        self.load.pool.seen(case_id, case["status"])
        if case["mediator"] is not None and self.rng.random() < 0.5:
            user = case["mediator"]  # most of mediation is the mediator's own work
        actions = self.client.read(user, f"/api/v1/cases/{case_id}/actions")
        move = choose(self.rng, case, user, actions) if actions is not None else None
        if move is None:
            return
        version = case["version"]
        pending = Unanswered(case_id, version + 1, move.action, user)
        path = f"/api/v1/cases/{case_id}/actions/{move.action}"
        answer = self.client.write(pending, path, move.body, {"If-Match": f'"{version}"'})
        if not answer.is_success:
            return
        result = answer.json()
        if result["version"] != version + 1:
            self.tally.surprises.append(f"{move.action} on v{version} of {case_id}: {result}")
        ack = Ack(case_id, result["version"], result["position"], move.action, user)
        self.tally.acks.append(ack)
        self.load.pool.seen(case_id, result["status"])
        self.read_back(user, result["position"])

    def read_back(self, user: str, position: int) -> None:
        """Now and then, read a view asking it to include what was just written."""
        if self.rng.random() < 0.15:
            self.client.read_view(user, "queue", position)
        if user in SUPERVISORS and self.rng.random() < 0.2:
            self.client.read_view(user, self.rng.choice(("audit", "stats")), position)
