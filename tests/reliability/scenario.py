"""One run: start the deployment, drive the load (killing everything now and then when asked),
let the views catch up, stop, and check the log, the cases and the views."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mediation.bootstrap import Services, build_services
from mediation.settings import Settings
from tests.projections.projection_support import make_org
from tests.reliability.checks import check_cases, check_log, check_views
from tests.reliability.clients import Load, Tally
from tests.reliability.processes import Deployment

CATCH_UP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Plan:
    seconds: float
    clients: int = 8
    live_cases: int = 8  # open cases kept in play: fewer than clients, so they collide
    separate_worker: bool = False  # `projections run` beside `serve`, not inside it
    crash_at: tuple[float, ...] = ()  # seconds into the load to kill -9 everything, restart
    seed: int = 7


@dataclass
class Report:
    plan: Plan
    tally: Tally
    seconds: float  # the load's duration, downtime included
    events: int  # in the log at the end
    findings: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return len(self.tally.acks)

    @property
    def conflicts(self) -> int:
        return self.tally.writes[409] + self.tally.writes[412]


def run(database_url: str, folder: Path, plan: Plan) -> Report:
    """The whole run on an empty database; the processes' logs go to `folder`."""
    services = build_services(Settings(database_url=database_url))
    try:
        tokens: dict[str, str] = {}
        actors = make_org(services.directory, tokens)
        deployment = Deployment(database_url, folder, plan.separate_worker)
        deployment.start()
        try:
            tally, seconds = _drive(deployment, tokens, plan)
            findings = _wait_caught_up(services)
        finally:
            codes = deployment.stop()
        findings += _process_findings(deployment, codes)
        findings += _client_findings(tally, plan)
        findings += check_log(services.cases, tally)
        findings += check_cases(services.cases)
        findings += check_views(services.projections, services.cases, actors, datetime.now(UTC))
        return Report(plan, tally, seconds, services.projections.log.head(), findings)
    finally:
        services.close()


def _drive(deployment: Deployment, tokens: dict[str, str], plan: Plan) -> tuple[Tally, float]:
    load = Load(deployment.url, tokens, plan.clients, plan.live_cases, plan.seed)
    began = time.monotonic()
    load.start()
    try:
        for moment in plan.crash_at:
            time.sleep(max(began + moment - time.monotonic(), 0))
            deployment.crash()
            deployment.start()
        time.sleep(max(began + plan.seconds - time.monotonic(), 0))
    finally:
        tally = load.stop()
    return tally, time.monotonic() - began


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
    findings = [f"a process exited with {code} on SIGTERM" for code in codes if code != 0]
    for name, text in deployment.logs().items():
        if "Traceback" in text:
            findings.append(f"{name} logged an exception:\n{text[-3000:]}")
    return findings


def _client_findings(tally: Tally, plan: Plan) -> list[str]:
    findings = [f"unexpected answer: {surprise[:500]}" for surprise in tally.surprises]
    if not plan.crash_at and (tally.unanswered or tally.broken_connections):
        findings.append(
            f"{tally.broken_connections} requests got no answer with no crash "
            f"({len(tally.unanswered)} writes)"
        )
    if not tally.acks:
        findings.append("no action was acknowledged")
    return findings
