"""The engine's words the pages show, each translated under a context (`pgettext(kind, word)`).

Statuses, actions, clocks and rules come from the deployed workflow definitions; the rest from the
domain's value types, commands and events. `required_terms` lists them all, so a test can check
that every catalogue translates each one.
"""

from __future__ import annotations

import dataclasses
import inspect
from enum import StrEnum

from mediation.domain import commands as c
from mediation.domain.case import Case, event_types
from mediation.domain.values import (
    Channel,
    Complexity,
    CourtDecision,
    Outcome,
    PartyRole,
    Referral,
    Risk,
    Role,
)
from mediation.projections.stats_query import COUNTED
from mediation.workflows import WorkflowRegistry

# Dispute types offered in the intake form (the engine accepts any short text).
DISPUTE_TYPES = (
    "neighbour",
    "family",
    "marriage",
    "inheritance",
    "land",
    "property",
    "debt",
    "contract",
    "labour",
    "consumer",
    "traffic",
    "medical",
    "other",
)

ENUMS: dict[str, type[StrEnum]] = {
    "risk": Risk,
    "channel": Channel,
    "complexity": Complexity,
    "referral": Referral,
    "outcome": Outcome,
    "decision": CourtDecision,
    "party_role": PartyRole,
    "role": Role,
}

# Event data never shown in the timeline: bookkeeping, or shown some other way.
HIDDEN_EVENT_DATA = frozenset({"clocks_started", "clocks_stopped", "fingerprint", "workflow"})


def field_names() -> set[str]:
    """Every field of a command or an event the pages may label."""
    names = {f.name for cls in (c.Register, c.NewParty) for f in dataclasses.fields(cls)}
    for command in c.ACTION_COMMANDS.values():
        names |= {f.name for f in dataclasses.fields(command)}
    for name in event_types():
        names |= set(inspect.get_annotations(getattr(Case, name)))
    return names - HIDDEN_EVENT_DATA


def required_terms(workflows: WorkflowRegistry) -> set[tuple[str, str]]:
    """Every (context, word) pair the pages may translate."""
    terms: set[tuple[str, str]] = set()
    deployed = workflows.keys()
    for key in deployed:
        definition = workflows.get(key).definition
        terms |= {("status", name) for name in definition.statuses}
        terms |= {("phase", name) for name in definition.phases}
        terms |= {("action", name) for name in definition.actions}
        terms |= {("clock", name) for name in definition.clocks}
        rules = [*definition.guards.values(), *(k.rule for k in definition.clocks.values())]
        rules += [definition.escalation.red_risk, definition.escalation.supervision]
        terms |= {("rule", text) for text in rules}
    for kind, enum in ENUMS.items():
        terms |= {(kind, member.value) for member in enum}
    terms |= {("dispute_type", name) for name in DISPUTE_TYPES}
    terms |= {("measure", name) for name in COUNTED}
    terms |= {("period", name) for name in ("month", "week", "day")}
    terms |= {("event", name) for name in event_types()}
    terms |= {("field", name) for name in field_names()}
    return terms
