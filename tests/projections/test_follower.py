"""The follower keeps retrying a failing catch-up, and its log stays readable meanwhile."""

from __future__ import annotations

import logging
import threading

import pytest

from mediation.projections.runner import REPEAT_EVERY, Follower


class Scripted:
    """A catch-up that fails as its script says (an exception, or None: it succeeds), then
    succeeds each time."""

    def __init__(self, script: list[Exception | None]) -> None:
        self.script = list(script)
        self.done = threading.Event()

    def __call__(self) -> None:
        if not self.script:
            self.done.set()
            return
        outcome = self.script.pop(0)
        if outcome is not None:
            raise outcome


def follow(script: list[Exception | None], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Run the follower over the script; what it logged, a line per record (with 'TRACEBACK'
    where the record carries one)."""
    catch_up = Scripted(script)
    follower = Follower(catch_up, poll_interval=0.001, max_backoff=0.001)
    with caplog.at_level(logging.INFO, logger="mediation.projections"):
        follower.start()
        assert catch_up.done.wait(timeout=30)
        follower.stop()
    return [
        record.getMessage() + (" TRACEBACK" if record.exc_info else "")
        for record in caplog.records
        if record.name == "mediation.projections"
    ]


def test_a_failure_that_repeats_is_logged_with_its_traceback_once_then_in_a_line_now_and_then(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = [RuntimeError("no such table: queue_cases_g1")] * 9

    lines = follow([*broken, None], caplog)

    assert lines == [
        "projections: catching up failed (1 in a row) TRACEBACK",
        "projections: catching up still fails (2 in a row), as above: RuntimeError: "
        "no such table: queue_cases_g1",
        "projections: catching up still fails (4 in a row), as above: RuntimeError: "
        "no such table: queue_cases_g1",
        "projections: catching up still fails (8 in a row), as above: RuntimeError: "
        "no such table: queue_cases_g1",
        "projections: caught up again after 9 failures in a row",
    ]


def test_a_different_failure_is_logged_with_its_own_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script: list[Exception | None] = [RuntimeError("first"), ValueError("second"), None]

    lines = follow([*script, RuntimeError("after"), None], caplog)

    assert lines == [
        "projections: catching up failed (1 in a row) TRACEBACK",
        "projections: catching up failed (2 in a row) TRACEBACK",
        "projections: caught up again after 2 failures in a row",
        "projections: catching up failed (1 in a row) TRACEBACK",  # a new run of failures
        "projections: caught up again after 1 failures in a row",
    ]


def test_a_long_run_of_one_failure_is_repeated_every_so_many(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lines = follow([OSError("disk full")] * (2 * REPEAT_EVERY) + [None], caplog)

    repeated = [int(line.split("(")[1].split(" ")[0]) for line in lines if "still fails" in line]
    powers = [2**k for k in range(1, 8) if 2**k < REPEAT_EVERY]
    assert repeated == [*powers, REPEAT_EVERY, 2 * REPEAT_EVERY]
    assert sum("TRACEBACK" in line for line in lines) == 1
