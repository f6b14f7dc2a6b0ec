"""Queue queries as clerks, mediators and supervisors open the queue, and filling the queue
view beyond what the run can generate (copies of its rows, made in SQL)."""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from bench.bench_projections import ALL_CENTERS, BIG_TOWN, PARENT, TOWNS, World, open_count
from bench.records import QueueRun, summarize
from mediation.projections import QueueQuery, queue

WARM_UP = 2  # unmeasured runs of each query: plans and caches warm


def queue_queries(second_page: str | None) -> dict[str, QueueQuery]:
    """bench_projections' set of queries, less a few near-duplicates."""
    county = PARENT[BIG_TOWN]
    subtree = frozenset({county, *TOWNS[county]})
    everywhere = frozenset(ALL_CENTERS)
    town = frozenset({BIG_TOWN})
    return {
        "clerk, busiest town, default sort": QueueQuery(town),
        "clerk, busiest town, overdue": QueueQuery(town, overdue=True),
        "clerk, busiest town, phase=mediation": QueueQuery(town, phase="mediation"),
        "mediator, assignee=mine": QueueQuery(town, assignee=f"m.{BIG_TOWN}.1"),
        "county supervisor (7 centers)": QueueQuery(subtree),
        "county supervisor, page 2 (cursor)": QueueQuery(subtree, cursor=second_page),
        "city supervisor (all 81 centers)": QueueQuery(everywhere),
        "city supervisor, risk=red": QueueQuery(everywhere, risk="red"),
        "city supervisor, escalated": QueueQuery(everywhere, escalated=True),
        "city supervisor, phase=mediation": QueueQuery(everywhere, phase="mediation"),
        "city supervisor, dispute_type=land, limit 200": QueueQuery(
            everywhere, dispute_type="land", limit=200
        ),
    }


def measure_queries(world: World, backend: str, repeats: int) -> list[QueueRun]:
    now = datetime.now(UTC)
    county = PARENT[BIG_TOWN]
    first = queue(world.projections, QueueQuery(frozenset({county, *TOWNS[county]})), now)
    rows = int(world.projections.read("queue", _row_count))
    opened = open_count(world)
    generated = min(world.generator.count, rows)
    gc.collect()  # start from the same heap each time, not the one the generator left
    runs = []
    for label, query in queue_queries(first.next_cursor).items():
        samples, found = _time_query(world, query, now, repeats)
        runs.append(QueueRun(backend, rows, opened, generated, label, summarize(samples), found))
    return runs


def copy_rows(world: World, target: int) -> None:
    """Copy the queue view's rows (new random ids) until it holds `target` rows."""

    def copy(conn: Connection, tables: Any) -> None:
        table = tables.cases
        count = _row_count(conn, tables)
        if conn.dialect.name == "postgresql":
            new_id: Any = func.gen_random_uuid()
        else:  # SQLAlchemy keeps a Uuid on SQLite as 32 hex digits
            new_id = func.lower(func.hex(func.randomblob(16)))
        others = [column for column in table.c if column.name != "case_id"]
        while 0 < count < target:
            more = min(count, target - count)
            rows = select(new_id, *others).limit(more)
            conn.execute(insert(table).from_select(["case_id", *(c.name for c in others)], rows))
            conn.commit()
            count += more

    world.projections.read("queue", copy)


def _time_query(
    world: World, query: QueueQuery, now: datetime, repeats: int
) -> tuple[list[float], int]:
    found = 0
    for _ in range(WARM_UP):
        queue(world.projections, query, now)
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        found = len(queue(world.projections, query, now).items)
        samples.append((time.perf_counter() - began) * 1000)
    return samples, found


def _row_count(conn: Connection, tables: Any) -> int:
    return int(conn.scalar(select(func.count()).select_from(tables.cases)) or 0)
