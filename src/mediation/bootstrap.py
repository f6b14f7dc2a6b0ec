"""The composition root: builds the real (or given fake) collaborators from one Settings object."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from eventsourcing.persistence import StoredEvent
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from mediation.accounts import Directory
from mediation.application import CaseApplication
from mediation.calendars import BUILT_IN as CALENDAR
from mediation.calendars import load_calendar
from mediation.domain import VOCABULARY
from mediation.domain.calendar import WorkingCalendar
from mediation.domain.ports import Clock, SystemClock
from mediation.projections.service import Projections
from mediation.projections.standard import build_projections
from mediation.projections.view import View
from mediation.rules import RulesEngine
from mediation.rules.index import DeadlineIndex, DeadlineIndexView
from mediation.rules.notifications import NotificationsView, create_reads_table
from mediation.rules.webhooks import DEADLINE, HttpPoster, Webhooks, create_webhook_tables
from mediation.sealing import SealedSecretError, Sealer
from mediation.settings import Settings
from mediation.store import Database
from mediation.store_lock import StoreHold, hold_store
from mediation.workflows import WorkflowRegistry

log = logging.getLogger("mediation")


@dataclass
class Services:
    """Everything one process needs, built once at start-up."""

    settings: Settings
    database: Database
    engine: Engine
    directory: Directory
    workflows: WorkflowRegistry
    cases: CaseApplication
    clock: Clock
    projections: Projections
    rules: RulesEngine
    webhooks: Webhooks
    held: StoreHold  # this process's part in the store's lock (store_lock)

    def session_secret(self) -> str:
        """MEDIATION_SESSION_SECRET, or else the one this installation made and keeps."""
        configured = self.settings.session_secret
        if configured is not None:
            return configured.get_secret_value()
        return self.directory.instance_secret("session_secret")

    def close(self) -> None:
        self.projections.stop()
        self.webhooks.close()
        self.cases.close()
        self.engine.dispose()
        self.held.release()


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    """Load and validate the workflows, open the stores, create missing tables."""
    database = Database(settings.database_url)
    held = hold_store(database)  # `mediation restore` refuses while it is held; close() lets go
    try:
        return _open_services(settings, clock or SystemClock(), database, held)
    except BaseException:
        held.release()
        raise


def _open_services(
    settings: Settings, clock: Clock, database: Database, held: StoreHold
) -> Services:
    workflows = WorkflowRegistry.load(VOCABULARY, settings.workflows_dir)
    calendar = load_calendar(settings.holidays_file or CALENDAR)
    engine = database.create_engine()
    sealer = Sealer(None if settings.cipher_key is None else settings.cipher_key.get_secret_value())
    directory = Directory(engine, sealer=sealer)
    with setup_lock(engine):  # processes starting together create the tables one at a time
        create_accounts(database, directory)
        cases = CaseApplication(
            env=store_env(settings, database),
            workflows=workflows,
            directory=directory,
            clock=clock,
            snapshot_interval=settings.snapshot_interval,
            calendar=calendar,
        )
        check_store_readable(cases)
        _opened(directory.seal_instance_secrets)
        party_salt = _opened(lambda: _party_salt(settings, directory))
        projections = build_projections(
            engine,
            cases,
            workflows,
            party_salt=party_salt.encode(),
            zone=calendar.zone,
            extra_views=rules_views(workflows, calendar),
        )
        tolerate_concurrent_setup(projections.create_schema)
        tolerate_concurrent_setup(lambda: _create_tables(engine))
        allow_private = settings.webhooks_allow_private
        poster = HttpPoster(allow_private=allow_private)
        webhooks = Webhooks(
            engine,
            projections,
            directory,
            clock,
            poster,
            allow_private=allow_private,
            sealer=sealer,
        )
        _opened(webhooks.seal_stored_secrets)
    rules = RulesEngine(cases, DeadlineIndex(projections), clock)
    return Services(
        settings,
        database,
        engine,
        directory,
        workflows,
        cases,
        clock,
        projections,
        rules,
        webhooks,
        held,
    )


T = TypeVar("T")


def _opened(step: Callable[[], T]) -> T:
    """A start-up step with stored secrets: one sealed that the key cannot open stops the
    start as a store the key cannot read does."""
    try:
        return step()
    except SealedSecretError as error:
        raise StoreKeyError(str(error)) from None


def _party_salt(settings: Settings, directory: Directory) -> str:
    configured = settings.party_hash_salt
    if configured is not None:
        return configured.get_secret_value()
    return directory.instance_secret("party_hash_salt")


SETUP_ATTEMPTS = 5
WEBHOOKS_JOIN_SECONDS = DEADLINE + 5  # at a stop, the POST under way may end first
SETUP_LOCK = 72_026_0302  # any constant: the PostgreSQL advisory lock for start-up set-up


@contextmanager
def setup_lock(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock while creating tables; SQLite retries instead."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK})
            conn.commit()


def tolerate_concurrent_setup(setup: Callable[[], None]) -> None:
    """Create what is missing; another process creating the same tables at once is no error.

    Creating tables checks, then creates: two processes starting together on an empty database
    can both decide to create, and the second fails with "already exists". Trying again finds
    the tables there.
    """
    for attempt in range(1, SETUP_ATTEMPTS + 1):
        try:
            setup()
            return
        except DBAPIError:
            if attempt == SETUP_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)


def create_accounts(database: Database, directory: Directory) -> None:
    """The database's schema (PostgreSQL `?schema=`) and the accounts' tables, where missing;
    inside `setup_lock`, so that processes starting together do it one at a time."""
    tolerate_concurrent_setup(database.create_schema)
    tolerate_concurrent_setup(directory.create_schema)


def _create_tables(engine: Engine) -> None:
    """The tables outside the views' generations: read marks, webhooks and their outbox."""
    with engine.begin() as conn:
        create_reads_table(conn)
        create_webhook_tables(conn)


Pass = tuple[str, Callable[[], object]]


def run_rules_forever(
    services: Services, stop: threading.Event, interval: float, own_deadlines: bool = False
) -> None:
    """Every `interval` seconds until `stop`: escalate what is due; and in a thread of its
    own, send the webhooks, so that slow receivers (up to `webhooks.DEADLINE` a POST) never
    hold up an escalation.

    `own_deadlines`: first bring the deadlines view up to the log, for a worker that cannot
    count on a follower in its process (`mediation rules run`).
    A failing pass is logged and tried again next time: the worker must not die quietly.
    """
    rules: list[Pass] = [("rules", services.rules.run_once)]
    if own_deadlines:
        rules.insert(0, ("deadlines", lambda: services.projections.catch_up(["deadlines"])))
    webhooks = threading.Thread(
        target=_every,
        args=(stop, interval, [("webhooks", services.webhooks.run_once)]),
        name="webhooks",
        daemon=True,
    )
    webhooks.start()
    try:
        _every(stop, interval, rules)
    finally:
        webhooks.join(WEBHOOKS_JOIN_SECONDS)


def _every(stop: threading.Event, interval: float, passes: Sequence[Pass]) -> None:
    while not stop.is_set():
        for name, run_once in passes:
            try:
                run_once()
            except Exception:
                log.exception("%s pass failed", name)
        stop.wait(interval)


class StoreKeyError(Exception):
    """The stored events cannot be read with the configured key (or lack of one)."""


def store_env(settings: Settings, database: Database) -> dict[str, str]:
    return database.eventsourcing_env() | _cipher_env(settings)


def _cipher_env(settings: Settings) -> dict[str, str]:
    if settings.cipher_key is None:
        return {}
    return {
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": settings.cipher_key.get_secret_value(),
    }


# Stored events tried at the log's start and at its end when checking the key: one damaged
# event must not pass for a wrong key (and stop every command, `audit verify` included).
KEY_SAMPLE = 5
KEY_REFUSAL = (
    "the stored events cannot be read with this configuration: MEDIATION_CIPHER_KEY is wrong, "
    "or missing for an encrypted store, or set for an unencrypted one"
)


def check_store_readable(cases: CaseApplication) -> None:
    """Refuse to start when none of the first and last stored events decodes: a wrong or
    missing key. (One that does not while others do was altered: `audit verify` names it.)"""
    head = cases.recorder.max_notification_id() or 0
    sample = [
        *cases.recorder.select_notifications(start=1, limit=KEY_SAMPLE),
        *cases.recorder.select_notifications(start=max(1, head - KEY_SAMPLE + 1), limit=KEY_SAMPLE),
    ]
    if sample and not _any_decodes(cases, sample):
        raise StoreKeyError(KEY_REFUSAL)


def check_backup_readable(settings: Settings, events: Sequence[StoredEvent]) -> None:
    """Refuse a backup none of whose sample `events` this configuration can read, before it
    replaces anything (the key is wrong, or missing, or set for an unencrypted store)."""
    if not events:
        return
    env = {"PERSISTENCE_MODULE": "eventsourcing.popo"} | _cipher_env(settings)
    workflows = WorkflowRegistry.load(VOCABULARY, settings.workflows_dir)
    reader = CaseApplication(env, workflows, Directory(create_engine("sqlite://")))
    if not _any_decodes(reader, events):
        raise StoreKeyError(f"the backup cannot be restored: {KEY_REFUSAL}")


def _any_decodes(cases: CaseApplication, events: Iterable[StoredEvent]) -> bool:
    for event in events:
        try:
            cases.mapper.to_domain_event(event)
        except Exception:  # whatever the cipher or the decoder raises: try the next
            continue
        return True
    return False


def configure_logging(settings: Settings) -> None:
    """The service's own log lines (`mediation.*`: refusals, the rules, the views' follower)
    at MEDIATION_LOG_LEVEL, with their time, level and source; uvicorn logs its own."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("mediation").setLevel(settings.log_level)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the HTTP API with uvicorn until interrupted."""
    import uvicorn

    from mediation.api.app import create_app

    configure_logging(settings)
    services = build_services(settings)
    # Without them, separate `projections run` and `rules run` workers do this work.
    workers = background_workers(services) if settings.background_workers else nullcontext()
    try:
        with workers:
            settle_heap()
            uvicorn.run(
                create_app(services),
                host=host,
                port=port,
                log_level=settings.log_level.lower(),
                proxy_headers=True,
                forwarded_allow_ips=settings.trusted_proxies,
            )
    finally:
        services.close()


@contextmanager
def background_workers(services: Services) -> Iterator[None]:
    """What `mediation serve` runs beside the requests: the views' follower, and a thread for
    the rules and the webhooks."""
    stop = threading.Event()
    services.projections.start()
    rules = threading.Thread(
        target=run_rules_forever,
        args=(services, stop, services.settings.rules_interval),
        name="rules",
        daemon=True,
    )
    rules.start()
    try:
        yield
    finally:
        stop.set()
        services.projections.stop()
        rules.join(10)


@contextmanager
def configured_projections(settings: Settings) -> Iterator[Projections]:
    """The views of a process started for them alone (the `projections` commands and their
    worker processes), closed at the end."""
    services = build_services(settings)
    settle_heap()
    try:
        yield services.projections
    finally:
        services.close()


def rules_views(workflows: WorkflowRegistry, calendar: WorkingCalendar) -> list[View[Any]]:
    """The escalation rules' views, beside the case views: their index of what falls due when,
    and the supervisors' notifications."""
    return [DeadlineIndexView(workflows, calendar), NotificationsView()]


def settle_heap() -> None:
    """Move the objects made at start-up out of the collector's generations, once started.

    This stack's heap makes a full collection take 30-60 ms on a 2-core machine: frozen, it
    is not walked again, so requests see fewer slow outliers and a rebuild runs about a tenth
    faster (bench/results-projections.md).
    """
    gc.collect()
    gc.freeze()
