"""One run: start the deployment, drive the load (killing everything with SIGKILL when asked),
let the views catch up, stop, and check the log, the cases and the views."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mediation.bootstrap import Services, build_services
from mediation.settings import Settings
from tests.projections.projection_support import make_org
from tests.reliability.checks import (
    check_cases,
    check_escalations,
    check_log,
    check_views,
    recorded,
)
from tests.reliability.load import Load
from tests.reliability.processes import Deployment
from tests.reliability.tally import Tally

CATCH_UP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Plan:
    seconds: float
    clients: int = 8
    live_cases: int = 8  # open cases kept in play: no more than clients, so they collide
    separate_workers: bool = False  # `projections run` and `rules run` beside `serve`
    api_processes: int = 1  # more than one: they share the database (and need the workers)
    crash_at: tuple[float, ...] = ()  # seconds into the load to kill -9 everything, restart
    snapshot_interval: int = 4  # small: snapshots are written (and interrupted) often
    rules_interval: float = 1.0  # the rules escalate red-risk cases while the clients act
    seed: int = 7

    def env(self) -> dict[str, str]:
        return {
            "MEDIATION_SNAPSHOT_INTERVAL": str(self.snapshot_interval),
            "MEDIATION_RULES_INTERVAL": str(self.rules_interval),
        }


@dataclass
class Report:
    plan: Plan
    tally: Tally
    seconds: float  # the load's duration, downtime included
    events: int  # in the log at the end
    acked_at_crashes: list[int]  # acknowledgements so far, at each kill
    unanswered_recorded: int  # writes whose answer never came, found in the log
    findings: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return len(self.tally.acks)


def run(database_url: str, folder: Path, plan: Plan) -> Report:
    """The whole run on an empty database; the processes' logs go to `folder`."""
    services = build_services(Settings(database_url=database_url))
    try:
        tokens: dict[str, str] = {}
        actors = make_org(services.directory, tokens)
        deployment = Deployment(
            database_url, folder, plan.separate_workers, plan.env(), plan.api_processes
        )
        try:
            deployment.start()
            tally, seconds, acked_at_crashes = _drive(deployment, tokens, plan)
            findings = _wait_caught_up(services)
        finally:
            codes = deployment.stop()
        # The rules keep acting until their process stops: an escalation whose deadline passed
        # between the catch-up and the stop is in the log, but no follower was left to apply it.
        services.projections.catch_up()
        findings += _process_findings(deployment, codes)
        findings += _client_findings(tally, plan)
        findings += check_log(services.cases, tally)
        findings += check_cases(services.cases)
        findings += check_escalations(services.cases)
        findings += check_views(services.projections, services.cases, actors, datetime.now(UTC))
        events, found = recorded(services.cases, tally)
        return Report(plan, tally, seconds, events, acked_at_crashes, found, findings)
    finally:
        services.close()


def _drive(
    deployment: Deployment, tokens: dict[str, str], plan: Plan
) -> tuple[Tally, float, list[int]]:
    load = Load(deployment.urls, tokens, plan.clients, plan.live_cases, plan.seed)
    acked_at_crashes = []
    began = time.monotonic()
    load.start()
    try:
        for moment in plan.crash_at:
            time.sleep(max(began + moment - time.monotonic(), 0))
            deployment.crash()
            acked_at_crashes.append(load.acknowledged())
            deployment.start()
        time.sleep(max(began + plan.seconds - time.monotonic(), 0))
    finally:
        tally = load.stop()
    return tally, time.monotonic() - began, acked_at_crashes


def _wait_caught_up(services: Services) -> list[str]:
    """Let the deployment's own follower (in `serve`, or the worker) bring every view to the head."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    while time.monotonic() < deadline:
        behind = [s for s in services.projections.status() if s.lag > 0]
        if not behind:
            return []
        time.sleep(0.1)
    return [f"views still behind after {CATCH_UP_TIMEOUT:.0f} s: {behind}"]


def _process_findings(deployment: Deployment, codes: list[int]) -> list[str]:
    # uvicorn re-raises SIGTERM once it has shut down: -15 is a clean stop too.
    clean = (0, -signal.SIGTERM)
    findings = [f"a process exited with {code} on SIGTERM" for code in codes if code not in clean]
    findings += [f"{ended.name} exited with {ended.code} on its own" for ended in deployment.exits]
    for path, text in deployment.logs().items():
        if "Traceback" in text:
            findings.append(f"{path.name} logged an exception:\n{text[-3000:]}")
    return findings


def _client_findings(tally: Tally, plan: Plan) -> list[str]:
    findings = [f"unexpected answer: {surprise[:500]}" for surprise in tally.surprises]
    if not plan.crash_at and (tally.broken_connections or tally.refused_connections):
        findings.append(
            f"requests failed with no crash: {tally.broken_connections} unanswered, "
            f"{tally.refused_connections} refused"
        )
    if not tally.acks:
        findings.append("no action was acknowledged")
    return findings
