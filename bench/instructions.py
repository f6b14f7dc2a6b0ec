"""Instructions a rebuild of the views executes per event, counted by valgrind's callgrind.

    python -m bench.instructions [--events 20000] [--log PATH] [--views NAME ...]

Seconds move with whatever else the machine runs (the same rebuild of 1,000,000 events took
65 to 75 s within an hour on one 2-core machine); the instructions executed do not: the same
code, log and Python give the same count to within a few parts in ten thousand. So two
versions of the code are compared by this count, each measured from its own checkout on the
same log file: the log is generated into PATH when PATH does not exist, and reused when it
does.

Each count runs the interpreter twice under callgrind (about 50 times slower than without),
once to start and open the store and once to start, open the store and rebuild, and takes
the difference: one process, one pass over the log (the work per event, not how two
processes share the machine). About 4 minutes at 20,000 events. Needs valgrind (Debian:
`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.views import EVERY_VIEW, GROW_STEP, VIEW_NAMES, _world

ROOT = Path(__file__).resolve().parent.parent  # the checkout whose code is counted
COUNTER = ("valgrind", "--tool=callgrind")
_TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Count:
    events: int
    start: int  # instructions to start the interpreter and open the store
    whole: int  # the same, then the rebuild

    @property
    def rebuild(self) -> int:
        return self.whole - self.start

    @property
    def per_event(self) -> float:
        return self.rebuild / self.events


def totals_in(text: str) -> int:
    """The instructions a callgrind output file counted (its `totals:` or `summary:` line)."""
    found = _TOTALS.search(text)
    if found is None:
        msg = "no totals in the callgrind output"
        raise ValueError(msg)
    return int(found.group(1))


def generate(path: Path, events: int) -> None:
    """A log of about `events` events, as the bench makes them, in a new SQLite file."""
    world = _world(f"sqlite:///{path}")
    try:
        while (head := world.head()) < events:
            world.generator.run(min(GROW_STEP, events - head), open_only=False)
    finally:
        world.app.close()
        world.projections.engine.dispose()


def count(log: Path, views: list[str], counter: tuple[str, ...] = COUNTER) -> Count:
    """Count a rebuild of `views` from a copy of `log` (the file itself is left as it is)."""
    with tempfile.TemporaryDirectory(prefix="mediation-instructions-") as folder:
        start, _ = _counted(Path(folder), log, "start", views, counter)
        whole, events = _counted(Path(folder), log, "rebuild", views, counter)
    return Count(events, start, whole)


def _counted(
    folder: Path, log: Path, mode: str, views: list[str], counter: tuple[str, ...]
) -> tuple[int, int]:
    database = folder / f"{mode}.db"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{log}{suffix}").exists():
            shutil.copyfile(f"{log}{suffix}", f"{database}{suffix}")
    output = folder / f"{mode}.callgrind"
    command = [
        *counter,
        f"--callgrind-out-file={output}",
        sys.executable,
        "-m",
        "bench.instructions",
        "--child",
        mode,
        "--log",
        str(database),
        "--views",
        *views,
    ]
    # This checkout's code, whatever the environment's installed copy points at; hashes of
    # text seeded alike, so that sets and dicts iterate alike from run to run.
    paths = [str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = os.environ | {"PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        msg = f"the {mode} run failed ({done.returncode}):\n{done.stderr[-2000:]}"
        raise RuntimeError(msg)
    return totals_in(output.read_text()), int(done.stdout.split()[-1])


def _child(mode: str, log: Path, views: list[str]) -> None:
    """What runs under the counter: open the store (and rebuild); print the log's head."""
    world = _world(f"sqlite:///{log}")
    try:
        head = world.head()
        if mode == "rebuild":
            world.projections.rebuild(views)
    finally:
        world.app.close()
        world.projections.engine.dispose()
    print(head)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Instructions a one-process rebuild executes per event (callgrind).",
    )
    parser.add_argument("--events", type=int, default=20_000, help="events of a new log")
    parser.add_argument("--log", type=Path, help="the log's SQLite file: made if missing")
    parser.add_argument("--views", nargs="+", choices=EVERY_VIEW, default=list(VIEW_NAMES))
    parser.add_argument("--child", choices=("start", "rebuild"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.child, args.log, args.views)
        return 0
    if args.events < 1:
        parser.error(f"--events: must be at least 1, not {args.events}")
    if shutil.which(COUNTER[0]) is None:
        parser.error(f"{COUNTER[0]} is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="mediation-log-") as folder:
        log = args.log or Path(folder) / "log.db"
        if not log.exists():
            print(f"generating {args.events:,} events into {log}", flush=True)
            generate(log, args.events)
        found = count(log, args.views)
    print(f"rebuild of {', '.join(args.views)} from {found.events:,} events, one process")
    print(f"  start-up and opening the store: {found.start:,} instructions")
    print(f"  rebuild: {found.rebuild:,} instructions, {found.per_event:,.0f} per event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
