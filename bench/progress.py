"""Progress lines while the suite runs: elapsed time, then what is being measured or was."""

from __future__ import annotations

import time

from rich.console import Console


class Progress:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.began = time.perf_counter()

    def say(self, text: str) -> None:
        elapsed = int(time.perf_counter() - self.began)
        self.console.print(f"[dim]\\[{elapsed // 60:02d}:{elapsed % 60:02d}][/dim] {text}")

    def counter(self, label: str, total: int) -> Counter:
        return Counter(self, label, total)


class Counter:
    """Reports a long generation or catch-up every `every` seconds, not every step."""

    def __init__(self, progress: Progress, label: str, total: int, every: float = 10.0) -> None:
        self.progress = progress
        self.label = label
        self.total = total
        self.every = every
        self.last = time.perf_counter()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            self.progress.say(f"  {self.label}: {done:,} / {self.total:,}")
