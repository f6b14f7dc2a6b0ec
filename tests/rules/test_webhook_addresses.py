"""Webhooks go to public addresses only, unless the operator allows internal ones (SSRF)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediation.bootstrap import Services
from mediation.domain.errors import InvalidFieldError, NotFoundError
from mediation.rules.webhook_addresses import InternalAddressError, internal_kind
from mediation.rules.webhooks import DeliveryState, HttpPoster
from mediation.store import Database
from tests.rules.conftest import Register, escalate_red_case, services_allowing_private
from tests.rules.receivers import Receiver, receiving
from tests.support import FakeClock, Org

INTERNAL_NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "0.0.0.0/8",
    "100.64.0.0/10",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::1/128",
    "::/128",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
]


@given(st.sampled_from(INTERNAL_NETWORKS).flatmap(lambda net: st.ip_addresses(network=net)))
def test_every_address_in_an_internal_range_is_internal(address: IPv4Address | IPv6Address) -> None:
    assert internal_kind(address) is not None


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_written_as_ipv6_is_judged_as_itself(address: IPv4Address) -> None:
    mapped = IPv6Address(f"::ffff:{address}")
    nat64 = IPv6Address(int(IPv6Address("64:ff9b::")) | int(address))

    assert internal_kind(mapped) == internal_kind(nat64) == internal_kind(address)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud providers' metadata service
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("8.8.8.8", None),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_an_address_is_named_by_what_makes_it_internal_or_none_when_public(
    address: str, kind: str | None
) -> None:
    assert internal_kind(ip_address(address)) == kind


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("https://192.168.1.20/hook", "192.168.1.20 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://[fd00::1]/hook", "fd00::1 is a private address"),
        ("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1 is a loopback address"),
        ("http://0.0.0.0/hook", "0.0.0.0 is an unspecified address"),
        ("http://239.1.1.1/hook", "239.1.1.1 is a multicast address"),
        ("http://2130706433/hook", "2130706433 is a loopback address"),  # 127.0.0.1 in one
        ("http://localhost:8000/hook", "localhost is this machine"),
        ("http://Api.LocalHost./hook", "api.localhost. is this machine"),
    ],
)
def test_a_webhook_to_an_internal_address_is_refused_naming_the_url_and_why(
    services: Services, org: Org, url: str, reason: str
) -> None:
    with pytest.raises(InvalidFieldError) as raised:
        services.webhooks.set("cg", url)

    assert raised.value.field == "url"
    assert reason in raised.value.reason
    assert "MEDIATION_WEBHOOKS_ALLOW_PRIVATE=true" in raised.value.reason
    with pytest.raises(NotFoundError):
        services.webhooks.describe("cg")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/mediation",
        "https://93.184.215.14/hook",
        "http://[2001:4860::8888]/",
    ],
)
def test_a_webhook_to_a_public_name_or_address_is_accepted(
    services: Services, org: Org, url: str
) -> None:
    services.webhooks.set("cg", url)

    assert services.webhooks.describe("cg").url == url


def test_an_operator_may_allow_webhooks_to_internal_addresses(
    database: Database, clock: FakeClock, org: Org, services: Services
) -> None:
    with services_allowing_private(database, clock) as allowing:
        allowing.webhooks.set("cg", "http://192.168.1.20/hook")

        assert allowing.webhooks.describe("cg").url == "http://192.168.1.20/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_webhook_that_reaches_an_internal_address_is_not_posted_and_the_failure_says_why(
    database: Database,
    services: Services,
    register: Register,
    clock: FakeClock,
    org: Org,
    receiver: Receiver,
    host: str,
) -> None:
    """Set while allowed (or before addresses were checked at all), sent while not."""
    url = f"http://{host}:{receiver.port}/hooks/mediation"
    with services_allowing_private(database, clock) as allowing:
        allowing.webhooks.set("cg", url)
    escalate_red_case(services, register, clock)

    [attempt] = services.webhooks.run_once(clock.now())

    assert receiver.received == []
    resolved = "is a" if host == "127.0.0.1" else "resolves to 127.0.0.1, a"
    reason = f"InternalAddressError: refused: {host} {resolved} loopback address"
    assert attempt.state is DeliveryState.PENDING  # retried, then given up, as other failures
    assert (attempt.error or "").startswith(reason)
    assert "MEDIATION_WEBHOOKS_ALLOW_PRIVATE=true" in (attempt.error or "")
    assert services.webhooks.describe("cg").last_error == attempt.error
    assert services.webhooks.run_once(clock.now() + timedelta(minutes=2))[0].error == attempt.error


def test_a_name_that_resolves_to_loopback_is_refused_by_the_poster(receiver: Receiver) -> None:
    with pytest.raises(InternalAddressError, match=r"localhost resolves to 127\.0\.0\.1"):
        HttpPoster().post(f"http://localhost:{receiver.port}/hook", b"{}", {})

    assert receiver.received == []


def test_an_allowed_internal_name_is_posted_to_with_its_name_in_the_host_header(
    receiver: Receiver,
) -> None:
    status = HttpPoster(allow_private=True).post(f"http://localhost:{receiver.port}/x", b"{}", {})

    assert status == 204
    assert receiver.received[0].headers["Host"] == f"localhost:{receiver.port}"


def test_a_name_is_looked_up_once_and_the_post_goes_to_the_address_checked(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that answers 127.0.0.1, then 127.0.0.2 (where nothing listens): DNS rebinding."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "127.0.0.2", "127.0.0.2"])
    looked_up: list[str] = []

    def rebinding(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == "rebinding.test":
            looked_up.append(host)
            return real(next(answers), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    status = HttpPoster(allow_private=True).post(f"http://rebinding.test:{receiver.port}/", b"", {})

    assert status == 204
    assert looked_up == ["rebinding.test"]
    assert receiver.received[0].headers["Host"] == f"rebinding.test:{receiver.port}"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for the name localhost, and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    names = "-subj /CN=localhost -addext subjectAltName=DNS:localhost"
    files = ["-keyout", str(key), "-out", str(cert)]
    command = ["openssl", *request.split(), *names.split(), *files]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


def test_over_tls_the_certificate_is_checked_against_the_name_not_the_address(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    poster = HttpPoster(allow_private=True, verify=trusting)

    with receiving(tls=server) as receiver:
        status = poster.post(f"https://localhost:{receiver.port}/hook", b"{}", {})
        with pytest.raises(
            httpx2.ConnectError, match="CERTIFICATE_VERIFY_FAILED"
        ):  # not for 127.0.0.1
            poster.post(f"https://127.0.0.1:{receiver.port}/hook", b"{}", {})

    assert status == 204
    assert receiver.server_names[0] == "localhost"
    assert len(receiver.received) == 1
