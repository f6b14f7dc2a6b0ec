"""`python -m bench.pages`: how long the supervisors' pages take, the audit trail's and the
statistics', as they ask for them, the queue's summary, and a clerk's lookup of a caller.

An audit page is the view's rows of the matching events plus each event's facts read from the
log and masked (see `projections.audit_query`); a statistics page the figures of a scope of
centers and days (see `projections.stats_query`); a queue summary the open and overdue cases of
a scope by phase and center (see `projections.queue_query.summarize_queue`); a lookup the cases of
one party in a center (see `projections.party_query`). The log is the bench's own (made into
`--log` if that file does not exist, as `python -m bench.instructions` makes it); the queries
run on a copy, whose audit and statistics views are rebuilt first, so the file itself is left
as it is.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from bench.bench_projections import ALL_CENTERS, BIG_TOWN, PARENT, TOWNS, World
from bench.instructions import generate
from bench.records import Latency, summarize
from bench.views import _world
from mediation.domain.case import Case
from mediation.projections import (
    AuditQuery,
    PartyQuery,
    QueueQuery,
    StatsQuery,
    audit,
    cursor,
    party_cases,
    queue,
    queue_summary,
    stats,
)

WARM_UP = 2  # unmeasured runs of each query: plans and caches warm


REBUILT = ["queue", "audit", "stats"]  # the views the pages read, rebuilt on the copy


@dataclass(frozen=True)
class PageRun:
    query: str  # "audit: ...", "stats: ...", "queue summary: ..." or "party lookup: ..."
    entries: int  # on the page (statistics: rows, totals not counted; a summary: cases counted)
    latency: Latency


def audit_queries(world: World, second_page: str | None) -> dict[str, AuditQuery]:
    """A city supervisor's and a county supervisor's usual questions, by each filter, in log
    order and some newest first; the time windows end at the log's middle event."""
    county = PARENT[BIG_TOWN]
    everywhere = frozenset(ALL_CENTERS)
    subtree = frozenset({county, *TOWNS[county]})
    middle_cursor = cursor.encode("audit", world.head() // 2)
    middle = audit(world.projections, AuditQuery(everywhere, limit=1, cursor=middle_cursor))
    some_case = audit(world.projections, AuditQuery(frozenset({BIG_TOWN}), limit=1)).items[0]
    end = middle.items[0].at
    return {
        "city supervisor, first 50": AuditQuery(everywhere),
        "city supervisor, page 2 (cursor)": AuditQuery(everywhere, cursor=second_page),
        "city supervisor, first 200": AuditQuery(everywhere, limit=200),
        "county supervisor (7 centers)": AuditQuery(subtree),
        "one case's history": AuditQuery(everywhere, case_id=some_case.case_id),
        "one actor (a town's clerk)": AuditQuery(everywhere, actor=f"clerk.{BIG_TOWN}"),
        "one event type (Escalated)": AuditQuery(everywhere, event_type="Escalated"),
        "an hour": AuditQuery(everywhere, since=end - timedelta(hours=1), until=end),
        "a day": AuditQuery(everywhere, since=end - timedelta(days=1), until=end),
        "a week": AuditQuery(everywhere, since=end - timedelta(days=7), until=end),
        "an hour, one town's clerk": AuditQuery(
            everywhere, actor=f"clerk.{BIG_TOWN}", since=end - timedelta(hours=1), until=end
        ),
        "city supervisor, newest 50": AuditQuery(everywhere, order="newest"),
        "county supervisor, newest 50": AuditQuery(subtree, order="newest"),
        "one event type (Escalated), newest": AuditQuery(
            everywhere, event_type="Escalated", order="newest"
        ),
        "an hour, newest first": AuditQuery(
            everywhere, since=end - timedelta(hours=1), until=end, order="newest"
        ),
        "a day, newest first": AuditQuery(
            everywhere, since=end - timedelta(days=1), until=end, order="newest"
        ),
    }


def stats_queries(world: World) -> dict[str, StatsQuery]:
    """The figures a city, a county and a town supervisor ask for, over the whole log."""
    county = PARENT[BIG_TOWN]
    everywhere = frozenset(ALL_CENTERS)
    subtree = frozenset({county, *TOWNS[county]})
    first = audit(world.projections, AuditQuery(everywhere, limit=1)).items[0].at
    # a year from the log's first event: the whole log (the generator's moments do not
    # follow the log's order, so its last event need not be its latest)
    span = ((first - timedelta(days=1)).date(), (first + timedelta(days=366)).date())
    return {
        "city, by month": StatsQuery(everywhere, *span),
        "city, by day": StatsQuery(everywhere, *span, group_by=("day",)),
        "city, by month, dispute type and channel": StatsQuery(
            everywhere, *span, group_by=("month", "dispute_type", "channel")
        ),
        "county (7 centers), by week": StatsQuery(subtree, *span, group_by=("week",)),
        "one town, by month": StatsQuery(frozenset({BIG_TOWN}), *span),
    }


def summary_scopes() -> dict[str, frozenset[str]]:
    """The scopes whose open cases a town's clerk, a county's and the city's supervisor count."""
    county = PARENT[BIG_TOWN]
    return {
        "busiest town": frozenset({BIG_TOWN}),
        "county (7 centers)": frozenset({county, *TOWNS[county]}),
        "city (all centers)": frozenset(ALL_CENTERS),
    }


def lookup_queries(world: World) -> dict[str, PartyQuery]:
    """A clerk of the busiest town looking up a caller whose case is open there: by the ID
    number of a party registered with one, by the name and phone of a party without."""
    found: dict[str, PartyQuery] = {}
    page = queue(world.projections, QueueQuery(frozenset({BIG_TOWN}), limit=50), datetime.now(UTC))
    for item in page.items:
        case: Case = world.app.repository.get(item.id)
        for party in case.parties:
            if party.id_number:
                found.setdefault("by ID number", PartyQuery(BIG_TOWN, id_number=party.id_number))
            elif party.phone:
                named = PartyQuery(BIG_TOWN, name=party.name, phone=party.phone)
                found.setdefault("by name and phone", named)
        if len(found) == 2:
            break
    return found


def measure(world: World, repeats: int) -> list[PageRun]:
    """Each query `repeats` times, after WARM_UP runs; the entries of its page."""
    first = audit(world.projections, AuditQuery(frozenset(ALL_CENTERS)))
    now = datetime.now(UTC)
    pages: dict[str, Callable[[], int]] = {}
    for label, query in audit_queries(world, first.next_cursor).items():
        pages[f"audit: {label}"] = partial(_audit_entries, world, query)
    for label, figures in stats_queries(world).items():
        pages[f"stats: {label}"] = partial(_stats_rows, world, figures, now)
    for label, centers in summary_scopes().items():
        pages[f"queue summary: {label}"] = partial(_open_cases, world, centers, now)
    for label, party in lookup_queries(world).items():
        pages[f"party lookup: {label}"] = partial(_party_cases, world, party)
    gc.collect()
    runs = []
    for label, page in pages.items():
        for _ in range(WARM_UP):
            entries = page()
        samples = []
        for _ in range(repeats):
            began = time.perf_counter()
            entries = page()
            samples.append((time.perf_counter() - began) * 1000)
        runs.append(PageRun(label, entries, summarize(samples)))
    return runs


def _audit_entries(world: World, query: AuditQuery) -> int:
    return len(audit(world.projections, query).items)


def _stats_rows(world: World, query: StatsQuery, now: datetime) -> int:
    return len(stats(world.projections, query, now).rows)


def _open_cases(world: World, centers: frozenset[str], now: datetime) -> int:
    return queue_summary(world.projections, centers, now).total.open


def _party_cases(world: World, query: PartyQuery) -> int:
    return len(party_cases(world.projections, query).items)


@contextmanager
def rebuilt_copy(log: Path) -> Iterator[World]:
    """The bench's world on a copy of `log`, the views the pages read rebuilt from it."""
    with tempfile.TemporaryDirectory(prefix="mediation-pages-") as folder:
        database = Path(folder) / "log.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{log}{suffix}").exists():
                shutil.copyfile(f"{log}{suffix}", f"{database}{suffix}")
        world = _world(f"sqlite:///{database}")
        try:
            world.projections.rebuild(REBUILT)
            yield world
        finally:
            world.app.close()
            world.projections.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pages",
        description="Time the audit trail's and the statistics' pages, the queue's summary "
        "and a party lookup, on a copy of the bench's log (SQLite).",
    )
    parser.add_argument("--events", type=int, default=100_000, help="events of a new log")
    parser.add_argument("--log", type=Path, required=True, help="the log: made if missing")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs of each query")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error(f"--events: must be at least 1, not {args.events}")
    if args.repeats < 1:
        parser.error(f"--repeats: must be at least 1, not {args.repeats}")
    if not args.log.exists():
        print(f"generating {args.events:,} events into {args.log}")
        generate(args.log, args.events)
    with rebuilt_copy(args.log) as world:
        events = world.head()
        runs = measure(world, args.repeats)
    print(
        f"pages on {events:,} events, SQLite ({args.repeats} timed runs of each query "
        f"after {WARM_UP} untimed): ms"
    )
    print(f"  {'page':<56} {'entries':>7} {'p50':>7} {'p99':>7} {'max':>7}")
    for run in runs:
        t = run.latency
        print(f"  {run.query:<56} {run.entries:>7} {t.p50:>7.1f} {t.p99:>7.1f} {t.max:>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
