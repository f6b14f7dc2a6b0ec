"""Forms for the actions, derived from the command dataclasses, and posted forms parsed back.

A parse error is an InvalidFieldError naming the field, exactly as the engine's own, so the page
shows either beside the field it concerns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from dataclasses import MISSING, dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from starlette.datastructures import FormData

from mediation.domain import commands as c
from mediation.domain.errors import InvalidFieldError
from mediation.web.i18n import N_
from mediation.web.vocabulary import ENUMS

# Fields whose choices come from the case or the center rather than from their type.
PARTY_FIELDS = frozenset({"party"})
PARTY_SETS = frozenset({"signed_by", "consented_by"})
MEDIATOR_FIELDS = frozenset({"mediator"})
# Choices narrower than the field's type allows.
NARROWED = {("close", "outcome"): ("resolved", "breached")}
# Parties are amended through a new registration of them; the web form changes the rest.
SKIPPED = frozenset({("amend", "parties")})
TEXTAREA_FROM = c.LONG


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # text, textarea, select, yesno, number, date, datetime, party, parties, mediator
    required: bool
    vocabulary: str | None = None  # the context of the choices' translations
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class ActionForm:
    action: str
    fields: tuple[FieldSpec, ...]


@cache
def action_form(action: str) -> ActionForm:
    command = c.ACTION_COMMANDS[action]
    hints = typing.get_type_hints(command)
    specs = [
        _spec(command, f, hints[f.name])
        for f in dataclasses.fields(command)
        if (action, f.name) not in SKIPPED
    ]
    return ActionForm(action, tuple(specs))


def _spec(command: type[c.Command], field: dataclasses.Field[Any], hint: Any) -> FieldSpec:
    required = field.default is MISSING
    default = None if field.default is MISSING else field.default
    base = _without_none(hint)
    name = field.name
    if name in PARTY_FIELDS:
        return FieldSpec(name, "party", required)
    if name in PARTY_SETS:
        return FieldSpec(name, "parties", required)
    if name in MEDIATOR_FIELDS:
        return FieldSpec(name, "mediator", required)
    if isinstance(base, type) and issubclass(base, StrEnum):
        kind = next(k for k, enum in ENUMS.items() if enum is base)
        narrowed = NARROWED.get((command.ACTION, name))
        choices = narrowed or tuple(member.value for member in base)
        return FieldSpec(name, "select", required, kind, choices, default)
    simple = {bool: "yesno", int: "number", dt.datetime: "datetime", dt.date: "date"}
    if base in simple:
        return FieldSpec(name, simple[base], required, default=default)
    limit = command.TEXT_LIMITS.get(name, 0)
    return FieldSpec(name, "textarea" if limit >= TEXTAREA_FROM else "text", required)


def _without_none(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        return members[0] if len(members) == 1 else hint
    return hint


def parse_action(action: str, form: FormData, zone: dt.tzinfo) -> c.Command:
    """The command a posted action form gives; InvalidFieldError naming a field it cannot take."""
    values = {spec.name: _value(spec, form, zone) for spec in action_form(action).fields}
    given = {name: value for name, value in values.items() if value is not None}
    return c.ACTION_COMMANDS[action](**given)


def _value(spec: FieldSpec, form: FormData, zone: dt.tzinfo) -> Any:
    if spec.kind == "parties":
        chosen = tuple(str(v) for v in form.getlist(spec.name) if str(v))
        if spec.required and not chosen:
            raise InvalidFieldError(spec.name, N_("choose at least one party"))
        return chosen
    text = str(form.get(spec.name, "")).strip()
    if not text:
        if spec.required:
            raise InvalidFieldError(spec.name, N_("is required"))
        return None
    return _converted(spec, text, zone)


def _converted(spec: FieldSpec, text: str, zone: dt.tzinfo) -> Any:
    try:
        if spec.kind == "yesno":
            return {"yes": True, "no": False}[text]
        if spec.kind == "number":
            return int(text)
        if spec.kind == "date":
            return dt.date.fromisoformat(text)
        if spec.kind == "datetime":
            moment = dt.datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    except (KeyError, ValueError):
        raise InvalidFieldError(spec.name, BAD_VALUE[spec.kind]) from None
    if spec.kind == "select":
        if text not in spec.choices or spec.vocabulary is None:
            raise InvalidFieldError(spec.name, N_("choose one of the options"))
        return ENUMS[spec.vocabulary](text)
    return text


BAD_VALUE = {
    "yesno": N_("choose yes or no"),
    "number": N_("must be a whole number"),
    "date": N_("must be a date"),
    "datetime": N_("must be a date and time"),
}
