"""`mediation audit verify [CASE] [--anchors FILE]` and `mediation audit anchor --out FILE`."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from mediation.bootstrap import Services
from mediation.domain import commands as c
from tests.operations.operations_support import (
    a_case,
    configure,
    cut_events,
    damage_event,
    edit_event,
    run,
)
from tests.support import Org


@pytest.fixture
def two_cases(services: Services, org: Org, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """Two cases of four events each (versions 1-4), with the commands pointed at their store."""
    configure(monkeypatch, services.database)
    return [a_case(services, org.actors["clerk"]) for _ in range(2)]


@pytest.fixture
def anchors(two_cases: list[UUID], tmp_path: Path) -> Path:
    path = tmp_path / "inspector" / "anchors.json"
    path.parent.mkdir()
    result = run("audit", "anchor", "--out", str(path))
    assert result.exit_code == 0, result.output
    return path


def test_an_intact_store_verifies_with_exit_0(two_cases: list[UUID]) -> None:
    result = run("audit", "verify")

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "checked 2 case(s): every history intact" in result.stderr


def test_an_event_edited_by_sql_makes_verify_exit_1_naming_that_case_only(
    services: Services, two_cases: list[UUID]
) -> None:
    edited, untouched = two_cases
    edit_event(services, edited, 3, {"text": "没有查看 no visit"})

    result = run("audit", "verify")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{edited}: version 4 does not follow version 3: edited or reordered"
    ]
    assert str(untouched) not in result.stdout


def test_the_log_s_first_event_damaged_is_named_not_taken_for_a_wrong_key(
    services: Services, two_cases: list[UUID]
) -> None:
    damaged, untouched = two_cases
    assert services.cases.recorder.select_notifications(1, 1)[0].originator_id == damaged
    damage_event(services, damaged, 1)  # the store's very first event

    result = run("audit", "verify")

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{damaged}: version 1 cannot be read (MapperDeserialisationError)"
    ]
    assert "MEDIATION_CIPHER_KEY" not in result.output
    assert str(untouched) not in result.stdout


def test_verify_of_one_case_checks_only_that_case(
    services: Services, two_cases: list[UUID]
) -> None:
    edited, untouched = two_cases
    edit_event(services, edited, 2, {"actor": "{}"})

    assert run("audit", "verify", str(untouched)).exit_code == 0
    assert run("audit", "verify", str(edited)).exit_code == 1


def test_verify_of_an_unknown_case_is_a_usage_error(two_cases: list[UUID]) -> None:
    result = run("audit", "verify", str(uuid4()))

    assert result.exit_code == 2
    assert "not found" in result.stderr


def test_a_case_whose_first_event_was_cut_is_still_named(
    services: Services, two_cases: list[UUID]
) -> None:
    cut = two_cases[0]
    cut_events(services, cut, 1, 1)  # its `Registered` event: it is gone from the case list

    result = run("audit", "verify")

    assert result.exit_code == 1
    assert f"{cut}: version 1 is missing (found 2)" in result.stdout


def test_editing_the_last_event_passes_the_chain_alone_but_not_the_anchors(
    services: Services, two_cases: list[UUID], anchors: Path
) -> None:
    edited = two_cases[1]
    edit_event(services, edited, 4, {"text": "篡改 tampered"})

    without = run("audit", "verify")
    with_anchors = run("audit", "verify", "--anchors", str(anchors))

    assert without.exit_code == 0  # the documented limitation: nothing follows the last event
    assert with_anchors.exit_code == 1
    assert with_anchors.stdout.splitlines() == [
        f"{edited}: version 4 is not the anchored event: edited"
    ]


def test_cutting_the_last_events_passes_the_chain_alone_but_not_the_anchors(
    services: Services, two_cases: list[UUID], anchors: Path
) -> None:
    cut = two_cases[0]
    cut_events(services, cut, 3)

    without = run("audit", "verify")
    with_anchors = run("audit", "verify", "--anchors", str(anchors))

    assert without.exit_code == 0  # the documented limitation: a shorter chain is still whole
    assert with_anchors.exit_code == 1
    assert with_anchors.stdout.splitlines() == [
        f"{cut}: history cut: it ends at version 2, anchored at version 4"
    ]


def test_a_whole_anchored_case_deleted_is_named(
    services: Services, two_cases: list[UUID], anchors: Path
) -> None:
    gone = two_cases[1]
    cut_events(services, gone, 1)

    result = run("audit", "verify", "--anchors", str(anchors))

    assert result.exit_code == 1
    assert f"{gone}: every event is gone (anchored at version 4)" in result.stdout


def test_events_added_after_anchoring_still_verify_against_the_anchors(
    services: Services, org: Org, two_cases: list[UUID], anchors: Path
) -> None:
    grown = two_cases[0]
    a_case(services, org.actors["clerk"])  # a case the anchors do not know
    services.cases.act(grown, c.AddNote("后来 later"), org.actors["clerk"])

    result = run("audit", "verify", "--anchors", str(anchors))

    assert result.exit_code == 0, result.output
    assert "checked 3 case(s), 2 anchored: every history intact" in result.stderr


def test_the_anchor_file_holds_each_case_s_event_count_and_head_digest(
    services: Services, two_cases: list[UUID], anchors: Path
) -> None:
    document = json.loads(anchors.read_text(encoding="utf-8"))

    assert document["format"] == "mediation-anchors/1"
    for case_id in two_cases:
        check = services.cases.verify_chain(case_id)
        assert document["cases"][str(case_id)] == {"version": 4, "digest": check.head}


def test_a_file_that_is_not_an_anchor_file_is_a_usage_error(
    two_cases: list[UUID], tmp_path: Path
) -> None:
    bogus = tmp_path / "anchors.json"
    bogus.write_text('{"cases": []}', encoding="utf-8")

    result = run("audit", "verify", "--anchors", str(bogus))

    assert result.exit_code == 2
    assert "--anchors" in result.stderr


def test_anchors_into_a_missing_folder_are_refused_before_the_pass(
    two_cases: list[UUID], tmp_path: Path
) -> None:
    result = run("audit", "anchor", "--out", str(tmp_path / "no" / "such" / "anchors.json"))

    assert result.exit_code == 2
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.output
