"""The intake form: a registration with any number of party rows, and every error it has at once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from starlette.datastructures import FormData

from mediation.domain import commands as c
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import Channel, Complexity, PartyRole, Risk
from mediation.web.i18n import N_

PARTY_FIELDS = ("role", "name", "phone", "id_number")
MAX_PARTIES = c.PARTIES
PARTY_ROW = re.compile(r"parties-(\d{1,4})-role")
E = TypeVar("E", bound=StrEnum)
TEXT_FIELDS = ("dispute_type", "summary", "place", "center")
REQUIRED = ("dispute_type", "channel", "summary")


@dataclass
class Intake:
    """What the clerk typed, row by row, and the errors by field (`parties[1].name` and so on)."""

    values: dict[str, str] = field(default_factory=dict)
    parties: list[dict[str, str]] = field(default_factory=list)
    errors: dict[str, InvalidFieldError] = field(default_factory=dict)

    @classmethod
    def blank(cls) -> Intake:
        defaults = {"channel": "window", "risk": "low", "complexity": "general"}
        rows = [_row(PartyRole.APPLICANT), _row(PartyRole.RESPONDENT)]
        return cls(values=defaults, parties=rows)

    @classmethod
    def posted(cls, form: FormData) -> Intake:
        names = ("channel", "risk", "complexity", *TEXT_FIELDS)
        values = {name: str(form.get(name, "")).strip() for name in names}
        indexes = sorted(
            {int(found[1]) for key in form if (found := PARTY_ROW.fullmatch(key)) is not None}
        )
        rows = [
            {k: str(form.get(f"parties-{index}-{k}", "")).strip() for k in PARTY_FIELDS}
            for index in indexes
        ]  # every row sent: more than MAX_PARTIES are refused by the command, not dropped
        return cls(values=values, parties=rows)

    def add_party(self) -> None:
        if len(self.parties) < MAX_PARTIES:
            self.parties.append(_row(PartyRole.RESPONDENT))
        else:
            self._error(InvalidFieldError("parties", f"must be at most {MAX_PARTIES} parties"))

    def remove_party(self, index: int) -> None:
        if 0 <= index < len(self.parties):
            del self.parties[index]

    def command(self) -> c.Register | None:
        """The registration, or None with `errors` filled (as many as can be told at once)."""
        for name in REQUIRED:
            if not self.values.get(name):
                self._error(InvalidFieldError(name, N_("is required")))
        channel = self._choice("channel", Channel, Channel.WINDOW)
        risk = self._choice("risk", Risk, Risk.LOW)
        complexity = self._choice("complexity", Complexity, Complexity.GENERAL)
        parties = [self._party(index, row) for index, row in enumerate(self.parties)]
        if self.errors or channel is None or risk is None or complexity is None:
            return None
        command = c.Register(
            dispute_type=self.values["dispute_type"],
            channel=channel,
            summary=self.values["summary"],
            parties=tuple(p for p in parties if p is not None),
            risk=risk,
            complexity=complexity,
            place=self.values.get("place") or None,
            center=self.values.get("center") or None,
        )
        try:
            command.validate()
        except InvalidFieldError as error:
            self._error(error)
            return None
        return command

    def _choice(self, name: str, enum: type[E], default: E) -> E | None:
        try:
            return enum(self.values.get(name) or default)
        except ValueError:
            self._error(InvalidFieldError(name, N_("choose one of the options")))
            return None

    def _party(self, index: int, row: dict[str, str]) -> c.NewParty | None:
        place = f"parties[{index}]"
        if row["role"] not in {role.value for role in PartyRole}:
            self._error(InvalidFieldError(f"{place}.role", N_("choose one of the options")))
            return None
        party = c.NewParty(
            PartyRole(row["role"]), row["name"], row["phone"] or None, row["id_number"] or None
        )
        if not row["name"]:
            self._error(InvalidFieldError(f"{place}.name", N_("is required")))
            return None
        try:
            party.validate(place)
        except InvalidFieldError as error:
            self._error(error)
            return None
        return party

    def _error(self, error: InvalidFieldError) -> None:
        self.errors.setdefault(error.field, error)


def _row(role: PartyRole) -> dict[str, str]:
    return {"role": role.value, "name": "", "phone": "", "id_number": ""}
