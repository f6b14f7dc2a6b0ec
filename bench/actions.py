"""The action mix over HTTP (one or several `mediation serve`), directly, and as plain CRUD."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from bench.crud import CrudTarget
from bench.databases import fresh_database
from bench.harness import Harness
from bench.load import LoadOutcome, drive
from bench.records import ActionRun, summarize
from bench.server import serving
from bench.sizes import Size
from bench.targets import DirectTarget, HttpTarget, add_staff
from mediation.bootstrap import background_workers, build_services
from mediation.settings import Settings
from mediation.store import Database

MODES = ("http", "direct", "crud")


def measure_actions(backend: str, harness: Harness, modes: set[str]) -> list[ActionRun]:
    """Every wanted mode at every concurrency level, each in a fresh database."""
    size = harness.size
    plans: list[tuple[str, int, int]] = []
    for clients in size.clients:
        plans += [(mode, clients, 1 if mode == "http" else 0) for mode in MODES if mode in modes]
        if "http" in modes and backend == "postgres" and size.api_processes > 1 and clients > 1:
            plans.append(("http", clients, size.api_processes))
    runs = []
    for mode, clients, processes in plans:
        label = f"{backend} {mode}{f' ×{processes}' if processes > 1 else ''}, {clients} clients"
        background = harness.quiet.settle()
        harness.say(f"{label} ...{_others(background)}")
        with fresh_database(backend, harness.folder) as url:
            run = MEASURES[mode](backend, url, clients, processes, size)
        runs.append(dataclasses.replace(run, background=background))
        harness.say(f"  {_describe(run)}")
    return runs


def _direct(backend: str, url: str, clients: int, _processes: int, size: Size) -> ActionRun:
    services = build_services(Settings(database_url=url))
    try:
        add_staff(services, clients)
        with background_workers(services):
            outcome = drive(DirectTarget(services), clients, size.seconds, size.max_cases)
    finally:
        services.close()
    return _run(backend, "direct", clients, 0, outcome, None)


def _http(backend: str, url: str, clients: int, processes: int, size: Size) -> ActionRun:
    services = build_services(Settings(database_url=url))  # creates the tables, adds the staff
    try:
        tokens = add_staff(services, clients)
    finally:
        services.close()
    with serving(url, processes) as deployment:
        target = HttpTarget(deployment.urls, tokens)
        used: list[float] = []

        def server_cpu() -> None:
            used.append(deployment.cpu_seconds())

        outcome = drive(target, clients, size.seconds, size.max_cases, server_cpu, server_cpu)
    return _run(backend, "http", clients, processes, outcome, used[1] - used[0])


def _crud(backend: str, url: str, clients: int, _processes: int, size: Size) -> ActionRun:
    engine = Database(url).create_engine()
    try:
        outcome = drive(CrudTarget(engine), clients, size.seconds, size.max_cases)
    finally:
        engine.dispose()
    return _run(backend, "crud", clients, 0, outcome, None)


MEASURES: dict[str, Callable[[str, str, int, int, Size], ActionRun]] = {
    "http": _http,
    "direct": _direct,
    "crud": _crud,
}


def _run(
    backend: str,
    mode: str,
    clients: int,
    processes: int,
    outcome: LoadOutcome,
    server_cpu: float | None,
) -> ActionRun:
    requests = max(len(outcome.samples_ms), 1)
    return ActionRun(
        backend=backend,
        mode=mode,
        clients=clients,
        processes=processes,
        requests=len(outcome.samples_ms),
        seconds=outcome.seconds,
        errors=outcome.errors,
        latency=summarize(outcome.samples_ms),
        client_cpu_ms=outcome.cpu_seconds / requests * 1000,
        server_cpu_ms=None if server_cpu is None else server_cpu / requests * 1000,
        first_error=outcome.first_error,
    )


def _describe(run: ActionRun) -> str:
    text = (
        f"{run.throughput:,.0f} req/s, p50 {run.latency.p50:.1f} ms, "
        f"p99 {run.latency.p99:.1f} ms ({run.requests:,} requests)"
    )
    if run.errors:
        text += f" [red]{run.errors} errors, first: {run.first_error}[/red]"
    return text


def _others(background: float) -> str:
    return "" if math.isnan(background) else f" (other work: {background:.0%} of the cores)"
