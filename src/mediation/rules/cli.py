"""`mediation rules run | run-once | simulate`: the escalation rules as an operator runs them."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from mediation.domain import VOCABULARY
from mediation.workflows import DefinitionError, Workflow, load_definition

rules_app = typer.Typer(
    help="Automated escalation: deadlines, red risk and supervision instructions.",
    no_args_is_help=True,
)

if TYPE_CHECKING:  # the composition root is imported only when a command runs
    from mediation.bootstrap import Services


@contextmanager
def _services() -> Iterator[Services]:
    from mediation.bootstrap import build_services, settle_heap  # the composition root
    from mediation.cli import _settings
    from mediation.settings_cli import started_or_exit

    with started_or_exit():
        services = build_services(_settings())
    settle_heap()
    try:
        yield services
    finally:
        services.close()


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "must be an ISO 8601 time, e.g. 2026-03-02T09:00:00+08:00", param_hint=option
        ) from None
    if moment.tzinfo is None:
        raise typer.BadParameter(
            "must carry a time zone offset, e.g. +08:00 or Z", param_hint=option
        )
    return moment


@rules_app.command("run-once")
def run_once(
    now: Annotated[
        str | None, typer.Option(help="Evaluate as if it were this ISO 8601 time")
    ] = None,
) -> None:
    """Bring the rules' index up to date, escalate what is due once, send the webhooks due, exit.

    `--now` evaluates as of an earlier moment, never a later one: each escalation is recorded
    for good in the case's history, and one for a deadline that has not passed yet would be a
    false record."""
    moment = _moment(now, "--now")
    with _services() as services:
        if moment is not None and moment > services.clock.now():
            raise typer.BadParameter(
                "must not be later than now: an escalation is a lasting record in the case's "
                "history (`mediation rules simulate` shows what is to come)",
                param_hint="--now",
            )
        services.projections.catch_up(["deadlines"])
        done = services.rules.run_once(moment)
        services.projections.catch_up(["notifications"])
        sent = services.webhooks.run_once(moment)
    for escalation in done:
        typer.echo(f"{escalation.case_id}: {escalation.breach} -> {escalation.to_center}")
    typer.echo(f"{len(done)} escalation(s)", err=True)
    if sent:
        failed = sum(attempt.error is not None for attempt in sent)
        typer.echo(f"{len(sent)} webhook delivery attempt(s), {failed} failed", err=True)


@rules_app.command("run")
def run(
    interval: Annotated[
        float | None,
        typer.Option(
            min=1.0, help="Seconds between passes (default: MEDIATION_RULES_INTERVAL, or 30)"
        ),
    ] = None,
) -> None:
    """Evaluate the rules and send the webhooks every INTERVAL seconds until stopped (for
    multi-process deployments); a failing pass is logged and tried again next time."""
    stop = threading.Event()

    def _stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    from mediation.bootstrap import configure_logging, run_rules_forever  # the composition root

    with _services() as services:
        configure_logging(services.settings)
        every = interval if interval is not None else services.settings.rules_interval
        run_rules_forever(services, stop, every, own_deadlines=True)


@rules_app.command("simulate")
def simulate_command(
    definition: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="A changed definition file")
    ],
    start: Annotated[
        str | None, typer.Option("--from", help="Only cases registered from then (ISO 8601)")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Only cases registered until then; evaluate up to then"),
    ] = None,
) -> None:
    """Replay the recorded history under a changed definition; report who would escalate differently."""
    from mediation.rules.simulate import simulate

    try:
        candidate = Workflow(load_definition(definition, VOCABULARY))
    except DefinitionError as error:
        typer.echo(f"error: broken workflow definition: {error}", err=True)
        raise typer.Exit(2) from None
    registered_from, registered_to = _moment(start, "--from"), _moment(end, "--to")
    with _services() as services:
        until = registered_to or services.clock.now()
        count = 0
        for difference in simulate(
            services.cases, candidate, until, registered_from, registered_to
        ):
            typer.echo(difference.describe(candidate.key))
            count += 1
    typer.echo(f"{count} difference(s); nothing was written", err=True)
