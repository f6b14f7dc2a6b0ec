"""Concurrent HTTP clients doing random valid actions on a shared set of cases.

Each client reads a case and the actions it may take, picks one, and sends it with
`If-Match: <the version it read>`, so clients that pick the same case conflict for real.
Every answer is counted; every 2xx is recorded as an acknowledgement to check against the log.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from tests.reliability.moves import STAFF, Json, choose, registration

REQUEST_TIMEOUT = 30.0
FINAL = "closed"


@dataclass(frozen=True)
class Ack:
    """An action the service answered 2xx: it promised this event is in the log."""

    case_id: UUID
    version: int
    position: int | None
    action: str
    user: str


@dataclass(frozen=True)
class Unanswered:
    """A write whose answer never came (the server died): it may or may not be in the log."""

    case_id: UUID | None  # None for a registration
    version: int | None  # the version it would have written
    action: str
    user: str


@dataclass
class Tally:
    writes: Counter[int] = field(default_factory=Counter)
    reads: Counter[int] = field(default_factory=Counter)
    acks: list[Ack] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)
    refused_connections: int = 0
    broken_connections: int = 0  # a request sent whose answer never came
    surprises: list[str] = field(default_factory=list)  # answers other than 2xx, 409 and 412

    def merge(self, other: Tally) -> None:
        self.writes.update(other.writes)
        self.reads.update(other.reads)
        self.acks += other.acks
        self.unanswered += other.unanswered
        self.refused_connections += other.refused_connections
        self.broken_connections += other.broken_connections
        self.surprises += other.surprises


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
    """`clients` threads working until `stop()`; `live_cases` open cases are kept in play."""

    def __init__(
        self, url: str, tokens: dict[str, str], clients: int, live_cases: int, seed: int = 7
    ) -> None:
        self.url = url
        self.tokens = tokens
        self.pool = CasePool()
        self.live_cases = live_cases
        self._stop = threading.Event()
        self._tallies = [Tally() for _ in range(clients)]
        self._threads = [
            threading.Thread(target=self._work, args=(i, seed), name=f"client-{i}", daemon=True)
            for i in range(clients)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> Tally:
        self._stop.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT * 2)
        total = Tally()
        for tally in self._tallies:
            total.merge(tally)
        return total

    def acknowledged(self) -> int:
        return sum(len(t.acks) for t in self._tallies)

    def _work(self, index: int, seed: int) -> None:
        rng = random.Random(seed * 1000 + index)
        client = Client(httpx.Client(base_url=self.url, timeout=REQUEST_TIMEOUT), self.tokens)
        tally = self._tallies[index]
        with client.http:
            while not self._stop.is_set():
                try:
                    if self.pool.open_count() < self.live_cases or rng.random() < 0.03:
                        self._register(client, rng, tally)
                    else:
                        self._act(client, rng, tally)
                except httpx.ConnectError:
                    tally.refused_connections += 1  # the server is down: nothing was sent
                    time.sleep(0.05)
                except httpx.TransportError:
                    tally.broken_connections += 1  # a write among them is in `unanswered`
                    time.sleep(0.05)

    def _register(self, client: Client, rng: random.Random, tally: Tally) -> None:
        user, body = registration(rng)
        pending = Unanswered(None, None, "register", user)
        answer = client.write(tally, pending, "/api/v1/cases", body)
        if answer is not None and answer.is_success:
            case = answer.json()
            case_id = UUID(case["id"])
            tally.acks.append(Ack(case_id, case["version"], None, "register", user))
            self.pool.add(case_id, case["center"], case["status"])

    def _act(self, client: Client, rng: random.Random, tally: Tally) -> None:
        picked = self.pool.pick(rng)
        if picked is None:
            return
        case_id, center = picked
        user = rng.choice(STAFF[center])
        actions = client.read(tally, user, f"/api/v1/cases/{case_id}/actions")
        case = client.read(tally, user, f"/api/v1/cases/{case_id}")
        if actions is None or case is None:
            return
        self.pool.seen(case_id, case["status"])
        move = choose(rng, case, user, actions)
        if move is None:
            return
        version = case["version"]
        pending = Unanswered(case_id, version + 1, move.action, user)
        path = f"/api/v1/cases/{case_id}/actions/{move.action}"
        answer = client.write(tally, pending, path, move.body, {"If-Match": f'"{version}"'})
        if answer is None or not answer.is_success:
            return
        result = answer.json()
        if result["version"] != version + 1:
            tally.surprises.append(f"{move.action} on v{version} of {case_id} wrote {result}")
        tally.acks.append(Ack(case_id, result["version"], result["position"], move.action, user))
        self.pool.seen(case_id, result["status"])


class Client:
    """One client's connection; counts every answer it gets."""

    def __init__(self, http: httpx.Client, tokens: dict[str, str]) -> None:
        self.http = http
        self.tokens = tokens

    def read(self, tally: Tally, user: str, path: str) -> Any:
        answer = self.http.get(path, headers=self._auth(user))
        tally.reads[answer.status_code] += 1
        if answer.status_code != 200:
            tally.surprises.append(f"GET {path} as {user}: {answer.status_code} {answer.text}")
            return None
        return answer.json()

    def write(
        self,
        tally: Tally,
        pending: Unanswered,
        path: str,
        body: Json,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        try:
            answer = self.http.post(path, json=body, headers=self._auth(pending.user) | (headers or {}))
        except httpx.ConnectError:
            raise  # never sent
        except httpx.TransportError:
            tally.unanswered.append(pending)
            raise
        tally.writes[answer.status_code] += 1
        if not (answer.is_success or answer.status_code in (409, 412)):
            tally.surprises.append(
                f"POST {path} as {pending.user} {body}: {answer.status_code} {answer.text}"
            )
        return answer

    def _auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}
