"""How big each part of a run is: `--smoke` (the test), `--quick` (development), full."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    clients: tuple[int, ...]  # concurrency levels of the action mix
    seconds: float  # measured time per level (after one warm-up case per client)
    max_cases: int | None  # per client and level: stops earlier than `seconds` when reached
    api_processes: int  # PostgreSQL: also run HTTP against this many `mediation serve`s (<2: no)
    rebuild_events: tuple[int, ...]
    rebuild_each_view: bool  # also rebuild each view alone, at each size
    queue_cases: tuple[int, ...]
    queue_real_cases: int  # beyond this many cases the queue rows are copied, not generated
    queue_repeats: int
    history_lengths: tuple[int, ...]
    load_repeats: int
    quiet_wait: float  # seconds to wait for other work to stop before each measurement (0: don't)
    quiet_budget: float  # seconds of such waiting in the whole run
    views_budget: float  # seconds for rebuilds and queues per backend; beyond: sizes scaled down


SMOKE = Size(
    name="smoke",
    clients=(1, 2),
    seconds=0.5,
    max_cases=2,
    api_processes=2,
    rebuild_events=(300,),
    rebuild_each_view=True,
    queue_cases=(60, 600),
    queue_real_cases=60,
    queue_repeats=5,
    history_lengths=(10, 60),
    load_repeats=3,
    quiet_wait=0.0,
    quiet_budget=0.0,
    views_budget=60.0,
)

QUICK = Size(
    name="quick",
    clients=(1, 8),
    seconds=2.0,
    max_cases=None,
    api_processes=2,
    rebuild_events=(10_000,),
    rebuild_each_view=True,
    queue_cases=(2_000, 10_000),
    queue_real_cases=5_000,
    queue_repeats=30,
    history_lengths=(10, 100, 1_000),
    load_repeats=10,
    quiet_wait=5.0,
    quiet_budget=20.0,
    views_budget=60.0,
)

FULL = Size(
    name="full",
    clients=(1, 8, 32),
    seconds=10.0,
    max_cases=None,
    api_processes=2,
    rebuild_events=(100_000, 1_000_000),
    rebuild_each_view=True,
    queue_cases=(10_000, 100_000, 1_000_000),
    queue_real_cases=100_000,
    queue_repeats=100,
    history_lengths=(10, 100, 1_000, 10_000),
    load_repeats=20,
    quiet_wait=60.0,
    quiet_budget=150.0,
    views_budget=1500.0,
)

SIZES = {size.name: size for size in (SMOKE, QUICK, FULL)}
