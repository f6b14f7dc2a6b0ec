"""`python -m bench.soak [--seconds N] [--clients N] [--backend sqlite|postgres|both]
[--crash-every S] [--api-processes N]`: the long soak of tests/reliability, with its checks.

Real `mediation` processes on loopback, clients doing random valid actions on shared cases;
then every acknowledged action must be in the log exactly once, every case load and verify its
hash chain, and every view equal the fold of the log. With `--crash-every`, the views and the
rules run as separate workers and everything is killed with SIGKILL and restarted every S
seconds; with `--api-processes` above 1, the clients spread over several API processes. Prints throughput, the answers' statuses and the checks; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.reliability.scenario import Plan, Report, run

POSTGRES_URL_VAR = "MEDIATION_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=300.0, help="load per backend")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--live-cases", type=int, help="open cases in play (default: clients)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--crash-every", type=float, metavar="S", help="kill -9 everything every S seconds"
    )
    parser.add_argument(
        "--api-processes", type=int, default=1, help="`mediation serve` processes sharing the store"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(POSTGRES_URL_VAR, DEFAULT_POSTGRES_URL),
        help=f"server to make a scratch database on (default: ${POSTGRES_URL_VAR} or %(default)s)",
    )
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> Plan:
    crashes: tuple[float, ...] = ()
    if args.crash_every:
        count = int((args.seconds - args.crash_every / 2) // args.crash_every)
        crashes = tuple(args.crash_every * (n + 1) for n in range(max(count, 0)))
    return Plan(
        seconds=args.seconds,
        clients=args.clients,
        live_cases=args.live_cases or args.clients,
        separate_workers=bool(args.crash_every),
        api_processes=args.api_processes,
        crash_at=crashes,
        seed=args.seed,
    )


@contextmanager
def scratch_database(backend: str, folder: Path, postgres_url: str) -> Iterator[str]:
    """An empty database for one run: a SQLite file, or a PostgreSQL database, dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'soak.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_url).set(drivername="postgresql")
    name = f"mediation_soak_{uuid.uuid4().hex[:12]}"
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def describe(backend: str, report: Report) -> list[str]:
    tally = report.tally
    lines = [
        f"== {backend}: {report.seconds:.0f} s, {report.plan.clients} clients, "
        f"{report.plan.api_processes} API processes, {len(report.acked_at_crashes)} kill -9",
        f"acknowledged  {report.acknowledged} actions, {report.acknowledged / report.seconds:.1f}/s"
        f" ({sum(a.replayed for a in tally.acks)} idempotent replays)",
        f"writes        {_statuses(tally.writes)} (conflicts: {tally.conflicts})",
        f"reads         {_statuses(tally.reads)}; views with after= {_statuses(tally.view_reads)}",
        f"no answer     {len(tally.unanswered)} writes ({report.unanswered_recorded} of the "
        f"actions among them in the log), {tally.refused_connections} connections refused",
        f"log           {report.events} events",
    ]
    if report.findings:
        lines.append(f"CHECKS FAILED ({len(report.findings)}):")
        lines += [f"  - {finding}" for finding in report.findings[:50]]
    else:
        lines.append("checks        passed: log = acknowledgements, chains intact, views = fold")
    return lines


def _statuses(counts: dict[int, int]) -> str:
    return ", ".join(f"{status}×{n}" for status, n in sorted(counts.items())) or "-"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        with (
            tempfile.TemporaryDirectory(prefix="soak-") as folder,
            scratch_database(backend, Path(folder), args.postgres_url) as url,
        ):
            report = run(url, Path(folder), plan_of(args))
        print("\n".join(describe(backend, report)), flush=True)
        failed = failed or bool(report.findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
