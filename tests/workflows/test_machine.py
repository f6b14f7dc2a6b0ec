"""The machine built from the built-in definition: what each status allows, and where it leads."""

from __future__ import annotations

import pytest

from mediation.domain import VOCABULARY
from mediation.workflows import (
    ActionUnavailableError,
    GuardRefusedError,
    Workflow,
    WorkflowRegistry,
)

ANYTIME_WHILE_OPEN = {
    "grade_risk",
    "withdraw",
    "add_note",
    "attach_document",
    "escalate",
    "escalate_breach",  # the rules' own escalation, exactly once per breach
    "supervise",
    "answer_supervision",  # what the supervision rule waits for (not in domain.md's table)
}

# domain.md's action table, read per status.
ALLOWED = {
    "registered": ANYTIME_WHILE_OPEN | {"amend", "accept", "reject"},
    "awaiting_routing": ANYTIME_WHILE_OPEN | {"amend", "route", "transfer"},
    # amend: domain.md allows it in the routing phase, which a pending transfer is in
    "transfer_pending": ANYTIME_WHILE_OPEN | {"amend", "receive_transfer", "return_transfer"},
    "mediating": ANYTIME_WHILE_OPEN
    | {
        "record_consent",
        "assign_mediator",
        "schedule_session",
        "record_session",
        "extend_deadline",
        "reach_agreement",
        "terminate",
    },
    "agreement_in_force": ANYTIME_WHILE_OPEN
    | {"apply_judicially", "confirm_judicially", "record_follow_up", "close"},
    "closed": {"reopen", "add_note"},
}


def holds(_guard: str) -> str | None:
    return None


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    return WorkflowRegistry.load(VOCABULARY).latest("dispute")


@pytest.mark.parametrize("status", sorted(ALLOWED))
def test_each_status_allows_the_actions_of_the_domain_table(
    workflow: Workflow, status: str
) -> None:
    assert set(workflow.allowed_actions(status)) == ALLOWED[status]


def test_allowed_actions_come_in_definition_order(workflow: Workflow) -> None:
    allowed = workflow.allowed_actions("mediating")

    assert list(allowed) == [a for a in workflow.definition.actions if a in allowed]


@pytest.mark.parametrize(
    ("status", "action", "dest"),
    [
        ("registered", "accept", "awaiting_routing"),
        ("registered", "reject", "closed"),
        ("awaiting_routing", "route", "mediating"),
        ("awaiting_routing", "transfer", "transfer_pending"),
        ("transfer_pending", "receive_transfer", "mediating"),
        ("transfer_pending", "return_transfer", "awaiting_routing"),
        ("mediating", "reach_agreement", "agreement_in_force"),
        ("mediating", "terminate", "closed"),
        ("agreement_in_force", "close", "closed"),
        ("transfer_pending", "withdraw", "closed"),
        ("closed", "reopen", "mediating"),
    ],
)
def test_decide_returns_the_destination(
    workflow: Workflow, status: str, action: str, dest: str
) -> None:
    transition = workflow.decide(status, action, holds)

    assert (transition.action, transition.source, transition.dest) == (action, status, dest)
    assert transition.changes_status


@pytest.mark.parametrize(
    ("status", "action"),
    [
        ("mediating", "record_consent"),
        ("mediating", "schedule_session"),
        ("registered", "amend"),
        ("agreement_in_force", "record_follow_up"),
        ("closed", "add_note"),
    ],
)
def test_an_internal_transition_keeps_the_status(
    workflow: Workflow, status: str, action: str
) -> None:
    transition = workflow.decide(status, action, holds)

    assert transition.dest == status
    assert not transition.changes_status


def test_an_action_not_allowed_is_refused_listing_what_is_allowed(workflow: Workflow) -> None:
    with pytest.raises(ActionUnavailableError) as refusal:
        workflow.decide("registered", "route", holds)

    assert refusal.value.action == "route"
    assert refusal.value.status == "registered"
    assert refusal.value.allowed == workflow.allowed_actions("registered")
    assert "accept" in refusal.value.allowed


def test_a_closed_case_allows_nothing_but_reopening_and_notes(workflow: Workflow) -> None:
    with pytest.raises(ActionUnavailableError) as refusal:
        workflow.decide("closed", "withdraw", holds)

    assert set(refusal.value.allowed) == {"reopen", "add_note"}


def test_a_failing_guard_is_refused_quoting_the_definitions_rule(workflow: Workflow) -> None:
    def refused_by_respondent(guard: str) -> str | None:
        return "refused by p2" if guard == "no_party_refused" else None

    with pytest.raises(GuardRefusedError) as refusal:
        workflow.decide("mediating", "schedule_session", refused_by_respondent)

    assert refusal.value.guard == "no_party_refused"
    assert refusal.value.rule == workflow.definition.guards["no_party_refused"]
    assert refusal.value.rule.startswith("PML art. 17")
    assert refusal.value.detail == "refused by p2"


def test_guards_are_checked_in_definition_order(workflow: Workflow) -> None:
    asked: list[str] = []

    def nothing_holds(guard: str) -> str | None:
        asked.append(guard)
        return "no"

    with pytest.raises(GuardRefusedError) as refusal:
        workflow.decide("mediating", "reach_agreement", nothing_holds)

    assert refusal.value.guard == "no_party_refused"
    assert asked == ["no_party_refused"]


def test_a_guard_on_another_action_is_not_asked(workflow: Workflow) -> None:
    asked: list[str] = []

    def record(guard: str) -> str | None:
        asked.append(guard)
        return None

    workflow.decide("mediating", "terminate", record)

    assert asked == []


def test_a_guard_that_changes_its_answer_midway_is_still_refused(workflow: Workflow) -> None:
    answers = iter([None, "changed its mind"])

    def fickle(_guard: str) -> str | None:
        return next(answers)

    with pytest.raises(GuardRefusedError):
        workflow.decide("agreement_in_force", "close", fickle)


def test_deciding_leaves_no_state_behind(workflow: Workflow) -> None:
    with pytest.raises(GuardRefusedError):
        workflow.decide("agreement_in_force", "close", lambda _guard: "no follow-up")

    assert workflow.decide("agreement_in_force", "close", holds).dest == "closed"
    assert workflow.decide("registered", "accept", holds).dest == "awaiting_routing"
    assert workflow.decide("registered", "accept", holds).dest == "awaiting_routing"
