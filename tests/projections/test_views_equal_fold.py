"""Every view, once caught up, equals a direct fold over the case histories."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, select

from mediation.accounts import Directory
from mediation.application import CaseApplication
from mediation.domain import VOCABULARY
from mediation.domain import commands as c
from mediation.domain.case import Case
from mediation.domain.errors import MediationError
from mediation.domain.values import Channel, Outcome, Referral, Risk
from mediation.projections import (
    Projections,
    build_projections,
)
from mediation.projections.log import Part
from mediation.projections.stats import StatsTables
from mediation.store import Database
from mediation.workflows import WorkflowRegistry
from tests.projections.projection_support import (
    SALT,
    Desk,
    check_views_equal_fold,
    make_org,
    registration,
)

START = datetime(2026, 1, 30, 15, 0, tzinfo=UTC)
PEOPLE = (
    ("བསྟན་འཛིན་", "13800000001", "540102199001011234"),
    ("王五", "13900000002", None),
    ("Dawa", None, None),
    ("李四", None, "540102198802023456"),
)
REGISTRATIONS = (
    (registration(applicant=PEOPLE[0], respondent=PEOPLE[1]), "clerk"),
    (registration(applicant=PEOPLE[2], respondent=PEOPLE[3], dispute_type="labour"), "clerk"),
    (registration(applicant=PEOPLE[3], respondent=PEOPLE[1], channel=Channel.HOTLINE), "dz_clerk"),
    (registration(applicant=PEOPLE[1], respondent=PEOPLE[0], center="cg-a", risk=Risk.HIGH), "sup"),
)
OPEN = ["note", "risk", "escalate", "supervise", "withdraw"]
# What a step may try in each status: mostly what moves the case on, some of everything else.
TRIES = {
    "registered": ["accept", "accept", "accept", "reject", "amend", *OPEN],
    "awaiting_routing": ["route", "route", "route", "transfer", "amend", *OPEN],
    "transfer_pending": ["receive", "receive", "return", "note"],
    "mediating": ["consent"] * 6
    + ["agree"] * 3
    + ["session", "extend", "terminate", "assign"]
    + OPEN,
    "agreement_in_force": ["follow_up", "follow_up", "close", "close", "withdraw", "note"],
    "closed": ["reopen", "note"],
}
MEDIATORS = {"cg-a": ("mia", "mo"), "dz": ("dawa", "dawa")}
STEP = st.tuples(
    st.sampled_from(["register", "advance", "catch_up", "rebuild", *["act"] * 9]),
    st.integers(0, 4),
    st.integers(0, 99),
    st.integers(0, 3),
)


class Clock:
    def __init__(self) -> None:
        self.moment = START

    def now(self) -> datetime:
        return self.moment


def command(kind: str, variant: int, case: Case, today: date) -> tuple[c.Command, str]:
    """The command of a step and who gives it; some will be refused, which is fine."""
    staff = MEDIATORS[case.center]
    mediator = case.mediator or staff[0]
    other = staff[1] if mediator == staff[0] else staff[0]
    party = next((p for p in case.party_ids() if p not in case.consents), "p1")
    table: dict[str, tuple[c.Command, str]] = {
        "accept": (c.Accept(), "clerk"),
        "reject": (c.Reject("not mediable"), "clerk"),
        "route": (c.Route(staff[variant % 2]), "clerk"),
        "transfer": (c.Transfer("司法所 judicial office", "closer to the parties"), "clerk"),
        "receive": (c.ReceiveTransfer((staff[0], None)[variant % 2]), "clerk"),
        "return": (c.ReturnTransfer("not ours"), "clerk"),
        "consent": (c.RecordConsent(party, consent=variant != 3), mediator),
        "assign": (c.AssignMediator(other, "recusal"), "clerk"),
        "session": (c.RecordSession("talked it through"), mediator),
        "extend": (c.ExtendDeadline(10, "more time", ("p1", "p2")), mediator),
        "agree": (c.ReachAgreement("pay 100 yuan", ("p1", "p2")), mediator),
        "terminate": (c.Terminate("no deal", Referral.LITIGATION), mediator),
        "withdraw": (c.Withdraw("settled privately"), "clerk"),
        "follow_up": (c.RecordFollowUp(performed=variant != 0), mediator),
        "close": (c.Close((Outcome.RESOLVED, Outcome.BREACHED)[variant % 2]), "clerk"),
        "reopen": (c.Reopen("agreement breached"), "sup"),
        "note": (c.AddNote("a note ཟིན་ཐོ།"), "clerk"),
        "risk": (c.GradeRisk(tuple(Risk)[variant]), "clerk"),
        "escalate": (c.Escalate("slow"), "sup"),
        "supervise": (c.Supervise("hurry up", today + timedelta(days=3)), "sup"),
        "amend": (
            c.Amend(dispute_type="family")
            if variant < 2
            else c.Amend(parties=registration(applicant=PEOPLE[variant]).parties),
            "clerk",
        ),
    }
    return table[kind]


def play(
    desk: Desk, clock: Clock, projections: Projections, steps: list[tuple[str, int, int, int]]
) -> None:
    cases: list[tuple[UUID, str]] = []
    for kind, index, choice, variant in steps:
        if kind == "register":
            cmd, by = REGISTRATIONS[variant]
            cases.append((desk.register(cmd, by), by))
        elif kind == "advance":
            clock.moment += timedelta(hours=(1, 13, 30, 24 * 20)[variant])
        elif kind == "catch_up":
            projections.catch_up()
        elif kind == "rebuild":
            rebuild_all(projections, parts=(1, 2, 3, 1)[variant])
        elif cases:
            case_id, _registrar = cases[index % len(cases)]
            for attempt in range(1 + 2 * variant):  # a few actions in a row: cases get somewhere
                act(desk, case_id, choice + 7 * attempt, variant, clock.now().date())


def party_rows(projections: Projections) -> set[tuple[str, UUID]]:
    def read(conn: Connection, tables: StatsTables) -> set[tuple[str, UUID]]:
        parties = tables.parties
        return {(row.party_key, row.case_id) for row in conn.execute(select(parties))}

    return projections.read("stats", read)


def rebuild_all(projections: Projections, parts: int) -> None:
    """Rebuild every view, in one pass or part of the cases by part (in this process: the
    parts' processes run the same `load_part`); the statistics' party keys (which a rebuild
    holds back and writes at the end) come out as the live view had them, for the
    re-disputes still to come."""
    projections.catch_up()
    live = party_rows(projections)

    def load(generations: dict[str, int], end: int) -> list[dict[str, Any]]:
        return [projections.load_part(generations, Part(i, parts), end) for i in range(parts)]

    projections.rebuild(loader=load if parts > 1 else None)
    assert party_rows(projections) == live


def act(desk: Desk, case_id: UUID, choice: int, variant: int, today: date) -> None:
    case: Case = desk.cases.repository.get(case_id)
    tries = TRIES[case.status]
    cmd, by = command(tries[choice % len(tries)], variant, case, today)
    if case.center == "dz":
        by = {"clerk": "dz_clerk", "sup": "dz_sup"}.get(by, by)
    with contextlib.suppress(MediationError):  # refused: the log and the views stay as they were
        desk.act(case_id, cmd, by)


def test_every_view_equals_a_direct_fold_over_the_case_histories(
    fresh_databases: Callable[[], Database], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Each example gets a new event store and views; the accounts directory is shared.
    accounts = Database(f"sqlite:///{tmp_path / 'accounts.db'}").create_engine()
    directory = Directory(accounts)
    directory.create_schema()
    actors = make_org(directory)
    workflows = WorkflowRegistry.load(VOCABULARY)
    examples = 25 if "sqlite" in request.node.name else 8  # a new PostgreSQL store is slower

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        steps=st.lists(STEP, min_size=10, max_size=50),
        batch_size=st.sampled_from([1, 4, 7]),
        held=st.sampled_from([1, 3, 1000]),
    )
    def example(steps: list[tuple[str, int, int, int]], batch_size: int, held: int) -> None:
        clock = Clock()
        database = fresh_databases()
        cases = CaseApplication(database.eventsourcing_env(), workflows, directory, clock)
        engine = database.create_engine()
        projections = build_projections(
            engine,
            cases,
            workflows,
            SALT,
            batch_size=batch_size,
            rebuild_batch_size=batch_size,
            held_rows_limit=held,
            held_keys_limit=held,
        )
        try:
            projections.create_schema()
            desk = Desk(cases, actors)
            play(desk, clock, projections, steps)
            projections.catch_up()
            check_views_equal_fold(projections, desk, clock.now())
        finally:
            cases.close()
            engine.dispose()

    try:
        example()
    finally:
        accounts.dispose()
