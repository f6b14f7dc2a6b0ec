"""The audit trail as CSV: one line per event, its facts as JSON in the last column.

Text cells that a spreadsheet would take for a formula are written as `stats_csv` writes them
(see `stats_csv.text_cell`): an actor's name, a status, a center are typed in somewhere.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC
from itertools import islice

from mediation.projections.audit_query import AuditEntry
from mediation.projections.stats_csv import text_cell
from mediation.store import json_text

HEADER = (
    "position",
    "at",
    "case_id",
    "case_version",
    "center",
    "type",
    "actor",
    "actor_role",
    "actor_center",
    "status_before",
    "status_after",
    "data",
)
LINES_PER_CHUNK = 200  # lines written to the client at once


def audit_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The header, then the entries' lines, a chunk of LINES_PER_CHUNK at a time."""
    yield _lines([HEADER])
    rest = iter(entries)
    while chunk := list(islice(rest, LINES_PER_CHUNK)):
        yield _lines(_line(entry) for entry in chunk)


def _lines(rows: Iterable[Iterable[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def _line(entry: AuditEntry) -> tuple[str, ...]:
    actor = entry.actor
    return (
        str(entry.position),
        entry.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        str(entry.case_id),
        str(entry.version),
        text_cell(entry.center),
        entry.type,
        text_cell(actor.user),
        str(actor.role),
        text_cell(actor.center),
        text_cell(entry.status_before),
        text_cell(entry.status_after),
        text_cell(json_text(entry.data)),
    )
