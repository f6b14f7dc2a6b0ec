"""Following the log: a background thread inside the API process, or a worker's main loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("mediation.projections")

MAX_BACKOFF = 5.0


class Follower:
    """Calls `catch_up` whenever nudged or every `poll_interval` seconds, until stopped.

    SQLite has no change notifications, so the follower polls; an action's `after=` read
    nudges it so that the wait is short.
    """

    def __init__(self, catch_up: Callable[[], object], poll_interval: float = 0.5) -> None:
        self._catch_up = catch_up
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Follow in a daemon thread (for `mediation serve`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="projections", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def nudge(self) -> None:
        self._wake.set()

    def run(self) -> None:
        """Follow until `stop()`, in the calling thread (for `mediation projections run`)."""
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._catch_up()
            except Exception:
                # A dead follower would silently freeze every view: log, back off, retry.
                failures += 1
                log.exception("projections: catching up failed (%d in a row)", failures)
                delay = min(0.1 * 2**failures, MAX_BACKOFF)
            else:
                failures = 0
                delay = self.poll_interval
            self._wake.wait(delay)

    def stopping(self) -> bool:
        """Whether `stop()` was asked: a long catch-up ends after its current batch."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
