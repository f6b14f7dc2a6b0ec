"""A worker for `test_a_worker_stops_once_the_rebuilding_process_is_gone` (imported by the fork
server's children, so it lives in a module of its own)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from pathlib import Path

from mediation.projections.parallel import RebuildFailedError, stop_if_alone


def wait_alone(report: str) -> None:
    """Check, as a part load does at each batch, until the process that started this one is
    gone; then write what the check raised."""
    rebuilding = multiprocessing.parent_process()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            stop_if_alone(rebuilding)
        except RebuildFailedError as error:
            Path(report).write_text(str(error))
            return
        time.sleep(0.05)
    Path(report).write_text("still running")


def main() -> None:
    """Start `wait_alone` in a worker from a fork server, as a rebuild does, and end at once
    without stopping it (as if killed)."""
    context = multiprocessing.get_context("forkserver")
    worker = context.Process(target=wait_alone, args=(sys.argv[1],))
    worker.start()
    print(os.getpid(), flush=True)
    os._exit(0)  # at once, as a killed process: no waiting for the worker, no cleanup


if __name__ == "__main__":
    main()
