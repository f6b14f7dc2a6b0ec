"""Rebuilding views in worker processes, a group of views each (`--jobs`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest
from typer.testing import CliRunner

from mediation.bootstrap import Services, configured_projections
from mediation.projections import Projections
from mediation.projections.cli import projections_app
from mediation.projections.parallel import RebuildFailedError, groups, rebuild_in_processes
from tests.projections.projection_support import Desk, check_views_equal_fold
from tests.projections.test_projection_rebuild import populate

VIEWS = ["queue", "audit", "stats"]


def test_views_are_grouped_by_their_cost_the_statistics_alone() -> None:
    assert groups(VIEWS, 2) == [["stats"], ["queue", "audit"]]
    assert groups(VIEWS, 1) == [VIEWS]
    assert groups(VIEWS, 8) == [["stats"], ["queue"], ["audit"]]
    assert groups([*VIEWS, "deadlines", "notifications"], 2) == [
        ["stats", "deadlines"],
        ["queue", "audit", "notifications"],
    ]


def test_views_rebuilt_by_two_processes_equal_the_fold(services: Services, desk: Desk) -> None:
    populate(desk)
    projections = services.projections
    projections.catch_up()
    seen: list[tuple[int, int]] = []
    factory = partial(configured_projections, services.settings)

    generations = rebuild_in_processes(
        projections, factory, VIEWS, 2, lambda p, h: seen.append((p, h))
    )

    assert generations == {"queue": 2, "audit": 2, "stats": 2}
    assert {s.name: s.generation for s in projections.status()} == {
        "queue": 2,
        "audit": 2,
        "stats": 2,
        "deadlines": 1,
        "notifications": 1,
    }
    check_views_equal_fold(projections, desk, services.clock.now())
    assert seen
    assert seen[-1][0] == seen[-1][1]  # progress ends at the head of the log


@contextmanager
def no_store() -> Iterator[Projections]:
    """A worker's factory that fails, as one would on a database it cannot open."""
    raise RuntimeError("the store is unreachable")
    yield  # pragma: no cover - never reached


def test_a_worker_that_fails_is_reported_and_the_views_stay_as_they_were(
    services: Services, desk: Desk
) -> None:
    populate(desk)
    projections = services.projections

    with pytest.raises(RebuildFailedError) as failure:
        rebuild_in_processes(projections, no_store, VIEWS, 2)

    assert "stats: RuntimeError: the store is unreachable" in str(failure.value)
    assert "queue, audit: RuntimeError" in str(failure.value)
    assert all(status.generation == 1 for status in projections.status())


def test_the_rebuild_command_runs_its_jobs_in_processes(
    services: Services, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIATION_DATABASE_URL", services.database.url)
    populate(desk)

    result = CliRunner().invoke(projections_app, ["rebuild", "queue", "stats", "--jobs", "2"])

    assert result.exit_code == 0, result.output
    assert "rebuilt queue: generation 2" in result.output
    assert "rebuilt stats: generation 2" in result.output
    assert {s.name: s.generation for s in services.projections.status()}["audit"] == 1
    services.projections.catch_up()
    check_views_equal_fold(services.projections, desk, services.clock.now())
