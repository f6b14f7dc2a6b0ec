"""Shadow-testing a shorter deadline on a recorded history: who would have escalated, when."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mediation.domain import VOCABULARY
from mediation.domain import commands as c
from mediation.rules.simulate import simulate
from mediation.workflows import Workflow, load_definition
from mediation.workflows.registry import BUILT_IN
from tests.rules.conftest import Register, Rules
from tests.support import FakeClock, Org

THIRTY_DAYS = """stops = ["reach_agreement", "terminate"]
days = 30"""


def shorter_mediation(folder: Path) -> Workflow:
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    assert THIRTY_DAYS in text
    path = folder / "dispute.candidate.toml"
    path.write_text(text.replace(THIRTY_DAYS, THIRTY_DAYS.replace("30", "10")), encoding="utf-8")
    return Workflow(load_definition(path, VOCABULARY))


def test_a_shorter_mediation_deadline_names_the_cases_it_would_have_escalated(
    rules: Rules, register: Register, clock: FakeClock, org: Org, tmp_path: Path
) -> None:
    cases, clerk, mia = rules.services.cases, org.actors["clerk"], org.actors["mia"]
    start = clock.now()
    agreed_early, still_open, never_routed = register(), register(), register()
    for case_id in (agreed_early, still_open):
        cases.act(case_id, c.Accept(), clerk)
        cases.act(case_id, c.Route("mia"), clerk)
        for party in ("p1", "p2"):
            cases.act(case_id, c.RecordConsent(party, consent=True), mia)
    cases.act(never_routed, c.Accept(), clerk)
    cases.act(never_routed, c.Route("mo"), clerk)
    clock.advance(days=5)
    cases.act(never_routed, c.Withdraw("settled at home"), clerk)  # before 10 days: no change
    clock.advance(days=10)
    cases.act(agreed_early, c.ReachAgreement("pay 200", ("p1", "p2")), mia)  # day 15
    head = cases.recorder.max_notification_id()

    report = list(simulate(cases, shorter_mediation(tmp_path), until=start + timedelta(days=25)))

    assert [
        (d.case_id, d.breach.clock, d.breach.period, d.only_under_candidate) for d in report
    ] == [
        (agreed_early, "mediation", 1, True),
        (still_open, "mediation", 1, True),
        (still_open, "mediation", 2, True),
    ]
    assert report[0].breach.at == start + timedelta(days=10)
    assert "would escalate deadline 'mediation' (overdue period 1)" in report[0].describe(
        "candidate"
    )
    assert cases.recorder.max_notification_id() == head  # the store is unchanged


def test_the_same_definition_reports_no_difference(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    register()
    clock.advance(days=40)
    same = rules.services.workflows.get("dispute@1")

    assert list(simulate(rules.services.cases, same, until=clock.now())) == []


def test_an_agreement_dated_the_day_before_starts_the_same_clocks_in_the_simulation(
    rules: Rules, register: Register, clock: FakeClock, org: Org
) -> None:
    cases, clerk, mia = rules.services.cases, org.actors["clerk"], org.actors["mia"]
    case_id = register()
    cases.act(case_id, c.Accept(), clerk)
    cases.act(case_id, c.Route("mia"), clerk)
    for party in ("p1", "p2"):
        cases.act(case_id, c.RecordConsent(party, consent=True), mia)
    # 03:00 in Lhasa is still the day before in UTC: the two calendars' dates differ.
    clock.moment = datetime(2026, 3, 5, 19, 0, tzinfo=UTC)
    signed = date(2026, 3, 5)  # yesterday where the centers are
    agreement = c.ReachAgreement("pay 200", ("p1", "p2"), signed_on=signed)
    view = cases.act(case_id, agreement, mia).view
    workflow = rules.services.workflows.get(view.workflow)

    _center, own, _candidate = cases.simulate(case_id, workflow, clock.now() + timedelta(days=60))

    due = {d.clock: d.due_at for d in view.deadlines}
    simulated = {b.clock: b.at for b in own if b.period == 1}
    assert simulated["follow_up"] == due["follow_up"]
    assert simulated["judicial_confirmation"] == due["judicial_confirmation"]
