"""A case's history as the timeline shows it: each event's facts as labelled, translated text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mediation.application import HistoryEntry
from mediation.domain.values import Actor
from mediation.web.i18n import Translator
from mediation.web.vocabulary import ENUMS, HIDDEN_EVENT_DATA

# Fields whose values are words of the vocabulary (translated under this context).
WORDS = {name: name for name in ENUMS} | {"dispute_type": "dispute_type", "clock": "clock"}
MOMENTS = frozenset({"at", "due_at"})
DAYS = frozenset({"due", "effective_on", "applied_on", "decided_on", "signed_on"})
PARTY_REFS = frozenset({"party"})
PARTY_LISTS = frozenset({"signed_by", "consented_by"})


@dataclass(frozen=True)
class TimelineItem:
    version: int
    at: datetime
    actor: Actor
    type: str
    status_before: str | None
    status_after: str
    details: list[tuple[str, str]]


def timeline(
    entries: list[HistoryEntry], parties: Mapping[str, str], t: Translator
) -> list[TimelineItem]:
    """The entries in order, each with its facts as (label, text) pairs."""
    return [
        TimelineItem(
            version=entry.version,
            at=entry.at,
            actor=entry.actor,
            type=entry.type,
            status_before=entry.status_before,
            status_after=entry.status_after,
            details=details(entry.data, parties, t),
        )
        for entry in entries
    ]


def details(
    data: Mapping[str, Any], parties: Mapping[str, str], t: Translator
) -> list[tuple[str, str]]:
    shown = []
    for key, value in data.items():
        if key in HIDDEN_EVENT_DATA or value is None or value == [] or value == {}:
            continue
        shown.append((t.term("field", key), shown_value(key, value, parties, t)))
    return shown


def shown_value(key: str, value: Any, parties: Mapping[str, str], t: Translator) -> str:
    if isinstance(value, bool):
        return t.gettext("yes") if value else t.gettext("no")
    if key in WORDS:
        return t.term(WORDS[key], value)
    if key in PARTY_REFS:
        return parties.get(str(value), str(value))
    if key in PARTY_LISTS and isinstance(value, list):
        return "、".join(parties.get(str(v), str(v)) for v in value)
    if key == "parties" and isinstance(value, list):
        return "; ".join(_party(p, t) for p in value if isinstance(p, dict))
    if key == "changes" and isinstance(value, dict):
        return "; ".join(
            f"{t.term('field', k)}: {shown_value(k, v, parties, t)}" for k, v in value.items()
        )
    if key in MOMENTS | DAYS and isinstance(value, str):
        return _moment(value, t, day=key in DAYS)
    return str(value)


def _party(party: dict[str, Any], t: Translator) -> str:
    return f"{party.get('name', '')} ({t.term('party_role', party.get('role'))})"


def _moment(text: str, t: Translator, day: bool) -> str:
    try:
        if day:
            return t.day(date.fromisoformat(text))
        return t.moment(datetime.fromisoformat(text))
    except ValueError:
        return text
