"""`mediation serve` behind a reverse proxy: the client's address it forwards counts for the
sign-in throttle when the proxy is trusted (MEDIATION_TRUSTED_PROXIES), and only then."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
import pytest

from mediation.domain.values import Role
from mediation.store import Database
from tests.reliability.processes import Deployment
from tests.support import FakeClock, build_test_services

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def failed_sign_ins(url: str, forwarded_for: str, tries: int) -> list[int]:
    """The statuses of `tries` sign-ins with a wrong password, each through a proxy that says
    it is forwarding for `forwarded_for`."""
    headers = {"X-Forwarded-For": forwarded_for}
    statuses = []
    with httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(tries):
            found = _CSRF.search(client.get("/sign-in").text)
            assert found, "no CSRF token on the sign-in page"
            data = {"username": "mia", "password": "not her password", "csrf_token": found[1]}
            statuses.append(client.post("/sign-in", data=data).status_code)
    return statuses


@pytest.mark.parametrize(
    ("trusted", "other_address"),
    [
        ("127.0.0.1", [401]),  # the proxy on loopback is believed: another client, a fresh count
        ("192.0.2.10", [429]),  # not this proxy: every try comes from 127.0.0.1, one count
    ],
)
def test_sign_ins_through_a_proxy_are_counted_by_the_address_it_forwards_if_trusted(
    tmp_path: Path, clock: FakeClock, trusted: str, other_address: list[int]
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mediation.db'}")
    services = build_test_services(database, clock)
    try:
        services.directory.add_center("cg-a", "八廓街道调解中心")
        services.directory.add_user("mia", Role.MEDIATOR, "cg-a", password="correct horse battery")
    finally:
        services.close()
    deployment = Deployment(
        database.url, tmp_path, separate_workers=False, env={"MEDIATION_TRUSTED_PROXIES": trusted}
    )
    deployment.start()
    try:
        [url] = deployment.urls
        first = failed_sign_ins(url, "203.0.113.7", 4)
        other = failed_sign_ins(url, "198.51.100.9", 1)
    finally:
        deployment.stop()

    assert first == [401, 401, 401, 429]  # three free failures for a name from one address
    assert other == other_address
