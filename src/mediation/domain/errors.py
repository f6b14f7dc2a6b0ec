"""One error hierarchy; the API maps each kind to an HTTP status in exactly one place."""

from __future__ import annotations

from collections.abc import Sequence


class MediationError(Exception):
    """Base of every error this package raises on purpose."""


class NotFoundError(MediationError):
    """Something named does not exist (HTTP 404)."""


class CaseNotFoundError(NotFoundError):
    def __init__(self, case_id: object) -> None:
        super().__init__(f"case {case_id} not found")
        self.case_id = case_id


class InvalidFieldError(MediationError):
    """A value given for a field is not acceptable (HTTP 422, CLI exit 2)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PermissionDeniedError(MediationError):
    """The actor may not do this (HTTP 403)."""


class ConflictError(MediationError):
    """The request conflicts with the current state (HTTP 409)."""


class ActionNotAllowedError(ConflictError):
    """The action is not allowed in the case's current status."""

    def __init__(self, action: str, status: str, allowed: Sequence[str]) -> None:
        listed = ", ".join(allowed) or "none"
        super().__init__(f"'{action}' is not allowed in status '{status}'; allowed now: {listed}")
        self.action = action
        self.status = status
        self.allowed = tuple(allowed)


class RuleViolationError(ConflictError):
    """A guard of the workflow refused the action; carries the rule it serves."""

    def __init__(self, action: str, guard: str, rule: str, detail: str = "") -> None:
        text = f"'{action}' refused by guard '{guard}': {rule}"
        super().__init__(f"{text} ({detail})" if detail else text)
        self.action = action
        self.guard = guard
        self.rule = rule
        self.detail = detail


class ConcurrentChangeError(ConflictError):
    """Someone else changed the case first; reload and try again."""


class StaleVersionError(MediationError):
    """The caller's expected version is not the current one (HTTP 412)."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"expected version {expected}, but the case is at version {current}")
        self.expected = expected
        self.current = current


class DuplicateError(ConflictError):
    """Something with that key exists already."""


class BreachEscalatedAlreadyError(ConflictError):
    """A rule found this breach escalated before: nothing more to do, exactly once."""

    def __init__(self, breach: str, detail: str = "was escalated already") -> None:
        super().__init__(f"breach {breach} {detail}")
        self.breach = breach


class BreachGoneError(BreachEscalatedAlreadyError):
    """The breach a rule saw is no longer the case's: someone acted on the case meanwhile (the
    deadline's clock stopped, the risk graded down). The rule looks at the case again."""

    def __init__(self, breach: str) -> None:
        super().__init__(breach, "is no longer the case's (it changed meanwhile)")
