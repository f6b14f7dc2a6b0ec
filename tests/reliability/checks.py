"""After the load: the log against what was acknowledged, each case's chain, the views against
a direct fold of the log. Each check returns its findings (empty: it holds), so the benchmark
can print them and the tests assert them empty."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import fields
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select

from mediation.application import CaseApplication
from mediation.domain.case import Case
from mediation.domain.values import Actor
from mediation.projections import Projections
from tests.projections.projection_support import (
    Desk,
    all_events,
    check_views_equal_fold,
    expected_audit,
    expected_queue,
    whole_audit,
    whole_queue,
)
from tests.reliability.moves import EVENT_OF
from tests.reliability.tally import Tally

Key = tuple[UUID, int]  # a case and one of its versions


def check_log(cases: CaseApplication, tally: Tally) -> list[str]:
    """Every acknowledged action's event is in the log exactly once, as the action it was;
    every other event by a person belongs to a write whose answer never came."""
    written: dict[Key, list[tuple[int, Case.Event]]] = defaultdict(list)
    for position, event in all_events(cases):
        written[(event.originator_id, event.originator_version)].append((position, event))
    findings = [
        f"{key} is in the log {len(found)} times"
        for key, found in written.items()
        if len(found) > 1
    ]
    acked = Counter((ack.case_id, ack.version) for ack in tally.acks if not ack.replayed)
    findings += [f"{key} was acknowledged {n} times" for key, n in acked.items() if n > 1]
    for ack in tally.acks:
        found = written.get((ack.case_id, ack.version), [])
        if len(found) != 1:
            findings.append(f"acknowledged {ack} is in the log {len(found)} times")
            continue
        position, event = found[0]
        if ack.position not in (None, position):
            findings.append(f"acknowledged {ack} is at position {position}")
        if type(event).__name__ != EVENT_OF[ack.action] or event.actor.user != ack.user:
            findings.append(f"acknowledged {ack} is a {type(event).__name__} by {event.actor}")
    known = {(ack.case_id, ack.version) for ack in tally.acks}
    unacked = [found[0][1] for key, found in written.items() if key not in known]
    return findings + _unacknowledged(unacked, tally)


def _unacknowledged(events: list[Case.Event], tally: Tally) -> list[str]:
    """Events nobody was told about must match a write that got no answer (the rules' own
    escalations aside)."""
    registrations = Counter(u.user for u in tally.unanswered if u.case_id is None)
    actions = {
        (u.case_id, u.version, EVENT_OF[u.action], u.user)
        for u in tally.unanswered
        if u.case_id is not None
    }
    findings = []
    for event in events:
        user, kind = event.actor.user, type(event).__name__
        if user.startswith("rules:"):
            continue
        if isinstance(event, Case.Registered) and registrations[user] > 0:
            registrations[user] -= 1
        elif (event.originator_id, event.originator_version, kind, user) not in actions:
            findings.append(
                f"{kind} v{event.originator_version} of {event.originator_id} by {user} "
                "is in the log but was never acknowledged"
            )
    return findings


def check_cases(cases: CaseApplication) -> list[str]:
    """Nothing half-written: every case loads at its last version and its hash chain holds."""
    findings = []
    versions: dict[UUID, list[int]] = defaultdict(list)
    for _position, event in all_events(cases):
        versions[event.originator_id].append(event.originator_version)
    for case_id, seen in versions.items():
        if sorted(seen) != list(range(1, len(seen) + 1)):
            findings.append(f"case {case_id} has versions {sorted(seen)}")
        try:
            case: Case = cases.repository.get(case_id)
        except Exception as error:  # whatever fails, the finding is that the case does not load
            findings.append(f"case {case_id} does not load: {type(error).__name__}: {error}")
            continue
        if case.version != len(seen):
            findings.append(f"case {case_id} loads at v{case.version}, the log has {len(seen)}")
        elif vars(case) != vars(_replayed(cases, case_id)):
            findings.append(f"case {case_id} loads (from its snapshot) unlike its events replayed")
        chain = cases.verify_chain(case_id)
        if not chain.intact:
            findings.append(f"case {case_id}: chain broken: {chain.problem}")
    return findings


def _replayed(cases: CaseApplication, case_id: UUID) -> Case:
    """The case folded from its events alone, no snapshot."""
    case = None
    for event in cases.events.get(case_id):
        assert isinstance(event, Case.Event)
        case = event.mutate(case)
    assert isinstance(case, Case)
    return case


def check_escalations(cases: CaseApplication) -> list[str]:
    """The rules escalate each breach of a case once, however often they were killed."""
    seen: Counter[tuple[UUID, str]] = Counter(
        (event.originator_id, event.breach)
        for _position, event in all_events(cases)
        if isinstance(event, Case.Escalated) and event.breach is not None
    )
    return [f"breach {key} escalated {n} times" for key, n in seen.items() if n > 1]


def check_views(
    projections: Projections, cases: CaseApplication, actors: dict[str, Actor], now: datetime
) -> list[str]:
    """Each view is at the log's head, equals the direct fold of the log (queue, audit, stats)
    and equals itself rebuilt from scratch (every view, the rules' deadline index too)."""
    head = projections.log.head()
    findings = [
        f"view {s.name} is at {s.position}, the log's head is {head}"
        for s in projections.status()
        if s.position < head
    ]
    desk = Desk(cases, actors)
    try:
        check_views_equal_fold(projections, desk, now)
    except AssertionError:
        findings.append(
            f"views differ from the fold of the log: {_fold_difference(projections, desk, now)}"
        )
    return findings + _rebuilt_differences(projections)


def _fold_difference(projections: Projections, desk: Desk, now: datetime) -> str:
    queue, want_queue = whole_queue(projections, now), expected_queue(desk.cases, now)
    if queue != want_queue:
        return _first_difference("queue", queue, want_queue)
    audit = whole_audit(projections)
    want_audit = expected_audit(desk.cases, desk.actors["city_sup"])
    if audit != want_audit:
        return _first_difference("audit", audit, want_audit)
    return "stats"


def _first_difference(name: str, got: list[Any], want: list[Any]) -> str:
    for index, (mine, theirs) in enumerate(zip(got, want, strict=False)):
        if mine != theirs:
            return f"{name} row {index}: view {mine} != fold {theirs}"
    return f"{name}: view has {len(got)} rows, fold {len(want)}"


def _rebuilt_differences(projections: Projections) -> list[str]:
    live = {name: projections.read(name, _rows) for name in projections.views}
    projections.rebuild()
    rebuilt = {name: projections.read(name, _rows) for name in projections.views}
    findings = []
    for name, tables in live.items():
        for table, rows in tables.items():
            if rows != rebuilt[name][table]:
                findings.append(f"view {name}: table {table} differs from its rebuild")
    return findings


def _rows(conn: Connection, tables: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a view's generation, in primary key order."""
    found = {}
    for spec in fields(tables):
        table = getattr(tables, spec.name)
        key = list(table.primary_key.columns) or list(table.columns)
        found[spec.name] = [tuple(row) for row in conn.execute(select(table).order_by(*key))]
    return found


def recorded(cases: CaseApplication, tally: Tally) -> tuple[int, int]:
    """How many events the log holds, and how many unanswered writes are among them."""
    events = all_events(cases)
    written = {(e.originator_id, e.originator_version, type(e).__name__) for _p, e in events}
    found = sum(
        (u.case_id, u.version, EVENT_OF[u.action]) in written
        for u in tally.unanswered
        if u.case_id is not None
    )
    return len(events), found
