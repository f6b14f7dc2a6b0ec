"""`mediation projections status | rebuild [NAME...] [--jobs N] | run`: operate the views of the
event log."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from types import FrameType
from typing import Annotated

import typer

from mediation.domain.errors import MediationError
from mediation.projections.parallel import (
    interrupted_by_sigterm,
    prepare_workers,
    rebuild_in_processes,
)
from mediation.projections.service import Projections
from mediation.projections.standard import VIEW_NAMES
from mediation.settings import Settings

# Once every event is read, the rows still held, the indexes only queries need and the switch
# follow: about 9 s at 1,000,000 events on SQLite, and more as the log grows.
FINISHING = "every event read; writing the last rows, building indexes, switching"
# Times a rebuild for the pace it reports (tests put a fake clock here).
pace_clock: Callable[[], float] = time.perf_counter

projections_app = typer.Typer(
    help="The views built from the event log (queue, audit trail, statistics...).",
    no_args_is_help=True,
)


@contextmanager
def _projections(settings: Settings | None = None) -> Iterator[Projections]:
    """The configured services' views; their errors become messages and exit codes."""
    from mediation.bootstrap import configured_projections  # the composition root
    from mediation.settings_cli import settings_or_exit, started_or_exit

    try:
        with started_or_exit(), configured_projections(settings or settings_or_exit()) as views:
            yield views
    except MediationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@projections_app.command("status")
def status() -> None:
    """Each view's generation, position, the log's head and how far behind the view is."""
    with _projections() as projections:
        rows = projections.status()
    typer.echo("view\tgeneration\tposition\thead\tlag\trebuilding")
    for row in rows:
        rebuilding = "-" if row.rebuilding is None else f"at {row.rebuilding}"
        typer.echo(
            f"{row.name}\t{row.generation}\t{row.position}\t{row.head}\t{row.lag}\t{rebuilding}"
        )


@projections_app.command("rebuild")
def rebuild(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help=f"Views ({', '.join(VIEW_NAMES)}...); default: all", show_default=False
        ),
    ] = None,
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Processes to rebuild in (default: one pass over the log for all), each "
            "applying part of the cases to every view named. Faster with spare cores; the "
            "service's requests share them meanwhile.",
        ),
    ] = 1,
) -> None:
    """Rebuild views from the whole log into new tables; the old ones answer until the switch."""
    from mediation.bootstrap import configured_projections
    from mediation.settings_cli import settings_or_exit

    settings = settings_or_exit()
    factory = partial(configured_projections, settings)
    if jobs > 1:
        prepare_workers(factory)  # their fork server starts while this process opens the store
    with interrupted_by_sigterm(), _projections(settings) as projections:
        unknown = [name for name in names or () if name not in projections.views]
        if unknown:
            known = ", ".join(projections.views)
            typer.echo(f"error: no view {unknown[0]!r}; views: {known}", err=True)
            raise typer.Exit(2)
        names = list(dict.fromkeys(names)) if names else list(projections.views)
        events = projections.log.head()
        head = max(events, 1)
        with typer.progressbar(length=head, label=f"rebuilding {', '.join(names)}") as bar:
            done = 0

            def advance(position: int, _head: int) -> None:
                nonlocal done
                step = min(position, head) - done
                if step > 0:
                    bar.update(step)
                    done += step
                    if done == head:  # the bar stands full while the rebuild finishes
                        bar.label = FINISHING
                        bar.render_progress()  # without a terminal: the label as a line

            stages: list[tuple[str, float]] = []
            began = pace_clock()
            generations = rebuild_in_processes(
                projections, factory, names, jobs, advance, lambda *stage: stages.append(stage)
            )
            took = pace_clock() - began
            bar.update(head - done)
    for view, generation in generations.items():
        typer.echo(f"rebuilt {view}: generation {generation}")
    typer.echo(rebuilt_summary(len(generations), events, took))
    if stages:
        typer.echo(f"stages: {stages_summary(stages)}")


def rebuilt_summary(views: int, events: int, seconds: float) -> str:
    """The rebuild's pace, for the operator to compare with earlier ones and the bench's."""
    rate = events / seconds if seconds > 0 else 0.0
    named = "1 view" if views == 1 else f"{views} views"
    return f"{named} rebuilt from {events:,} events in {seconds:.1f} s ({rate:,.0f} events/s)"


def stages_summary(stages: Iterable[tuple[str, float]]) -> str:
    """Where a rebuild's time went, stage by stage (see `rebuild.rebuild`); the bench's report
    shows its runs' stages so too."""
    return ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stages)


@projections_app.command("run")
def run(
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between looks at the log when idle")
    ] = 0.5,
) -> None:
    """Keep the views up to date until interrupted; a second worker is safe but idle."""
    from mediation.bootstrap import configure_logging  # the composition root
    from mediation.settings_cli import settings_or_exit

    settings = settings_or_exit()
    configure_logging(settings)  # a failing batch is logged: the worker keeps going
    with _projections(settings) as projections:
        projections.follower.poll_interval = poll_interval

        def stop(_signal: int, _frame: FrameType | None) -> None:
            projections.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        typer.echo(f"following the log from {projections.log.head()} (Ctrl-C to stop)")
        projections.run_forever()
    typer.echo("stopped")
