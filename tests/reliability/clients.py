"""One client's HTTP connection: every answer is counted, every surprise noted."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.reliability.moves import Json
from tests.reliability.tally import Tally, Unanswered

REQUEST_TIMEOUT = 30.0
VIEW_PATHS = {"queue": "/api/v1/queue", "audit": "/api/v1/audit", "stats": "/api/v1/stats"}


class Client:
    """Reads and writes as any user of the organisation."""

    def __init__(self, url: str, tokens: dict[str, str], tally: Tally) -> None:
        self.http = httpx2.Client(base_url=url, timeout=REQUEST_TIMEOUT)
        self.tokens = tokens
        self.tally = tally

    def close(self) -> None:
        self.http.close()

    def read(self, user: str, path: str) -> Any:
        """The JSON of a 200; anything else is a surprise (the clients only ask what they may)."""
        answer = self.http.get(path, headers=self._auth(user))
        self.tally.reads[answer.status_code] += 1
        if answer.status_code != 200:
            self.tally.surprises.append(f"GET {path} as {user}: {answer.status_code} {answer.text}")
            return None
        return answer.json()

    def read_view(self, user: str, view: str, after: int) -> None:
        """Read your writes: a view asked to wait for `after` includes it, or says 503."""
        path = VIEW_PATHS[view]
        answer = self.http.get(path, params={"after": after}, headers=self._auth(user))
        self.tally.view_reads[answer.status_code] += 1
        if answer.status_code == 503:
            return  # designed: the view did not reach `after` within its wait
        if answer.status_code != 200:
            self.tally.surprises.append(f"GET {path}?after={after} as {user}: {answer.status_code}")
        elif answer.json()["position"] < after:
            self.tally.surprises.append(
                f"GET {path}?after={after} answered {answer.json()['position']}"
            )

    def write(
        self, pending: Unanswered, path: str, body: Json, headers: dict[str, str]
    ) -> httpx2.Response:
        """POST; an answer that never comes leaves `pending` in the tally."""
        try:
            answer = self.http.post(path, json=body, headers=self._auth(pending.user) | headers)
        except httpx2.ConnectError:
            raise  # never sent
        except httpx2.TransportError:
            self.tally.unanswered.append(pending)
            raise
        self.tally.writes[answer.status_code] += 1
        if not (answer.is_success or answer.status_code in (409, 412)):
            self.tally.surprises.append(
                f"POST {path} as {pending.user} {body}: {answer.status_code} {answer.text}"
            )
        return answer

    def _auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}
