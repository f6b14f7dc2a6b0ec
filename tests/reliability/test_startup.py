"""The API and its workers, started at the same moment on an empty database (as a service
manager or `docker compose up` starts them), all come up: the first creates the tables, the
others find them."""

from __future__ import annotations

import threading

from mediation.bootstrap import build_services
from mediation.settings import Settings
from mediation.store import Database

PROCESSES = 8


def start_at_once(url: str, count: int) -> list[str]:
    """Build the services `count` times at once (each with its own engines and pools, as
    separate processes would); what each start-up that failed raised."""
    barrier = threading.Barrier(count)
    failures: list[str] = []

    def start() -> None:
        barrier.wait()
        try:
            build_services(Settings(database_url=url)).close()
        except Exception as error:  # a start-up that failed, whatever it raised
            failures.append(f"{type(error).__name__}: {str(error).splitlines()[0]}")

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def test_the_api_and_its_workers_started_at_once_on_an_empty_database_all_come_up(
    database: Database,
) -> None:
    assert start_at_once(database.url, PROCESSES) == []


def test_the_api_and_its_workers_restarted_at_once_all_come_up(database: Database) -> None:
    # The tables exist: what remains is the event store's own set-up, which on PostgreSQL
    # replaces its functions on every start ("tuple concurrently updated" when two do at once).
    build_services(Settings(database_url=database.url)).close()

    assert start_at_once(database.url, PROCESSES) == []
