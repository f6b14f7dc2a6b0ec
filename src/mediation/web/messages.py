"""The engine's refusals in the user's language: field reasons, rules quoted, conflicts explained."""

from __future__ import annotations

import re

from mediation.domain.errors import (
    ActionNotAllowedError,
    ConcurrentChangeError,
    InvalidFieldError,
    MediationError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    StaleVersionError,
)
from mediation.web.i18n import N_, Translator

# The reasons InvalidFieldError gives, as patterns; their groups fill the message's placeholders.
REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"must not be blank", N_("must not be blank")),
        (r"must be at most (?P<n>\d+) characters", N_("must be at most %(n)s characters")),
        (r"must be at most (?P<n>\d+) parties", N_("must be at most %(n)s parties")),
        (r"must be at least (?P<n>\d+) characters", N_("must be at least %(n)s characters")),
        (
            r"must be between (?P<low>\d+) and (?P<high>\d+)",
            N_("must be between %(low)s and %(high)s"),
        ),
        (r"at least one applicant is required", N_("at least one applicant is required")),
        (r"at least one respondent is required", N_("at least one respondent is required")),
        (r"must be 3 to 32 digits", N_("must be 3 to 32 digits, spaces, + or -")),
        (r"must be 4 to 32 letters or digits", N_("must be 4 to 32 letters or digits")),
        (r"must carry a time zone offset", N_("must carry a time zone offset")),
        (r"must not be after the decision's date", N_("must not be after the decision's date")),
        (r"must not be in the future", N_("must not be in the future")),
        (r"must not be in the past", N_("must not be in the past")),
        (r"must not be before mediation began", N_("must not be before the mediation began")),
        (r"must be within (?P<n>\d+) days from today", N_("must be within %(n)s days from today")),
        (r"must not be before (from|since)", N_("must not be before the start date")),
        (r"must be one of |is not a (phase|status) of", N_("choose one of the options")),
        (r"must be resolved or breached", N_("must be resolved or breached")),
        (r"name at least one field to change", N_("change at least one field")),
        (r"is not a mediator of center", N_("is not a mediator of this center")),
        (r"no party '.*' in this case", N_("is not a party of this case")),
        (r"no center '", N_("no such center")),
        (r"was used before for a different request", N_("this form was sent before; reload it")),
        (
            r"give an ID number, or a name and a phone",
            N_("give an ID number, or a name and a phone"),
        ),
        (r"looked up with a (name|phone): give both", N_("give both the name and the phone")),
        (r"is required", N_("is required")),
        (r"is not a case number", N_("is not a case number")),
        (r"choose at least one party", N_("choose at least one party")),
        (r"choose one of the options", N_("choose one of the options")),
        (r"choose yes or no", N_("choose yes or no")),
        (r"must be a whole number", N_("must be a whole number")),
        (r"must be a date and time", N_("must be a date and time")),
        (r"must be a date", N_("must be a date")),
        (
            r"more than (?P<n>[\d,]+) events match",
            N_("more than %(n)s events match: choose a shorter time range"),
        ),
    )
)


def field_reason(error: InvalidFieldError, t: Translator) -> str:
    """Why a field's value was refused, in the user's language (the engine's words if unknown)."""
    for pattern, message in REASONS:
        found = pattern.search(error.reason)
        if found:
            return t.gettext(message, **found.groupdict())
    return error.reason


def refusal(error: MediationError, t: Translator) -> str:
    """A refusal that concerns no single field, as one sentence."""
    if isinstance(error, RuleViolationError):
        return t.gettext(
            "“%(action)s” is not possible yet. The rule: “%(rule)s”",
            action=t.term("action", error.action),
            rule=t.term("rule", error.rule),
        )
    if isinstance(error, ActionNotAllowedError):
        return t.gettext(
            "“%(action)s” is not possible while the case is “%(status)s”.",
            action=t.term("action", error.action),
            status=t.term("status", error.status),
        )
    if isinstance(error, StaleVersionError | ConcurrentChangeError):
        return t.gettext(
            "Someone else changed this case meanwhile. Check the case as it is now and try again."
        )
    if isinstance(error, PermissionDeniedError):
        return t.gettext("You may not do this.")
    if isinstance(error, NotFoundError):
        return t.gettext("Not found.")
    if isinstance(error, InvalidFieldError):
        return f"{t.term('field', error.field)}: {field_reason(error, t)}"
    return t.gettext("The request was refused: %(reason)s", reason=str(error))
