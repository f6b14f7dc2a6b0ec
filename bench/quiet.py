"""Other work on the machine skews every figure: measure the CPU others use, wait for quiet."""

from __future__ import annotations

import os
import time
from pathlib import Path

QUIET = 0.25  # of all cores busy with other work: good enough to measure
MAX_WAIT = 60.0  # seconds to wait for quiet before measuring anyway


def busy_share(seconds: float = 1.0) -> float:
    """The share of all cores busy over `seconds`, less what this process used meanwhile."""
    total, idle = _cpu_times()
    own = time.process_time()
    time.sleep(seconds)
    total_after, idle_after = _cpu_times()
    own = time.process_time() - own
    ticks = os.sysconf("SC_CLK_TCK")
    spent = (total_after - total) / ticks
    if spent <= 0:
        return 0.0
    return max(0.0, ((spent - (idle_after - idle) / ticks) - own) / spent)


def wait_for_quiet(limit: float = QUIET, max_wait: float = MAX_WAIT) -> float:
    """Wait until other work uses less than `limit` of the cores (at most `max_wait` s);
    the share last seen."""
    deadline = time.monotonic() + max_wait
    share = busy_share()
    while share > limit and time.monotonic() < deadline:
        share = busy_share()
    return share


def _cpu_times() -> tuple[int, int]:
    """All and idle (idle + iowait) jiffies since boot, over every core."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]), fields[3] + fields[4]


class Quiet:
    """Waits for quiet before each measurement, within a budget for the whole run."""

    def __init__(self, max_wait: float, budget: float) -> None:
        self.max_wait = max_wait
        self.budget = budget

    def settle(self) -> float:
        """The share of the cores others used just before measuring; NaN when not looked at."""
        if self.max_wait <= 0:
            return float("nan")
        began = time.monotonic()
        share = wait_for_quiet(max_wait=min(self.max_wait, max(self.budget, 0.0)))
        self.budget -= time.monotonic() - began
        return share
