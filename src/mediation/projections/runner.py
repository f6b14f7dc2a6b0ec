"""Following the log: a background thread inside the API process, or a worker's main loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("mediation.projections")

MAX_BACKOFF = 5.0
# A failure that repeats is logged again, in one line, after 2, 4, 8 ... of them in a row, and
# then every so many (at MAX_BACKOFF, every 10 minutes).
REPEAT_EVERY = 120


class Follower:
    """Calls `catch_up` whenever nudged or every `poll_interval` seconds, until stopped.

    SQLite has no change notifications, so the follower polls; an action's `after=` read
    nudges it so that the wait is short.
    """

    def __init__(
        self,
        catch_up: Callable[[], object],
        poll_interval: float = 0.5,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self._catch_up = catch_up
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
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
        failures = _Failures()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._catch_up()
            except Exception as error:
                # A dead follower would silently freeze every view: log, back off, retry.
                failures.failed(error)
                delay = min(0.1 * 2**failures.count, self.max_backoff)
            else:
                failures.ended()
                delay = self.poll_interval
            self._wake.wait(delay)

    def stopping(self) -> bool:
        """Whether `stop()` was asked: a long catch-up ends after its current batch."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class _Failures:
    """The failures of catching up in a row, and what the log says of them: the first with
    its traceback, a repetition of the same failure in one line now and then (a view that
    keeps failing on an event would otherwise write a traceback every few seconds, and at
    each `after=` read's nudge), a different failure with its traceback again, and the end
    of a run of failures."""

    def __init__(self) -> None:
        self.count = 0
        self._last: tuple[type[BaseException], str] | None = None  # logged with its traceback

    def failed(self, error: Exception) -> None:
        self.count += 1
        kind = (type(error), str(error))
        if kind != self._last:
            self._last = kind
            log.exception("projections: catching up failed (%d in a row)", self.count)
        elif _repeated_now(self.count):
            log.error(
                "projections: catching up still fails (%d in a row), as above: %s: %s",
                self.count,
                type(error).__name__,
                error,
            )

    def ended(self) -> None:
        if self.count:
            log.warning("projections: caught up again after %d failures in a row", self.count)
        self.count, self._last = 0, None


def _repeated_now(count: int) -> bool:
    """Whether the same failure, the `count`th in a row, is logged again."""
    if count < REPEAT_EVERY:
        return count & (count - 1) == 0  # a power of two
    return count % REPEAT_EVERY == 0
