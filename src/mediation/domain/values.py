"""Value types shared by the case aggregate, its commands and its events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CLERK = "clerk"
    MEDIATOR = "mediator"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    RULES = "rules"


class PartyRole(StrEnum):
    APPLICANT = "applicant"
    RESPONDENT = "respondent"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    RED = "red"


class Complexity(StrEnum):
    SIMPLE = "simple"
    GENERAL = "general"
    COMPLEX = "complex"


class Channel(StrEnum):
    WINDOW = "window"
    HOTLINE = "hotline"
    GRID = "grid"
    COURT_REFERRAL = "court_referral"
    POLICE_REFERRAL = "police_referral"
    ONLINE = "online"
    OTHER = "other"


class Referral(StrEnum):
    LITIGATION = "litigation"
    ARBITRATION = "arbitration"
    ADMINISTRATIVE = "administrative"
    NONE = "none"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    BREACHED = "breached"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"
    REJECTED = "rejected"


class CourtDecision(StrEnum):
    CONFIRMED = "confirmed"
    REFUSED = "refused"


@dataclass(frozen=True)
class Actor:
    """Who gave a command: a person (username) or a rule (`rules:<name>`), in a role, at a center."""

    user: str
    role: Role
    center: str

    @classmethod
    def rule(cls, name: str, center: str) -> Actor:
        return cls(user=f"rules:{name}", role=Role.RULES, center=center)


@dataclass(frozen=True)
class Party:
    """A party to the dispute; `phone` and `id_number` are personal data (PML art. 15)."""

    id: str
    role: PartyRole
    name: str
    phone: str | None = None
    id_number: str | None = None
