"""Drive the action mix with N concurrent clients (threads) and time every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.workload import Client, Target, case_life, staff

BARRIER_TIMEOUT = 120.0


@dataclass
class _Tally:
    """What one client thread saw."""

    samples_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def failed(self, error: Exception) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = f"{type(error).__name__}: {error}"[:300]


@dataclass(frozen=True)
class LoadOutcome:
    samples_ms: list[float]
    seconds: float  # from the common start to the last client's end
    errors: int
    first_error: str | None
    cpu_seconds: float  # CPU this process used meanwhile (all its threads)


def drive(
    target: Target,
    clients: int,
    seconds: float,
    max_cases: int | None,
    on_start: Callable[[], None] | None = None,
    on_end: Callable[[], None] | None = None,
) -> LoadOutcome:
    """Each client works one case unmeasured, then whole cases until `seconds` have passed;
    `on_start` and `on_end` run when the measured part starts and ends."""
    tallies = [_Tally() for _ in range(clients)]
    clock: dict[str, float] = {}

    def started() -> None:  # runs once, before any client is released
        if on_start is not None:
            on_start()
        clock.update(began=time.perf_counter(), cpu=time.process_time())
        clock["deadline"] = clock["began"] + seconds

    start = threading.Barrier(clients, action=started, timeout=BARRIER_TIMEOUT)
    threads = [
        threading.Thread(target=_work, args=(target, i, tallies[i], start, clock, max_cases))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - clock["began"]
    cpu = time.process_time() - clock["cpu"]
    if on_end is not None:
        on_end()
    return LoadOutcome(
        samples_ms=[s for tally in tallies for s in tally.samples_ms],
        seconds=elapsed,
        errors=sum(t.errors for t in tallies),
        first_error=next((t.first_error for t in tallies if t.first_error), None),
        cpu_seconds=cpu,
    )


def _work(
    target: Target,
    index: int,
    tally: _Tally,
    start: threading.Barrier,
    clock: dict[str, float],
    max_cases: int | None,
) -> None:
    client: Client | None = None
    try:
        client = target.client(index)
        _case(client, index * 1_000_000, _Tally())  # warm-up: connections, caches
    except Exception as error:  # a load generator counts failures and goes on
        tally.failed(error)
    start.wait()
    if client is None:
        return
    try:
        done = 0
        while time.perf_counter() < clock["deadline"] and (max_cases is None or done < max_cases):
            done += 1
            _case(client, index * 1_000_000 + done, tally)
    finally:
        client.close()


def _case(client: Client, number: int, tally: _Tally) -> None:
    """One case's life; a failed step abandons the rest of that case."""
    case_id: str | None = None
    for step in case_life(number, staff(number // 1_000_000)):
        began = time.perf_counter()
        try:
            case_id = client.run(step, case_id) or case_id
        except Exception as error:
            tally.failed(error)
            return
        tally.samples_ms.append((time.perf_counter() - began) * 1000)
