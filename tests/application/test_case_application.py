"""The case application on the real event store: SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from mediation.application import CaseApplication
from mediation.bootstrap import Services
from mediation.domain import commands as c
from mediation.domain.errors import (
    InvalidFieldError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
)
from mediation.domain.values import Actor, Channel, Outcome, PartyRole
from mediation.store import Database
from mediation.workflows.registry import BUILT_IN
from tests.support import FakeClock, Org, build_test_services


def registration(summary: str = "邻里噪音纠纷 noise between neighbours") -> c.Register:
    return c.Register(
        dispute_type="neighbour",
        channel=Channel.WINDOW,
        summary=summary,
        parties=(
            c.NewParty(PartyRole.APPLICANT, "བསྟན་འཛིན་", "13800000001", "540102199001011234"),
            c.NewParty(PartyRole.RESPONDENT, "王五", "13900000002"),
        ),
    )


def mediate(cases: CaseApplication, case_id: UUID, org: Org) -> None:
    clerk, mia = org.actors["clerk"], org.actors["mia"]
    cases.act(case_id, c.Accept(), clerk)
    cases.act(case_id, c.Route("mia"), clerk)
    cases.act(case_id, c.RecordConsent("p1", consent=True), mia)
    cases.act(case_id, c.RecordConsent("p2", consent=True), mia)


def head(cases: CaseApplication) -> int:
    return cases.recorder.max_notification_id() or 0


def test_a_registered_case_reads_back_in_intake_with_its_first_deadline(
    services: Services, org: Org, clock: FakeClock
) -> None:
    saved = services.cases.register(registration(), org.actors["clerk"])

    case = services.cases.case(saved.view.id, org.actors["clerk"])
    assert (case.phase, case.status, case.version) == ("intake", "registered", 1)
    assert case.center == "cg-a"
    assert case.workflow == "dispute@1"
    assert [p.name for p in case.parties] == ["བསྟན་འཛིན་", "王五"]
    assert [(d.clock, d.due_at) for d in case.deadlines] == [
        ("intake_decision", clock.now() + timedelta(days=1))
    ]
    assert saved.position == head(services.cases)


def test_a_retried_idempotency_key_returns_the_first_case_and_writes_nothing(
    services: Services, org: Org
) -> None:
    first = services.cases.register(registration(), org.actors["clerk"], idempotency_key="k-1")
    before = head(services.cases)

    again = services.cases.register(registration(), org.actors["clerk"], idempotency_key="k-1")

    assert (again.view.id, again.created) == (first.view.id, False)
    assert head(services.cases) == before


def test_an_idempotency_key_reused_for_another_request_is_refused(
    services: Services, org: Org
) -> None:
    services.cases.register(registration(), org.actors["clerk"], idempotency_key="k-2")
    before = head(services.cases)

    with pytest.raises(InvalidFieldError) as refused:
        services.cases.register(registration("another"), org.actors["clerk"], idempotency_key="k-2")

    assert refused.value.field == "Idempotency-Key"
    assert head(services.cases) == before


def test_the_same_key_from_two_users_registers_two_cases(services: Services, org: Org) -> None:
    one = services.cases.register(registration(), org.actors["clerk"], idempotency_key="k")
    two = services.cases.register(registration(), org.actors["sup"], idempotency_key="k")

    assert one.view.id != two.view.id


def test_a_case_reads_as_it_was_at_an_earlier_version_and_moment(
    services: Services, org: Org, clock: FakeClock
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id
    clock.advance(hours=1)
    services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    after_accept = clock.now()
    clock.advance(hours=1)
    services.cases.act(case_id, c.Route("mia"), org.actors["clerk"])

    at_v1 = services.cases.case(case_id, org.actors["clerk"], version=1)
    at_moment = services.cases.case(case_id, org.actors["clerk"], as_of=after_accept)
    now = services.cases.case(case_id, org.actors["clerk"])

    assert (at_v1.status, at_v1.mediator) == ("registered", None)
    assert (at_moment.version, at_moment.status) == (2, "awaiting_routing")
    assert (now.version, now.status, now.mediator) == (3, "mediating", "mia")


def test_a_moment_before_registration_is_not_found(
    services: Services, org: Org, clock: FakeClock
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id

    with pytest.raises(NotFoundError):
        services.cases.case(case_id, org.actors["clerk"], as_of=clock.now() - timedelta(seconds=1))


def test_a_version_beyond_the_case_is_refused(services: Services, org: Org) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id

    with pytest.raises(InvalidFieldError) as refused:
        services.cases.case(case_id, org.actors["clerk"], version=5)

    assert refused.value.field == "as_of_version"


def test_history_lists_every_event_with_status_before_and_after(
    services: Services, org: Org
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id
    mediate(services.cases, case_id, org)

    history = services.cases.history(case_id, org.actors["clerk"])

    assert [(e.version, e.type, e.status_before, e.status_after) for e in history] == [
        (1, "Registered", None, "registered"),
        (2, "Accepted", "registered", "awaiting_routing"),
        (3, "Routed", "awaiting_routing", "mediating"),
        (4, "ConsentRecorded", "mediating", "mediating"),
        (5, "ConsentRecorded", "mediating", "mediating"),
    ]
    assert history[3].actor == org.actors["mia"]
    assert history[3].data["party"] == "p1"


def test_a_stale_expected_version_is_refused_and_writes_nothing(
    services: Services, org: Org
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id
    services.cases.act(case_id, c.Accept(), org.actors["clerk"])
    before = head(services.cases)

    with pytest.raises(StaleVersionError):
        services.cases.act(case_id, c.Route("mia"), org.actors["clerk"], expected_version=1)

    assert head(services.cases) == before


def test_staff_of_another_center_may_not_read_or_act(services: Services, org: Org) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id

    with pytest.raises(PermissionDeniedError):
        services.cases.case(case_id, org.actors["dz_clerk"])
    with pytest.raises(PermissionDeniedError):
        services.cases.act(case_id, c.Accept(), org.actors["dz_sup"])


def test_a_supervisor_above_acts_on_the_case_but_sees_personal_data_masked(
    services: Services, org: Org
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id

    view = services.cases.act(case_id, c.Accept(), org.actors["city_sup"]).view

    assert view.status == "awaiting_routing"
    assert view.personal_data_masked
    assert [(p.phone, p.id_number) for p in view.parties] == [("***", "***"), ("***", None)]
    own = services.cases.case(case_id, org.actors["clerk"])
    assert own.parties[0].phone == "13800000001"


def test_escalation_goes_up_the_center_hierarchy_until_the_top(
    services: Services, org: Org
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id

    first = services.cases.act(case_id, c.Escalate("overdue"), org.actors["sup"]).view
    rule = Actor.rule("intake_deadline", "cg-a")
    second = services.cases.act(case_id, c.Escalate("overdue again"), rule).view

    assert (first.escalation_level, first.escalated_to) == (1, "cg")
    assert (second.escalation_level, second.escalated_to) == (2, "city")
    history = services.cases.history(case_id, org.actors["clerk"])
    assert history[-1].actor.user == "rules:intake_deadline"


def test_snapshots_keep_a_long_case_loading_to_the_same_state(
    database: Database, clock: FakeClock, org: Org, services: Services
) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id
    for n in range(60):
        services.cases.act(case_id, c.AddNote(f"第{n}次电话回访 call {n}"), org.actors["clerk"])
    snapshots = services.cases.snapshots
    assert snapshots is not None

    taken = list(snapshots.get(case_id))
    loaded = services.cases.case(case_id, org.actors["clerk"])
    history = services.cases.history(case_id, org.actors["clerk"])

    assert [s.originator_version for s in taken] == [50]
    assert loaded.version == 61
    assert len(loaded.notes) == 60
    assert loaded.notes[-1]["text"] == "第59次电话回访 call 59"
    assert len(history) == 61


V2_CHANGES = (
    ("version = 1", "version = 2"),
    (
        '[actions.accept]\nfrom = ["registered"]\nto = "awaiting_routing"\nroles = ["clerk", "supervisor"]',
        '[actions.accept]\nfrom = ["registered"]\nto = "awaiting_routing"\nroles = ["supervisor"]',
    ),
    (
        'starts = ["route", "receive_transfer", "reopen"]\nstops = ["reach_agreement", "terminate"]\ndays = 30',
        'starts = ["route", "receive_transfer", "reopen"]\nstops = ["reach_agreement", "terminate"]\ndays = 10',
    ),
)


def write_v2(folder: Path) -> None:
    text = (BUILT_IN / "dispute.v1.toml").read_text(encoding="utf-8")
    for old, new in V2_CHANGES:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "dispute.v2.toml").write_text(text, encoding="utf-8")


def test_open_cases_keep_their_workflow_version_when_a_new_one_is_deployed(
    database: Database, clock: FakeClock, org: Org, services: Services, tmp_path: Path
) -> None:
    old_case = services.cases.register(registration(), org.actors["clerk"]).view.id
    write_v2(tmp_path)
    deployed = build_test_services(database, clock, workflows_dir=tmp_path)
    try:
        new_case = deployed.cases.register(registration(), org.actors["clerk"]).view.id
        clerk = org.actors["clerk"]

        old = deployed.cases.case(old_case, clerk)
        assert (old.workflow, old.status) == ("dispute@1", "registered")
        deployed.cases.act(old_case, c.Accept(), clerk)  # v1 lets a clerk accept
        routed = deployed.cases.act(old_case, c.Route("mia"), clerk).view
        assert routed.deadlines[0].due_at == clock.now() + timedelta(days=30)

        assert deployed.cases.case(new_case, clerk).workflow == "dispute@2"
        with pytest.raises(PermissionDeniedError):
            deployed.cases.act(new_case, c.Accept(), clerk)  # v2 does not
        deployed.cases.act(new_case, c.Accept(), org.actors["sup"])
        routed_v2 = deployed.cases.act(new_case, c.Route("mia"), clerk).view
        assert routed_v2.deadlines[0].due_at == clock.now() + timedelta(days=10)
    finally:
        deployed.close()


def test_a_case_walks_from_registration_to_resolved_closure(services: Services, org: Org) -> None:
    case_id = services.cases.register(registration(), org.actors["clerk"]).view.id
    mediate(services.cases, case_id, org)
    mia, clerk = org.actors["mia"], org.actors["clerk"]
    services.cases.act(case_id, c.RecordSession("双方当面协商 met in person"), mia)
    services.cases.act(case_id, c.ReachAgreement("赔偿 500 元", ("p1", "p2")), mia)
    services.cases.act(case_id, c.RecordFollowUp(performed=True, notes="paid"), mia)

    closed = services.cases.act(case_id, c.Close(Outcome.RESOLVED), clerk).view

    assert (closed.phase, closed.status, closed.outcome) == ("closure", "closed", "resolved")
    assert closed.deadlines == ()
    assert closed.agreement is not None
    assert closed.agreement["signed_by"] == ["p1", "p2"]
