"""The action mix given to the engine over HTTP, or to the application directly (the floor)."""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

import httpx2

from bench.workload import CITY, Staff, Step, staff
from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.values import Role

CASES = "/api/v1/cases"


def add_staff(services: Services, clients: int) -> dict[str, str]:
    """A center per client below one city center, with its clerk and mediator; their tokens."""
    directory = services.directory
    directory.add_center(CITY, "Benchmark city center")
    tokens: dict[str, str] = {}
    for index in range(clients):
        people = staff(index)
        directory.add_center(people.center, f"Benchmark center {index}", parent=CITY)
        for username, role in ((people.clerk, Role.CLERK), (people.mediator, Role.MEDIATOR)):
            _user, tokens[username] = directory.add_user(username, role, people.center)
    return tokens


class DirectTarget:
    """`CaseApplication.register/act/case` in this process: no HTTP, no token check (the
    views' follower and the rules run beside it, as in `mediation serve`)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def client(self, index: int) -> DirectClient:
        return DirectClient(self.services, staff(index))


class DirectClient:
    def __init__(self, services: Services, people: Staff) -> None:
        self.cases = services.cases
        self.people = people

    def run(self, step: Step, case_id: str | None) -> str | None:
        actor = self.people.actor(step.role)
        if isinstance(step.command, c.Register):
            return str(self.cases.register(step.command, actor).view.id)
        assert case_id is not None
        if step.command is None:
            self.cases.case(UUID(case_id), actor)
        else:
            self.cases.act(UUID(case_id), step.command, actor)
        return None

    def close(self) -> None:
        pass


class HttpTarget:
    """Clients spread over the given servers, one keep-alive connection each."""

    def __init__(self, urls: list[str], tokens: dict[str, str]) -> None:
        self.urls = urls
        self.tokens = tokens

    def client(self, index: int) -> HttpClient:
        people = staff(index)
        return HttpClient(
            self.urls[index % len(self.urls)],
            {Role.CLERK: self.tokens[people.clerk], Role.MEDIATOR: self.tokens[people.mediator]},
        )


class HttpClient:
    def __init__(self, base_url: str, tokens: dict[Role, str]) -> None:
        self.http = httpx2.Client(base_url=base_url, timeout=30.0)
        self.headers = {
            role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()
        }

    def run(self, step: Step, case_id: str | None) -> str | None:
        headers = self.headers[step.role]
        if isinstance(step.command, c.Register):
            response = self.http.post(CASES, json=_body(step.command), headers=headers)
            _expect(response, 201)
            return str(response.json()["id"])
        if step.command is None:
            _expect(self.http.get(f"{CASES}/{case_id}", headers=headers), 200)
        else:
            path = f"{CASES}/{case_id}/actions/{step.kind}"
            _expect(self.http.post(path, json=_body(step.command), headers=headers), 200)
        return None

    def close(self) -> None:
        self.http.close()


class UnexpectedResponseError(RuntimeError):
    pass


def _body(command: c.Command) -> dict[str, Any]:
    return dataclasses.asdict(command)


def _expect(response: httpx2.Response, status: int) -> None:
    if response.status_code != status:
        raise UnexpectedResponseError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:200]}"
        )
