"""Audit the stored case histories: each case's hash chain, and anchors kept outside the store.

The chain shows an edit, a reordering or a cut anywhere but at the end of a history: editing or
cutting the last events leaves a shorter chain that is still whole. An anchor (a case's event
count and the digest of its last event, written to a file an inspector keeps elsewhere) catches
those too: the history must still reach the anchored version, with the anchored digest there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from mediation.application import CaseApplication
from mediation.domain.case import Case
from mediation.domain.chain import digest
from mediation.domain.errors import CaseNotFoundError, InvalidFieldError

ANCHORS_FORMAT = "mediation-anchors/1"
_PAGE = 1000


@dataclass(frozen=True)
class Anchor:
    """Where a case's history stood when anchored: its last version and that event's digest."""

    case_id: UUID
    version: int
    digest: str


@dataclass(frozen=True)
class Finding:
    """A case whose stored history is not the one that was written."""

    case_id: UUID
    problem: str


def stored_case_ids(cases: CaseApplication) -> list[UUID]:
    """Every case with an event in the log, in log order: also one whose first event was cut."""
    prefix = get_topic(Case) + "."
    seen: dict[UUID, None] = {}
    start = 1
    while page := cases.recorder.select_notifications(start, _PAGE):
        for notification in page:
            if notification.topic.startswith(prefix):
                seen.setdefault(UUID(str(notification.originator_id)))
        start = page[-1].id + 1
    return list(seen)


def cases_to_check(cases: CaseApplication, anchors: Mapping[UUID, Anchor]) -> list[UUID]:
    """The stored cases, then any anchored case the store no longer holds at all."""
    stored = stored_case_ids(cases)
    return stored + sorted(set(anchors) - set(stored), key=str)


def check_case(
    cases: CaseApplication, case_id: UUID, anchor: Anchor | None = None
) -> Finding | None:
    """What is wrong with one case's stored history, or None when it is intact (and anchored)."""
    try:
        check = cases.verify_chain(case_id)
    except CaseNotFoundError:
        if anchor is None:
            raise
        return Finding(case_id, f"every event is gone (anchored at version {anchor.version})")
    if not check.intact:
        return Finding(case_id, check.problem or "the chain is broken")
    if anchor is None:
        return None
    if check.events < anchor.version:
        return Finding(
            case_id,
            f"history cut: it ends at version {check.events}, anchored at version {anchor.version}",
        )
    found = (
        check.head if check.events == anchor.version else digest_at(cases, case_id, anchor.version)
    )
    if found != anchor.digest:
        return Finding(case_id, f"version {anchor.version} is not the anchored event: edited")
    return None


def verify(
    cases: CaseApplication, case_ids: Iterable[UUID], anchors: Mapping[UUID, Anchor]
) -> list[Finding]:
    """Check each case (with its anchor, if any); the ones found broken."""
    found = (check_case(cases, case_id, anchors.get(case_id)) for case_id in case_ids)
    return [finding for finding in found if finding is not None]


def digest_at(cases: CaseApplication, case_id: UUID, version: int) -> str:
    """The digest of the case's stored event at `version` (which must exist and decode)."""
    (record,) = cases.recorder.select_events(case_id, gt=version - 1, lte=version)
    return digest(cases.mapper.to_domain_event(record))


def take_anchors(cases: CaseApplication) -> tuple[list[Anchor], list[Finding]]:
    """An anchor for every intact case; the broken ones, which get none."""
    anchors, broken = [], []
    for case_id in stored_case_ids(cases):
        check = cases.verify_chain(case_id)
        if check.intact:
            anchors.append(Anchor(case_id, check.events, check.head))
        else:
            broken.append(Finding(case_id, check.problem or "the chain is broken"))
    return anchors, broken


def write_anchors(path: Path, anchors: Iterable[Anchor], taken_at: datetime) -> None:
    """Write the anchors as JSON; a file is replaced whole, never left half-written."""
    document = {
        "format": ANCHORS_FORMAT,
        "taken_at": taken_at.isoformat(),
        "cases": {str(a.case_id): {"version": a.version, "digest": a.digest} for a in anchors},
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def read_anchors(path: Path) -> dict[UUID, Anchor]:
    """The anchors in a file written by `write_anchors`; InvalidFieldError if it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != ANCHORS_FORMAT:
            raise ValueError(f"not a {ANCHORS_FORMAT} file")
        return {UUID(key): _anchor(UUID(key), value) for key, value in document["cases"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidFieldError("--anchors", f"{path}: {error}") from None


def _anchor(case_id: UUID, value: Any) -> Anchor:
    version, head = value["version"], value["digest"]
    if not isinstance(version, int) or version < 1 or not isinstance(head, str):
        raise ValueError(f"case {case_id}: a version of 1 or more and a digest are needed")
    return Anchor(case_id, version, head)
