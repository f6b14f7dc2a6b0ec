"""Workflow definitions: the built-in one matches domain.md; broken ones are refused precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediation.domain import VOCABULARY
from mediation.workflows import (
    Definition,
    DefinitionError,
    UnknownWorkflowError,
    WorkflowRegistry,
    load_definition,
)
from mediation.workflows.registry import BUILT_IN

BUILT_IN_FILE = BUILT_IN / "dispute.v1.toml"

# The action table of domain.md, plus "attach a document's metadata" from its open phases,
# and the rules' own escalation of a breach.
DOMAIN_ACTIONS = frozenset(
    {
        "amend",
        "grade_risk",
        "accept",
        "reject",
        "route",
        "transfer",
        "receive_transfer",
        "return_transfer",
        "record_consent",
        "assign_mediator",
        "schedule_session",
        "record_session",
        "extend_deadline",
        "reach_agreement",
        "terminate",
        "withdraw",
        "confirm_judicially",
        "record_follow_up",
        "close",
        "reopen",
        "add_note",
        "attach_document",
        "escalate",
        "escalate_breach",
        "supervise",
        # Beyond domain.md's table: its rule escalates an instruction "not answered by its
        # due date", so the center must be able to answer one.
        "answer_supervision",
        # And the parties' application for judicial confirmation, which the window's deadline
        # (PML art. 33) is about: the court decides later.
        "apply_judicially",
    }
)


def built_in_text() -> str:
    return BUILT_IN_FILE.read_text(encoding="utf-8")


def edited(old: str, new: str, text: str | None = None) -> str:
    """The built-in definition (or `text`) with one passage replaced; it must be there once."""
    text = built_in_text() if text is None else text
    assert text.count(old) == 1, f"expected exactly one {old!r} in the definition"
    return text.replace(old, new)


def write(folder: Path, text: str, name: str = "dispute.broken.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def definition() -> Definition:
    return load_definition(BUILT_IN_FILE, VOCABULARY)


def test_built_in_definition_loads_as_dispute_version_1(definition: Definition) -> None:
    assert definition.key == "dispute@1"
    assert definition.initial == "registered"
    assert definition.phases == ("intake", "routing", "mediation", "closure")
    assert definition.source == str(BUILT_IN_FILE)


def test_built_in_definition_has_every_action_of_the_domain(definition: Definition) -> None:
    assert set(definition.actions) == DOMAIN_ACTIONS
    assert "clerk" in definition.register_roles


def test_engine_vocabulary_implements_every_action_of_the_domain() -> None:
    assert VOCABULARY.actions == DOMAIN_ACTIONS


@pytest.mark.parametrize(
    ("status", "phase", "final"),
    [
        ("registered", "intake", False),
        ("awaiting_routing", "routing", False),
        ("transfer_pending", "routing", False),
        ("mediating", "mediation", False),
        ("agreement_in_force", "closure", False),
        ("closed", "closure", True),
    ],
)
def test_each_status_belongs_to_its_phase(
    definition: Definition, status: str, phase: str, final: bool
) -> None:
    assert definition.phase_of(status) == phase
    assert definition.statuses[status].final is final


@pytest.mark.parametrize(
    ("action", "dest"),
    [
        ("accept", "awaiting_routing"),
        ("reject", "closed"),
        ("route", "mediating"),
        ("transfer", "transfer_pending"),
        ("receive_transfer", "mediating"),
        ("return_transfer", "awaiting_routing"),
        ("reach_agreement", "agreement_in_force"),
        ("terminate", "closed"),
        ("withdraw", "closed"),
        ("close", "closed"),
        ("reopen", "mediating"),
        ("record_consent", None),
        ("add_note", None),
    ],
)
def test_actions_lead_where_the_domain_says(
    definition: Definition, action: str, dest: str | None
) -> None:
    assert definition.actions[action].dest == dest


def test_roles_follow_the_domain_defaults(definition: Definition) -> None:
    roles = {name: spec.roles for name, spec in definition.actions.items()}
    assert roles["reopen"] == {"supervisor"}
    assert roles["escalate"] == {"supervisor", "rules"}
    assert roles["supervise"] == {"supervisor"}
    assert roles["record_consent"] == {"mediator"}
    assert roles["reach_agreement"] == {"mediator"}
    assert roles["extend_deadline"] == {"mediator", "supervisor"}
    assert "clerk" in roles["accept"]
    assert "mediator" not in roles["accept"]


def test_every_guard_quotes_the_rule_it_serves(definition: Definition) -> None:
    assert set(definition.guards) == VOCABULARY.guards
    assert all(rule.strip() for rule in definition.guards.values())
    assert "PML art. 17" in definition.guards["no_party_refused"]


def test_built_in_clocks_carry_the_domain_defaults(definition: Definition) -> None:
    clocks = definition.clocks
    assert clocks["intake_decision"].days_for("general") == 1
    assert [clocks["routing"].days_for(k) for k in ("simple", "general", "complex")] == [1, 7, 20]
    assert clocks["transfer_receipt"].days_for("complex") == 3
    assert clocks["mediation"].days_for("simple") == 30
    assert clocks["mediation"].extended_by == "extend_deadline"
    assert clocks["mediation"].max_extensions == 1
    assert clocks["judicial_confirmation"].days_for("general") == 30
    assert clocks["follow_up"].days_for("general") == 15
    assert all(clock.unit == "calendar" for clock in clocks.values())


@pytest.mark.parametrize(
    ("old", "new", "place", "fault"),
    [
        pytest.param('name = "dispute"', 'name = "dispute', "", "not valid TOML", id="toml-syntax"),
        pytest.param(
            "version = 1\n", "version = 0\n", "version", "must be 1 or more", id="version"
        ),
        pytest.param(
            "version = 1\n",
            'version = "1"\n',
            "version",
            "must be a whole number",
            id="version-type",
        ),
        pytest.param(
            'initial = "registered"',
            'initial = "new"',
            "initial",
            "unknown status 'new'",
            id="initial",
        ),
        pytest.param(
            '[statuses.mediating]\nphase = "mediation"',
            '[statuses.mediating]\nphase = "talking"',
            "statuses.mediating.phase",
            "unknown phase 'talking'",
            id="status-phase",
        ),
        pytest.param(
            '[actions.route]\nfrom = ["awaiting_routing"]\nto = "mediating"',
            '[actions.route]\nfrom = ["awaiting_routing"]\nto = "mediation"',
            "actions.route.to",
            "unknown status 'mediation'",
            id="action-to",
        ),
        pytest.param(
            '[actions.route]\nfrom = ["awaiting_routing"]',
            '[actions.route]\nfrom = ["awaiting_routing", "waiting"]',
            "actions.route.from[1]",
            "unknown status 'waiting'",
            id="action-from",
        ),
        pytest.param(
            'to = "awaiting_routing"\nroles = ["clerk", "supervisor"]\n[actions.reject]',
            'to = "awaiting_routing"\nroles = ["clerk", "judge"]\n[actions.reject]',
            "actions.accept.roles[1]",
            "unknown role 'judge'",
            id="action-role",
        ),
        pytest.param(
            '[actions.route]\nfrom = ["awaiting_routing"]\nto = "mediating"\nroles = ["clerk", "supervisor"]\n',
            '[actions.route]\nfrom = ["awaiting_routing"]\nto = "mediating"\n',
            "actions.route.roles",
            "is required",
            id="action-roles-missing",
        ),
        pytest.param(
            '[guards.followed_up]\nrule = "A case with an agreement closes only after a follow-up visit (回访) on its performance"\n',
            "",
            "actions.close.guards[0]",
            "guard 'followed_up' is not declared",
            id="undeclared-guard",
        ),
        pytest.param(
            "[register]",
            '[guards.moon_is_full]\nrule = "Never on a full moon"\n[register]',
            "guards.moon_is_full",
            "the engine has no guard of that name",
            id="unknown-guard",
        ),
        pytest.param(
            'rule = "A recusal assigns a different mediator"',
            'rule = "   "',
            "guards.mediator_changes.rule",
            "must name the rule the guard serves",
            id="blank-guard-rule",
        ),
        pytest.param(
            '[actions.supervise]\nfrom = ["@open"]\nroles = ["supervisor"]\n',
            "",
            "actions",
            "missing actions: supervise",
            id="missing-action",
        ),
        pytest.param(
            "[actions.supervise]",
            '[actions.fly]\nfrom = ["@open"]\nroles = ["clerk"]\n[actions.supervise]',
            "actions.fly",
            "the engine has no action of that name",
            id="unknown-action",
        ),
        pytest.param(
            'starts = ["register"]',
            'starts = ["registration"]',
            "clocks.intake_decision.starts[0]",
            "unknown action 'registration'",
            id="clock-unknown-action",
        ),
        pytest.param(
            'stops = ["record_follow_up"]',
            'stops = ["record_follow_up", "visit"]',
            "clocks.follow_up.stops[1]",
            "unknown action 'visit'",
            id="clock-unknown-stop",
        ),
        pytest.param(
            "days = 3\n",
            "days = 0\n",
            "clocks.transfer_receipt.days",
            "must be a whole number of days (1 or more) or one per complexity",
            id="clock-zero-days",
        ),
        pytest.param(
            "days = 15\n",
            'days = "15"\n',
            "clocks.follow_up.days",
            "must be a whole number of days",
            id="clock-days-text",
        ),
        pytest.param(
            "days = { simple = 1, general = 7, complex = 20 }",
            "days = { simple = 1, general = 7 }",
            "clocks.routing.days",
            "missing complexities: complex",
            id="clock-days-missing-complexity",
        ),
        pytest.param(
            "days = { simple = 1, general = 7, complex = 20 }",
            "days = { simple = 1, general = 7, complex = -20 }",
            "clocks.routing.days.complex",
            "must be a whole number of days, 1 or more",
            id="clock-days-negative",
        ),
        pytest.param(
            "days = { simple = 1, general = 7, complex = 20 }",
            "days = { simple = 1, general = 7, complex = 20, epic = 90 }",
            "clocks.routing.days.epic",
            "unknown complexity",
            id="clock-days-unknown-complexity",
        ),
        pytest.param(
            'days = 3\nunit = "calendar"',
            'days = 3\nunit = "lunar"',
            "clocks.transfer_receipt.unit",
            "must be one of calendar, working",
            id="clock-unit",
        ),
        pytest.param(
            'extended_by = "extend_deadline"',
            'extended_by = "prolong"',
            "clocks.mediation.extended_by",
            "unknown action 'prolong'",
            id="clock-extended-by",
        ),
        pytest.param(
            'stops = ["record_follow_up"]',
            'stops = ["record_follow_up"]\nends_on_working_day = "yes"',
            "clocks.follow_up.ends_on_working_day",
            "must be true or false, not 'yes'",
            id="clock-ends-on-working-day",
        ),
    ],
)
def test_a_broken_definition_is_refused_naming_file_place_and_fault(
    tmp_path: Path, old: str, new: str, place: str, fault: str
) -> None:
    path = write(tmp_path, edited(old, new))

    with pytest.raises(DefinitionError) as refusal:
        load_definition(path, VOCABULARY)

    assert refusal.value.place == place
    assert fault in refusal.value.fault
    assert refusal.value.source == str(path)
    assert str(path) in str(refusal.value)
    assert place in str(refusal.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(DefinitionError, match="cannot be read") as refusal:
        load_definition(path, VOCABULARY)

    assert str(path) in str(refusal.value)


def test_a_broken_file_in_a_folder_stops_the_registry_from_loading(tmp_path: Path) -> None:
    write(tmp_path, edited('starts = ["register"]', 'starts = ["registration"]'))

    with pytest.raises(DefinitionError) as refusal:
        WorkflowRegistry.load(VOCABULARY, tmp_path)

    assert refusal.value.place == "clocks.intake_decision.starts[0]"


def test_a_guard_written_as_text_instead_of_a_table_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        edited(
            '[guards.followed_up]\nrule = "A case with',
            '[guards]\nfollowed_up = "The rule: a case with',
        ),
    )

    with pytest.raises(DefinitionError) as refusal:
        load_definition(path, VOCABULARY)

    assert refusal.value.place == "guards.followed_up"


def test_a_table_where_a_name_belongs_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        edited(
            'to = "awaiting_routing"\nroles = ["clerk", "supervisor"]\n[actions.reject]',
            'to = "awaiting_routing"\nroles = ["clerk", { name = "judge" }]\n[actions.reject]',
        ),
    )

    with pytest.raises(DefinitionError) as refusal:
        load_definition(path, VOCABULARY)

    assert refusal.value.place == "actions.accept.roles[1]"


def test_a_clock_with_a_blank_rule_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        edited('rule = "Decide on a registered dispute within 1 day"', 'rule = "  "'),
    )

    with pytest.raises(DefinitionError) as refusal:
        load_definition(path, VOCABULARY)

    assert refusal.value.place == "clocks.intake_decision.rule"


def test_the_same_name_and_version_in_two_files_stops_the_registry(tmp_path: Path) -> None:
    copy = write(tmp_path, built_in_text(), "dispute.copy.toml")

    with pytest.raises(DefinitionError) as refusal:
        WorkflowRegistry.load(VOCABULARY, tmp_path)

    assert refusal.value.place == "version"
    assert "dispute@1 is defined in" in refusal.value.fault
    assert str(BUILT_IN_FILE) in refusal.value.fault
    assert str(copy) in str(refusal.value)


def test_two_new_files_with_the_same_version_stop_the_registry(tmp_path: Path) -> None:
    v2 = edited("version = 1\n", "version = 2\n")
    write(tmp_path, v2, "a.toml")
    second = write(tmp_path, v2, "b.toml")

    with pytest.raises(DefinitionError, match="dispute@2 is defined in") as refusal:
        WorkflowRegistry.load(VOCABULARY, tmp_path)

    assert refusal.value.source == str(second)


@pytest.fixture
def two_versions(tmp_path: Path) -> WorkflowRegistry:
    """Dispute v1 (built in) and a v2 with a 20-day mediation that only supervisors extend."""
    text = edited("version = 1\n", "version = 2\n")
    text = edited(
        '[actions.extend_deadline]\nfrom = ["mediating"]\nroles = ["mediator", "supervisor"]',
        '[actions.extend_deadline]\nfrom = ["mediating"]\nroles = ["supervisor"]',
        text,
    )
    text = edited('"terminate"]\ndays = 30', '"terminate"]\ndays = 20', text)
    write(tmp_path, text, "dispute.v2.toml")
    return WorkflowRegistry.load(VOCABULARY, tmp_path)


def test_new_cases_take_the_newest_version(two_versions: WorkflowRegistry) -> None:
    latest = two_versions.latest("dispute")

    assert latest.key == "dispute@2"
    assert latest.definition.clocks["mediation"].days_for("general") == 20
    assert latest.action("extend_deadline").roles == {"supervisor"}


def test_older_cases_keep_their_version(two_versions: WorkflowRegistry) -> None:
    first = two_versions.get("dispute@1")

    assert two_versions.keys() == ["dispute@1", "dispute@2"]
    assert first.definition.clocks["mediation"].days_for("general") == 30
    assert first.action("extend_deadline").roles == {"mediator", "supervisor"}


def test_an_undeployed_workflow_is_unknown(two_versions: WorkflowRegistry) -> None:
    with pytest.raises(UnknownWorkflowError, match="dispute@3"):
        two_versions.get("dispute@3")
    with pytest.raises(UnknownWorkflowError, match="tenancy"):
        two_versions.latest("tenancy")
