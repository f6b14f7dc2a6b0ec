"""The rules' index rebuilt from the log, its case rows held in memory meanwhile, equals the
index kept batch by batch: every case's state and timers, and what falls due when."""

from __future__ import annotations

import copy
from dataclasses import fields
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from mediation.domain import commands as c
from mediation.domain.values import Risk
from mediation.projections import tracking
from mediation.projections.log import Part
from mediation.projections.service import Projections
from mediation.rules.index import DeadlineIndex, DeadlineIndexView, _new_state
from tests.rules.conftest import Register, Rules
from tests.support import FakeClock, Org


def busy_cases(rules: Rules, register: Register, clock: FakeClock, org: Org) -> list[UUID]:
    """Cases whose index rows change in every way the fold knows: clocks started, stopped and
    extended after an escalation, red risk graded, supervision instructed and answered in
    time, a case closed and reopened; the rules escalating some of them in between."""
    cases = rules.services.cases
    clerk, mia, sup = (org.actors[name] for name in ("clerk", "mia", "sup"))
    made = []
    for n in range(6):
        case_id = register(risk=Risk.RED if n % 3 == 0 else Risk.LOW)
        cases.act(case_id, c.Accept(), clerk)
        made.append(case_id)
    for case_id in made[:4]:
        cases.act(case_id, c.Route("mia"), clerk)
        for party in ("p1", "p2"):
            cases.act(case_id, c.RecordConsent(party, consent=True), mia)
    due = clock.now().date() + timedelta(days=2)
    cases.act(made[4], c.Supervise("三日内回复 reply", due), sup)
    cases.act(made[4], c.Supervise("report on the noise", due), sup)
    cases.act(made[4], c.AnswerSupervision(1, "the wall is repaired"), clerk)
    cases.act(made[5], c.GradeRisk(Risk.RED, "threats on the phone"), clerk)
    rules.run()  # the red cases escalate
    clock.advance(days=31)
    rules.run()  # mediation and routing deadlines pass
    extension = c.ExtendDeadline(10, "awaiting a valuation report", ("p1", "p2"))
    cases.act(made[0], extension, mia)
    cases.act(made[1], c.Withdraw("settled at home"), clerk)
    cases.act(made[2], c.Withdraw("settled at home"), clerk)
    clock.advance(days=1)
    cases.act(made[2], c.Reopen("the agreement at home broke down"), sup)
    cases.act(made[3], c.GradeRisk(Risk.MEDIUM, "calmer"), clerk)
    rules.run()
    return made


def index_rows(projections: Projections) -> dict[str, list[tuple[Any, ...]]]:
    view = projections.view(DeadlineIndexView.name)
    with projections.engine.connect() as conn:
        generation = tracking.active_generation(conn, view.name)
        assert generation is not None
        tables = view.tables(generation)
        found = {}
        for field in fields(tables):
            table = getattr(tables, field.name)
            query = select(table).order_by(*table.primary_key.columns)
            found[field.name] = [tuple(row) for row in conn.execute(query)]
        return found


@pytest.mark.parametrize("parts", [1, 2])
def test_the_index_rebuilt_holding_few_rows_equals_the_one_kept_batch_by_batch(
    rules: Rules, register: Register, clock: FakeClock, org: Org, parts: int
) -> None:
    busy_cases(rules, register, clock, org)
    live = index_rows(rules.projections)
    later = clock.now() + timedelta(days=40)
    due_live = DeadlineIndex(rules.projections).due(later, 100)
    view = rules.projections.view(DeadlineIndexView.name)
    # One event a batch, one row held: rows leave memory and are read back (with the timers
    # they were written with) all the time.
    rules.projections.rebuild_batch_size = 1
    view.held_rows_limit = 1

    def load(generations: dict[str, int], end: int) -> list[dict[str, Any]]:
        return [rules.projections.load_part(generations, Part(i, parts), end) for i in range(parts)]

    rules.projections.rebuild([view.name], loader=load if parts > 1 else None)

    states = [row[1] for row in live["cases"]]
    assert {state["open"] for state in states} == {True, False}
    assert any(run.get("spent") for state in states for run in state["clocks"].values())
    assert any(state["timers"] for state in states)
    assert len(live["timers"]) >= 4
    assert due_live
    assert index_rows(rules.projections) == live
    assert DeadlineIndex(rules.projections).due(later, 100) == due_live


def test_folding_an_event_replaces_the_containers_it_changes_instead_of_changing_them(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    """A rebuild holds the case rows and a batch's plan starts from copies of them; a plan
    that is not written (the view moved meanwhile) must leave the held rows as they were."""
    busy_cases(rules, register, clock, org)
    view = rules.projections.view(DeadlineIndexView.name)
    assert isinstance(view, DeadlineIndexView)
    states: dict[UUID, dict[str, Any]] = {}
    events = rules.projections.log.read(0, 10_000).events
    for recorded in events:
        event = recorded.event
        state = states.get(event.originator_id, {})
        before = copy.deepcopy(state)
        folded = dict(state) if state else _new_state()
        view._fold(folded, event)
        assert state == before, type(event).__name__
        states[event.originator_id] = folded
    assert len(events) >= 40
