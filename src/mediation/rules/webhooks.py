"""Per-center webhooks: each notification for a center is POSTed to the URL the center chose.

Delivery is at least once, through an outbox. A pass first copies the notifications of
centers with a webhook, newer than what it copied before, into `webhook_deliveries` (keyed by
center and notification, so nothing is queued twice); then it POSTs the due ones, one at a
time. Each is claimed just before it is sent, for longer than a POST may take (DEADLINE), so
two workers do not send it at the same time, and a worker that dies while sending leaves it
to be sent again once the claim runs out. A failure, whatever it is (no answer, an error
status, a URL the client cannot even send to, a host at an internal address: see
webhook_addresses), is recorded on that delivery alone and retried later and later
(BACKOFF); a delivery is given up after MAX_ATTEMPTS, also when its senders died each time.

A receiver tells repeats apart by the `X-Mediation-Delivery` header, and checks that the body
came from this service with the HMAC-SHA256 in `X-Mediation-Signature`, under the secret it
was given when the webhook was set. Bodies carry no personal data of the parties. The secrets
are stored sealed with the store's key when one is configured (see `mediation.sealing`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx2
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mediation.accounts.tables import check_code
from mediation.domain.commands import CONTROL_CHARACTERS
from mediation.domain.errors import InvalidFieldError, NotFoundError
from mediation.domain.ports import Clock
from mediation.projections.columns import UTCDateTime
from mediation.projections.service import Projections
from mediation.rules.notifications import NotificationsView, NotificationTables
from mediation.rules.webhook_addresses import ALLOW_HINT, host_refusal, resolve
from mediation.sealing import SEALED_LENGTH, Sealer, seal_stored, widen_for_sealing

log = logging.getLogger("mediation.webhooks")

URL_LENGTH = 2000
TIMEOUT = 5.0  # seconds for each step of a POST (connect, write, each read)
DEADLINE = 10.0  # seconds for a whole POST: a receiver answering a byte at a time is cut off
CLAIM = timedelta(minutes=2)  # a claimed delivery is left to others after this (sender died)
BACKOFF = (1, 2, 5, 10, 30, 60)  # minutes before the 2nd, 3rd... attempt; then every hour
MAX_ATTEMPTS = 12  # about seven hours of trying
ENQUEUE_LIMIT = 500  # notifications copied per center and pass
SEND_LIMIT = 50  # deliveries sent per pass
CLAIM_CANDIDATES = 10  # due deliveries looked at per claim (others may take the first ones)
DEFAULT_PORTS = {"http": 80, "https": 443}

webhooks_metadata = MetaData()
hooks = Table(
    "center_webhooks",
    webhooks_metadata,
    Column("center", String(32), primary_key=True),
    Column("url", String(URL_LENGTH), nullable=False),
    Column("secret", String(SEALED_LENGTH), nullable=False),  # sealed when there is a key
    # The last notification (its log position) queued for this center: newer ones are next.
    Column("queued_up_to", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
deliveries = Table(
    "webhook_deliveries",
    webhooks_metadata,
    Column("center", String(32), primary_key=True),
    Column("notification", BigInteger, primary_key=True),
    Column("body", Text, nullable=False),  # the JSON sent, fixed when queued
    Column("state", String(16), nullable=False),  # DeliveryState
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),  # delivered, or given up
    Column("last_error", String(500)),
)
Index("ix_webhook_deliveries_due", deliveries.c.state, deliveries.c.next_attempt_at)


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after MAX_ATTEMPTS, or its webhook was removed


class Poster(Protocol):
    """Sends one POST; returns the HTTP status, raises OSError or httpx2.HTTPError when none came."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...

    def close(self) -> None: ...


class Centers(Protocol):
    def center(self, code: str) -> object | None: ...


class HttpPoster:
    """POSTs over HTTP(S) with httpx2; redirects are not followed (a hook names its final URL).

    The host is resolved first, and internal addresses refused unless `allow_private`
    (webhook_addresses); the POST then connects to an address that was checked, keeping the
    name in the Host header and for TLS (server name, certificate check).

    httpx's timeouts bound each step of a request, not the whole: a receiver that answers a
    byte every few seconds would hold a POST for as long as it likes. Each POST runs in an
    event loop of its own and is cancelled at `deadline` (TimeoutError)."""

    def __init__(
        self,
        timeout: float = TIMEOUT,
        deadline: float = DEADLINE,
        *,
        allow_private: bool = False,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._timeout = timeout
        self._deadline = deadline
        self._allow_private = allow_private
        self._verify = verify

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        return asyncio.run(self._post(httpx2.URL(url), body, headers))

    async def _post(self, url: httpx2.URL, body: bytes, headers: Mapping[str, str]) -> int:
        async with httpx2.AsyncClient(
            timeout=self._timeout, follow_redirects=False, verify=self._verify
        ) as client:
            async with asyncio.timeout(self._deadline):
                response = await self._post_checked(client, url, body, headers)
        return response.status_code

    async def _post_checked(
        self, client: httpx2.AsyncClient, url: httpx2.URL, body: bytes, headers: Mapping[str, str]
    ) -> httpx2.Response:
        """POST to the addresses the host resolves to, in turn until one can be connected to."""
        host = url.raw_host.decode("ascii")
        port = url.port or DEFAULT_PORTS[url.scheme]
        addresses = await resolve(host, port, allow_private=self._allow_private)
        named = {**headers, "Host": url.netloc.decode("ascii")}
        failure: Exception | None = None
        for address in addresses:
            try:
                return await client.post(
                    url.copy_with(host=str(address)),
                    content=body,
                    headers=named,
                    extensions={"sni_hostname": host},  # TLS checks the name, not the address
                )
            except (httpx2.ConnectError, httpx2.ConnectTimeout) as error:
                failure = error
        raise failure or OSError(f"{host} resolves to no address")

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Webhook:
    center: str
    url: str
    pending: int
    delivered: int
    failed: int
    last_error: str | None


@dataclass(frozen=True)
class Attempt:
    center: str
    notification: int
    state: DeliveryState
    error: str | None


def create_webhook_tables(conn: Connection) -> None:
    webhooks_metadata.create_all(conn)
    widen_for_sealing(conn, hooks.name, hooks.c.secret.name)  # made when secrets were plain


def signature(secret: str, body: bytes) -> str:
    """The `X-Mediation-Signature` value of a body: what a receiver recomputes and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def checked_url(url: str, *, allow_private: bool = False) -> str:
    """A webhook URL the client can send to: http(s), a host that is a valid DNS name (or an
    address), a port in range, no credentials; not an internal address unless allowed."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidFieldError("url", f"{url!r} is not an http:// or https:// URL with a host")
    if len(url) > URL_LENGTH:
        raise InvalidFieldError("url", f"must be at most {URL_LENGTH} characters")
    if CONTROL_CHARACTERS.search(url):
        raise InvalidFieldError("url", "must not contain control characters")
    if parts.username is not None or parts.password is not None:
        raise InvalidFieldError("url", "must not carry a user name or password (it is shown)")
    try:
        parts.port  # noqa: B018 (raises for a port out of range)
        parts.hostname.encode("idna")  # a label over 63 characters, an empty label...
        httpx2.URL(url)
    except (ValueError, UnicodeError, httpx2.InvalidURL) as error:
        raise InvalidFieldError("url", f"{url!r} cannot be sent to: {error}") from None
    refusal = None if allow_private else host_refusal(parts.hostname)
    if refusal is not None:
        raise InvalidFieldError("url", f"{refusal}: webhooks go to public addresses ({ALLOW_HINT})")
    return url


class Webhooks:
    """The webhooks of the centers, and the passes that queue and send their deliveries."""

    def __init__(
        self,
        engine: Engine,
        projections: Projections,
        centers: Centers,
        clock: Clock,
        poster: Poster,
        *,
        allow_private: bool = False,
        sealer: Sealer | None = None,
    ) -> None:
        self.engine = engine
        self.sealer = sealer or Sealer()  # the signing secrets as stored
        self.projections = projections
        self.centers = centers
        self.clock = clock
        self.poster = poster
        self.allow_private = allow_private  # internal addresses (webhook_addresses) at set time
        self._postgres = engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.poster.close()

    # -- configuration -----------------------------------------------------------------------

    def set(self, center: str, url: str) -> str:
        """Set (or change) the center's webhook; returns its new signing secret.

        Notifications from now on are sent; earlier ones are not (the feed has them).
        """
        check_code("center", center)
        url = checked_url(url, allow_private=self.allow_private)
        if self.centers.center(center) is None:
            raise NotFoundError(f"no center {center!r}")
        secret = secrets.token_urlsafe(32)
        row = {
            "center": center,
            "url": url,
            "secret": self.sealer.seal(secret),
            "queued_up_to": self.projections.log.head(),
            "created_at": self.clock.now(),
        }
        with self.engine.begin() as conn:
            current = conn.execute(select(hooks.c.queued_up_to).where(hooks.c.center == center))
            queued = current.scalar_one_or_none()
            if queued is None:
                conn.execute(insert(hooks).values(row))
            else:  # keep the queue's place: what is due still goes, to the new URL
                changed = {"url": url, "secret": row["secret"]}
                conn.execute(update(hooks).where(hooks.c.center == center).values(changed))
        return secret

    def seal_stored_secrets(self) -> int:
        """Seal the signing secrets stored plainly (set before a key was configured), when
        there is a key (see `sealing.seal_stored`); how many."""
        with self.engine.begin() as conn:
            return seal_stored(conn, self.sealer, hooks.c.center, hooks.c.secret)

    def remove(self, center: str) -> None:
        """Remove the center's webhook; what was still to be sent to it is given up."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            removed = conn.execute(delete(hooks).where(hooks.c.center == center)).rowcount
            if not removed:
                raise NotFoundError(f"center {center!r} has no webhook")
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.center == center,
                    deliveries.c.state == DeliveryState.PENDING,
                )
                .values(state=DeliveryState.FAILED, finished_at=now, last_error="webhook removed")
            )

    def describe(self, center: str) -> Webhook:
        with self.engine.connect() as conn:
            url = conn.execute(select(hooks.c.url).where(hooks.c.center == center)).scalar()
            if url is None:
                raise NotFoundError(f"center {center!r} has no webhook")
            counted = conn.execute(
                select(deliveries.c.state, func.count())
                .where(deliveries.c.center == center)
                .group_by(deliveries.c.state)
            )
            counts: dict[str, int] = {row[0]: row[1] for row in counted}
            last_error = conn.execute(
                select(deliveries.c.last_error)
                .where(deliveries.c.center == center, deliveries.c.last_error.is_not(None))
                .order_by(deliveries.c.notification.desc())
                .limit(1)
            ).scalar()
        return Webhook(
            center,
            url,
            counts.get(DeliveryState.PENDING, 0),
            counts.get(DeliveryState.DELIVERED, 0),
            counts.get(DeliveryState.FAILED, 0),
            last_error,
        )

    # -- the passes --------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> list[Attempt]:
        """Queue what is new, then send what is due at `now` (default: the clock's now)."""
        moment = now or self.clock.now()
        self.queue(moment)
        return self.send_due(moment)

    def queue(self, now: datetime) -> int:
        """Copy each hooked center's new notifications into the outbox; how many were copied."""
        with self.engine.connect() as conn:
            places = conn.execute(select(hooks.c.center, hooks.c.queued_up_to)).all()
        return sum(self._queue_center(center, after, now) for center, after in places)

    def _queue_center(self, center: str, after: int, now: datetime) -> int:
        def run(conn: Connection, tables: NotificationTables) -> list[Row[Any]]:
            items = tables.items
            query = (
                select(items)
                .where(items.c.to_center == center, items.c.position > after)
                .order_by(items.c.position)
                .limit(ENQUEUE_LIMIT)
            )
            return list(conn.execute(query))

        found = self.projections.read(NotificationsView.name, run)
        if not found:
            return 0
        rows = [
            {
                "center": center,
                "notification": item.position,
                "body": _body(center, item),
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "finished_at": None,
                "last_error": None,
            }
            for item in found
        ]
        with self.engine.begin() as conn:
            moved = conn.execute(  # only if no other pass moved this center's place meanwhile
                update(hooks)
                .where(hooks.c.center == center, hooks.c.queued_up_to == after)
                .values(queued_up_to=found[-1].position)
            ).rowcount
            if not moved:
                return 0
            upsert = (pg_insert if self._postgres else sqlite_insert)(deliveries)
            conn.execute(upsert.on_conflict_do_nothing(), rows)
        return len(rows)

    def send_due(self, now: datetime, limit: int = SEND_LIMIT) -> list[Attempt]:
        """POST the deliveries due at `now` (at most `limit`), one at a time, each claimed
        just before it is sent; record how each went."""
        attempts = []
        for _ in range(limit):
            row = self._claim_next(now)
            if row is None:
                break
            attempts.append(self._send(row, now))
        return attempts

    def _claim_next(self, now: datetime) -> Row[Any] | None:
        """The earliest delivery due, claimed for CLAIM (its attempt counted); None when none
        is due. One whose senders died MAX_ATTEMPTS times is given up on the way.

        On PostgreSQL the row is locked, one at a time and skipping those others hold, so that
        senders never wait for each other nor see each other's candidates as all there is; on
        SQLite (one writer) a few candidates are tried in turn, each claimed only if no other
        sender claimed it since it was read."""
        d = deliveries
        query = (
            select(
                d.c.center, d.c.notification, d.c.body, d.c.attempts, hooks.c.url, hooks.c.secret
            )
            .join(hooks, hooks.c.center == d.c.center)
            .where(d.c.state == DeliveryState.PENDING, d.c.next_attempt_at <= now)
            .order_by(d.c.next_attempt_at, d.c.notification)
        )
        if self._postgres:
            query = query.limit(1).with_for_update(of=d, skip_locked=True)
        else:
            query = query.limit(CLAIM_CANDIDATES)
        while True:  # each round claims a row, gives one up, or finds none due
            with self.engine.begin() as conn:
                rows = conn.execute(query).all()
                if not rows:
                    return None
                for row in rows:
                    if row.attempts >= MAX_ATTEMPTS:  # claimed each time by a sender that died
                        conn.execute(
                            update(d)
                            .where(_key(row), d.c.attempts == row.attempts)
                            .values(
                                state=DeliveryState.FAILED,
                                finished_at=now,
                                last_error=f"given up after {row.attempts} attempts",
                            )
                        )
                        continue
                    taken = conn.execute(  # unless another sender claimed it since the select
                        update(d)
                        .where(_key(row), d.c.attempts == row.attempts)
                        .values(attempts=row.attempts + 1, next_attempt_at=now + CLAIM)
                    ).rowcount
                    if taken:
                        return row

    def _send(self, row: Row[Any], now: datetime) -> Attempt:
        body = row.body.encode()
        error: str | None = None
        try:  # a secret this key cannot open fails the attempt like any other error
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "mediation-webhook/1",
                "X-Mediation-Delivery": f"{row.center}:{row.notification}",
                "X-Mediation-Signature": signature(self.sealer.open(row.secret), body),
            }
            status = self.poster.post(row.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except Exception as failure:  # whatever it is, this delivery's alone: the rest go on
            error = f"{type(failure).__name__}: {failure}"[:500]
        now = max(now, self.clock.now())  # a retry waits from this attempt, not the pass's start
        attempts = row.attempts + 1
        if error is None:
            values: dict[str, Any] = {"state": DeliveryState.DELIVERED, "finished_at": now}
        elif attempts >= MAX_ATTEMPTS:
            values = {"state": DeliveryState.FAILED, "finished_at": now, "last_error": error}
        else:
            values = {"next_attempt_at": now + _backoff(attempts), "last_error": error}
        if error is not None:
            log.warning(
                "webhook of %s, notification %d, attempt %d: %s",
                row.center,
                row.notification,
                attempts,
                error,
            )
        with self.engine.begin() as conn:  # unless another sender took it over, or the
            conn.execute(  # webhook was removed (the delivery given up) meanwhile
                update(deliveries)
                .where(
                    _key(row),
                    deliveries.c.attempts == attempts,
                    deliveries.c.state == DeliveryState.PENDING,
                )
                .values(values)
            )
        return Attempt(
            row.center, row.notification, values.get("state", DeliveryState.PENDING), error
        )


def _key(row: Row[Any]) -> Any:
    return (deliveries.c.center == row.center) & (deliveries.c.notification == row.notification)


def _backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return timedelta(minutes=BACKOFF[min(attempts, len(BACKOFF)) - 1])


def _body(center: str, item: Row[Any]) -> str:
    return json.dumps(
        {
            "delivery": f"{center}:{item.position}",
            "notification": item.position,
            "kind": item.kind,
            "case_id": str(item.case_id),
            "case_center": item.case_center,
            "to_center": item.to_center,
            "level": item.level,
            "reason": item.reason,
            "actor": item.actor,
            "at": item.at.isoformat(),
        },
        ensure_ascii=False,
    )
