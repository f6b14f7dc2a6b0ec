"""Projection benchmark: rebuild speed (events/s) and queue query time at many open cases.

    python -m bench.bench_projections [--events 100000] [--open-cases 100000]
                                      [--backend sqlite|postgres] [--batch-size 1000]

Events are made fast: cases are decided in memory by the domain (the same functions the
application calls) and saved through the application in batches of many cases. PostgreSQL:
MEDIATION_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); a schema of
its own is created and dropped.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, func, select

from mediation.application import CaseApplication
from mediation.domain import VOCABULARY
from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.clocks import clock_changes
from mediation.domain.decisions import HANDLERS, register_case
from mediation.domain.ports import Context
from mediation.domain.values import Actor, Channel, Outcome, PartyRole, Referral, Risk, Role
from mediation.projections import Projections, QueueQuery, build_projections, queue
from mediation.store import Database
from mediation.workflows import WorkflowRegistry

COUNTIES = [f"county{k:02d}" for k in range(11)]
TOWNS = {
    county: [f"{county}-t{k}" for k in range(6 + (k % 2))] for k, county in enumerate(COUNTIES)
}
ALL_CENTERS = ["city", *COUNTIES, *(t for towns in TOWNS.values() for t in towns)]
PARENT = dict.fromkeys(COUNTIES, "city") | {
    town: county for county, towns in TOWNS.items() for town in towns
}
TOWN_LIST = [t for towns in TOWNS.values() for t in towns]
BIG_TOWN = TOWN_LIST[0]
SAVE_BATCH = 400  # cases per save: one transaction
SPACING = 25  # saves between two steps of a case (see Generator)
RECURRING = 50  # every so many registrations name a party of an earlier case
DAY = timedelta(days=1)


class Directory:
    """The domain's view of the center hierarchy: three mediators per center."""

    def is_mediator_of(self, username: str, center: str) -> bool:
        return username.startswith(f"m.{center}.")

    def parent_of(self, center: str) -> str | None:
        return PARENT.get(center)

    def center(self, code: str) -> str | None:
        return code if code in PARENT or code == "city" else None

    def is_within(self, code: str, root: str) -> bool:
        while code != root and code in PARENT:
            code = PARENT[code]
        return code == root


Step = tuple[Callable[[str], c.Command], str]  # a command (given the mediator) and who gives it
CONSENTS: list[Step] = [
    (lambda m: c.RecordConsent("p1", consent=True), "mediator"),
    (lambda m: c.RecordConsent("p2", consent=True), "mediator"),
]
ROUTED: list[Step] = [(lambda m: c.Accept(), "clerk"), (c.Route, "clerk")]
OPEN_LIVES: list[list[Step]] = [
    [],
    [(lambda m: c.Accept(), "clerk")],
    ROUTED,
    [*ROUTED, *CONSENTS],
    [(lambda m: c.Escalate("no decision"), "supervisor"), (lambda m: c.AddNote("called"), "clerk")],
]
CLOSED_LIVES: list[list[Step]] = [
    [(lambda m: c.Reject("already before a court"), "clerk")],
    [
        *ROUTED,
        *CONSENTS,
        (lambda m: c.RecordSession("talked"), "mediator"),
        (lambda m: c.ReachAgreement("pay 100 yuan", ("p1", "p2")), "mediator"),
        (lambda m: c.RecordFollowUp(performed=True), "mediator"),
        (lambda m: c.Close(Outcome.RESOLVED), "clerk"),
    ],
    [
        (lambda m: c.Accept(), "clerk"),
        (lambda m: c.Transfer("司法所", "closer"), "clerk"),
        (c.ReceiveTransfer, "clerk"),
        CONSENTS[0],
        (lambda m: c.Terminate("no agreement", Referral.LITIGATION), "mediator"),
    ],
]


def record(case: Case, command: c.Command, actor: Actor, ctx: Context) -> None:
    """`decisions.execute` without its checks (the lives above are valid): the state machine
    it consults is built per call and would make generating a million events take minutes."""
    spec = ctx.workflow.definition.actions[command.ACTION]
    dest = spec.dest or case.status
    decision = HANDLERS[type(command)](case, command, ctx)
    final = ctx.workflow.definition.statuses[dest].final
    anchor = decision.clock_anchor or ctx.now
    started, stopped = clock_changes(
        ctx.workflow, command.ACTION, case.clocks, case.complexity, anchor, final, ctx.calendar
    )
    case.trigger_event(
        decision.event,
        timestamp=ctx.now,
        actor=actor,
        status=dest,
        clocks_started=started,
        clocks_stopped=stopped,
        previous_hash=case.head_hash,
        **decision.data,
    )


@dataclass
class Life:
    """A generated case under way: what is left of its life, and who acts in it when."""

    case: Case
    steps: list[Step]
    actors: dict[str, Actor]
    mediator: str
    moment: datetime


class Generator:
    """Cases across the towns (a quarter in the first), registered over the last 90 days.

    As in a real log, a case's events are far apart: each save holds the steps of earlier
    cases that fall due, then new registrations up to SAVE_BATCH, and a case's next step falls
    due SPACING saves later (fewer while the log is young, so that its mix of registrations
    and later steps is steady from the start): some 10,000 events after its last one, not in
    the same batch of a view, which then has to read and update the case's stored row, as in
    service. Every RECURRING-th registration names a party of an earlier case (a re-dispute,
    when that one is closed).
    """

    def __init__(self, app: CaseApplication, workflows: WorkflowRegistry) -> None:
        self.app = app
        self.workflow = workflows.latest("dispute")
        self.directory = Directory()
        self.count = 0
        self.saves = 0
        self.due: dict[int, list[Life]] = {}  # by the save they fall due in

    def run(self, events: int, open_only: bool, cases: int | None = None) -> int:
        """Save until `events` events (or `cases` new cases) were written; events written."""
        written = made = 0
        while (written < events) if cases is None else (made < cases):
            moved = self.due.pop(self.saves, [])
            if len(moved) > SAVE_BATCH:  # more fell due than one save takes: the rest next
                self.due.setdefault(self.saves + 1, []).extend(moved[SAVE_BATCH:])
                moved = moved[:SAVE_BATCH]
            for life in moved:
                self.step(life)
            written += len(moved)
            while len(moved) < SAVE_BATCH and (
                (written < events) if cases is None else (made < cases)
            ):
                moved.append(self.register(open_only))
                written += len(moved[-1].case.pending_events)
                made += 1
            if moved:
                self.app.save(*(life.case for life in moved))
            later = self.saves + min(SPACING, 1 + self.saves // 4)
            self.due.setdefault(later, []).extend(life for life in moved if life.steps)
            self.saves += 1
        return written

    def register(self, open_only: bool) -> Life:
        n = self.count = self.count + 1
        town = TOWN_LIST[0] if n % 4 == 0 else TOWN_LIST[n % len(TOWN_LIST)]
        moment = datetime.now(UTC) - 90 * DAY + timedelta(seconds=(n * 7919) % (90 * 86_400))
        mediator = f"m.{town}.{n % 3}"
        actors = {
            "clerk": Actor(f"clerk.{town}", Role.CLERK, town),
            "mediator": Actor(mediator, Role.MEDIATOR, town),
            "supervisor": Actor(f"sup.{PARENT[town]}", Role.SUPERVISOR, PARENT[town]),
        }
        ctx = Context(self.workflow, moment, self.directory)
        case = register_case(uuid.uuid4(), registration(n), actors["clerk"], town, str(n), ctx)
        lives = OPEN_LIVES if open_only or n % 3 else CLOSED_LIVES
        return Life(case, list(lives[n % len(lives)]), actors, mediator, moment)

    def step(self, life: Life) -> None:
        make, who = life.steps.pop(0)
        life.moment += timedelta(hours=5)
        ctx = Context(self.workflow, life.moment, self.directory)
        record(life.case, make(life.mediator), life.actors[who], ctx)


def registration(n: int) -> c.Register:
    a = n - 997 if n % RECURRING == 0 and n > 997 else n  # the applicant of an earlier case
    return c.Register(
        # Not n % 5: that would tie each type to one of the five lives, so to its deadline.
        dispute_type=("neighbour", "labour", "family", "land", "consumer")[n // 7 % 5],
        channel=tuple(Channel)[n // 3 % 5],
        summary=f"第{n}号 邻里纠纷 ཁྱིམ་མཚེས་ཀྱི་རྩོད་གཞི། dispute number {n} about a wall",
        risk=(Risk.LOW, Risk.LOW, Risk.MEDIUM, Risk.HIGH)[n // 11 % 4] if n % 97 else Risk.RED,
        parties=(
            c.NewParty(PartyRole.APPLICANT, f"申请人{a}", f"138{a:08d}", f"5401{a:014d}"),
            c.NewParty(PartyRole.RESPONDENT, f"被申请人{n}", f"139{n:08d}"),
        ),
    )


@contextmanager
def database(backend: str) -> Iterator[Database]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(dir=os.environ.get("MEDIATION_BENCH_DIR")) as folder:
            yield Database(f"sqlite:///{folder}/bench.db")
        return
    import psycopg

    base = os.environ.get(
        "MEDIATION_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Database(f"{base}?schema={schema}")
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@dataclass
class World:
    app: CaseApplication
    projections: Projections
    generator: Generator

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_rebuild(world: World, events: int) -> list[str]:
    took = timed(lambda: world.generator.run(events, open_only=False))
    head = world.head()
    lines = [
        f"| generate {head:,} events (saves of {SAVE_BATCH} cases) | {took:.1f} s | {head / took:,.0f} events/s |"
    ]
    for name in ("queue", "audit", "stats"):
        took = timed(partial(world.projections.rebuild, [name]))
        lines.append(
            f"| rebuild `{name}` from {head:,} events | {took:.1f} s | {head / took:,.0f} events/s |"
        )
    took = timed(world.projections.rebuild)
    lines.append(
        f"| rebuild all three in one pass over {head:,} events | {took:.1f} s | {head / took:,.0f} events/s |"
    )
    return lines


def bench_queue(world: World, open_cases: int, repeats: int) -> list[str]:
    lines: list[str] = []
    if open_cases:
        took = timed(lambda: world.generator.run(0, open_only=True, cases=open_cases))
        lines += [
            f"| add {open_cases:,} open cases (log head now {world.head():,}) | {took:.1f} s | |"
        ]
    took = timed(world.projections.catch_up)
    lines.append(f"| catch up all three views (live follower path) | {took:.1f} s | |")
    world.projections.analyze()  # what autovacuum (PostgreSQL) does in service
    lines.append(f"| open cases in the queue | {open_count(world):,} | |")
    now = datetime.now(UTC)
    county = PARENT[BIG_TOWN]
    subtree = frozenset({county, *TOWNS[county]})
    everywhere = frozenset(ALL_CENTERS)
    second_page = queue(world.projections, QueueQuery(subtree, limit=50), now).next_cursor
    queries = {
        f"clerk, busiest town ({BIG_TOWN}), default sort": QueueQuery(frozenset({BIG_TOWN})),
        "clerk, busiest town, overdue": QueueQuery(frozenset({BIG_TOWN}), overdue=True),
        "clerk, busiest town, not overdue": QueueQuery(frozenset({BIG_TOWN}), overdue=False),
        "clerk, busiest town, phase=mediation": QueueQuery(
            frozenset({BIG_TOWN}), phase="mediation"
        ),
        "clerk, busiest town, status=awaiting_routing": QueueQuery(
            frozenset({BIG_TOWN}), status="awaiting_routing"
        ),
        "mediator, assignee=mine": QueueQuery(frozenset({BIG_TOWN}), assignee=f"m.{BIG_TOWN}.1"),
        "county supervisor (7 centers)": QueueQuery(subtree),
        "county supervisor, page 2 (cursor)": QueueQuery(subtree, cursor=second_page),
        "county supervisor, phase=routing": QueueQuery(subtree, phase="routing"),
        f"city supervisor (all {len(ALL_CENTERS)} centers)": QueueQuery(everywhere),
        "city supervisor, risk=red": QueueQuery(everywhere, risk="red"),
        "city supervisor, escalated": QueueQuery(everywhere, escalated=True),
        "city supervisor, phase=mediation": QueueQuery(everywhere, phase="mediation"),
        "city supervisor, dispute_type=land, limit 200": QueueQuery(
            everywhere, dispute_type="land", limit=200
        ),
    }
    lines.append("")
    lines.append(
        "| queue query (limit 50 unless said) | p50 ms | p99 ms "
        "| p50 ms, gc.freeze() | p99 ms, gc.freeze() | rows |"
    )
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    plain = {label: measure(world, query, now, repeats) for label, query in queries.items()}
    gc.collect()
    gc.freeze()  # what a server does after start-up: its heap no longer slows each full GC
    frozen = {label: measure(world, query, now, repeats) for label, query in queries.items()}
    for label in queries:
        (p50, p99, rows), (f50, f99, _rows) = plain[label], frozen[label]
        lines.append(f"| {label} | {p50:.2f} | {p99:.2f} | {f50:.2f} | {f99:.2f} | {rows} |")
    return lines


def open_count(world: World) -> int:
    def count(conn: Connection, tables: Any) -> int:
        table = tables.cases
        return int(conn.scalar(select(func.count()).where(table.c.is_open == True)) or 0)  # noqa: E712

    return world.projections.read("queue", count)


def measure(
    world: World, query: QueueQuery, now: datetime, repeats: int
) -> tuple[float, float, int]:
    """p50 and p99 in milliseconds of `repeats` runs, and the rows of the page."""
    samples, rows = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = len(queue(world.projections, query, now).items)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return statistics.median(samples), p99, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events for the rebuild run")
    parser.add_argument(
        "--open-cases",
        type=int,
        default=100_000,
        help="open cases to add for the queue run (0: skip)",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per projection batch")
    parser.add_argument("--repeats", type=int, default=200, help="runs of each queue query")
    args = parser.parse_args()
    workflows = WorkflowRegistry.load(VOCABULARY)
    with database(args.backend) as db:
        app = CaseApplication(db.eventsourcing_env(), workflows, Directory())
        engine = db.create_engine()
        projections = build_projections(
            engine, app, workflows, b"bench-salt-0123456789", batch_size=args.batch_size
        )
        projections.create_schema()
        world = World(app, projections, Generator(app, workflows))
        print(f"## {args.backend}, {args.events:,} events, batch {args.batch_size}")
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}\n"
        )
        print("| step | time | rate |")
        print("| --- | ---: | ---: |")
        for line in bench_rebuild(world, args.events) if args.events else []:
            print(line, flush=True)
        for line in bench_queue(world, args.open_cases, args.repeats):
            print(line, flush=True)
        app.close()
        engine.dispose()


if __name__ == "__main__":
    main()
