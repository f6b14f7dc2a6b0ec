"""What every part of a run shares: its size, a scratch folder, progress lines, quiet waits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.progress import Progress
from bench.quiet import Quiet
from bench.sizes import Size


@dataclass(frozen=True)
class Harness:
    size: Size
    folder: Path  # SQLite files go here
    progress: Progress
    quiet: Quiet

    def say(self, text: str) -> None:
        self.progress.say(text)
