"""`python -m bench.instructions`: a rebuild's instructions per event, counted under callgrind.

The counting runs the real child processes (start-up, then start-up and a rebuild of a real
log) under a stand-in for valgrind that the test owns: it runs the command it is given and
writes a callgrind-style total, so the difference and the per-event figure are known.
"""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from bench.instructions import count, generate, main, totals_in

START, PER_EVENT = 1_000_000, 7

# Runs the command after its first argument (--callgrind-out-file=...), passes its output
# on, and writes START instructions, plus PER_EVENT per event of the log when it rebuilt.
STAND_IN = textwrap.dedent(
    f"""
    import subprocess, sys
    out = sys.argv[1].split("=", 1)[1]
    done = subprocess.run(sys.argv[2:], capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    head = int(done.stdout.split()[-1]) if done.returncode == 0 else 0
    rebuilt = "rebuild" in sys.argv[sys.argv.index("--child") + 1]
    total = {START} + ({PER_EVENT} * head if rebuilt else 0)
    open(out, "w").write(f"events: Ir\\nsummary: {{total}}\\n")
    sys.exit(done.returncode)
    """
)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("instructions") / "log.db"
    generate(path, 300)
    return path


def stand_in(folder: Path) -> tuple[str, ...]:
    script = folder / "stand_in.py"
    script.write_text(STAND_IN)
    return (sys.executable, str(script))


def heads(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM stored_events").fetchone()[0])


def test_the_rebuild_is_counted_as_the_difference_per_event_of_the_log(
    log: Path, tmp_path: Path
) -> None:
    found = count(log, ["queue", "audit", "stats"], stand_in(tmp_path))

    assert found.events == heads(log) >= 300
    assert found.start == START
    assert found.rebuild == PER_EVENT * found.events
    assert found.per_event == PER_EVENT


def test_the_log_file_itself_is_left_as_it_was(log: Path, tmp_path: Path) -> None:
    before = log.read_bytes()

    count(log, ["audit"], stand_in(tmp_path))

    assert log.read_bytes() == before


def test_a_failing_run_is_reported_with_its_error(tmp_path: Path) -> None:
    missing = tmp_path / "not-a-log.db"
    missing.write_text("not a database")

    with pytest.raises(RuntimeError, match="the start run failed"):
        count(missing, ["queue"], stand_in(tmp_path))


def test_totals_are_read_from_either_line_callgrind_writes() -> None:
    assert totals_in("events: Ir\nsummary: 123\n") == 123
    assert totals_in("events: Ir\ntotals: 4567\n") == 4567
    with pytest.raises(ValueError, match="no totals"):
        totals_in("events: Ir\n")


def test_fewer_than_one_event_is_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--events", "0"])

    assert exit_info.value.code == 2
    assert "--events: must be at least 1, not 0" in capsys.readouterr().err
