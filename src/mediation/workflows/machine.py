"""The `transitions` machine built from a definition: which action is allowed, where it leads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transitions import Machine, MachineError

from mediation.workflows.definition import ActionSpec, Definition

GuardCheck = Callable[[str], str | None]
"""Evaluates a guard by name: None when it holds, else a short detail of why it does not."""


class ActionUnavailableError(Exception):
    """The action has no transition from the current status."""

    def __init__(self, action: str, status: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{action} not allowed in {status}")
        self.action = action
        self.status = status
        self.allowed = allowed


class GuardRefusedError(Exception):
    """A guard of the transition does not hold; carries the rule it serves."""

    def __init__(self, action: str, guard: str, rule: str, detail: str) -> None:
        super().__init__(f"{action}: {guard}: {detail}")
        self.action = action
        self.guard = guard
        self.rule = rule
        self.detail = detail


@dataclass(frozen=True)
class Transition:
    action: str
    source: str
    dest: str

    @property
    def changes_status(self) -> bool:
        return self.source != self.dest


def _no_check(_guard: str) -> str | None:
    return "no decision in progress"


class _Probe:
    """The machine's one model: put in a case's status, moved by an action, its guards asking
    the check of the decision in progress (set under the workflow's lock)."""

    def __init__(self, guards: frozenset[str]) -> None:
        self._guards = guards
        self._check: GuardCheck = _no_check

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._guards:
            raise AttributeError(name)
        return lambda *_args, **_kwargs: self._check(name) is None


class Workflow:
    """One definition's machine; stateless to its callers (cases keep their status themselves)."""

    def __init__(self, definition: Definition) -> None:
        self.definition = definition
        self._guard_names = frozenset(definition.guards)
        self._lock = threading.Lock()
        self._machine = Machine(
            model=None,
            states=list(definition.statuses),
            initial=definition.initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=False,
        )
        for spec in definition.actions.values():
            self._machine.add_transition(
                trigger=spec.name,
                source=list(spec.sources),
                dest=spec.dest,  # None: an internal transition, the status stays
                conditions=list(spec.guards),
            )
        # Added once: adding a model defines a method per action on it, too slow per decision.
        self._probe = _Probe(self._guard_names)
        self._machine.add_model(self._probe, initial=definition.initial)

    @property
    def key(self) -> str:
        return self.definition.key

    def action(self, name: str) -> ActionSpec:
        return self.definition.actions[name]

    def allowed_actions(self, status: str) -> tuple[str, ...]:
        """Actions with a transition from this status, guards aside, in definition order."""
        with self._lock:
            triggers = set(self._machine.get_triggers(status))
        return tuple(name for name in self.definition.actions if name in triggers)

    def decide(self, status: str, action: str, check: GuardCheck) -> Transition:
        """Where `action` leads from `status`; raises ActionUnavailableError or GuardRefusedError."""
        allowed = self.allowed_actions(status)
        if action not in allowed:
            raise ActionUnavailableError(action, status, allowed)
        for guard in self.action(action).guards:
            detail = check(guard)
            if detail is not None:
                raise GuardRefusedError(action, guard, self.definition.guards[guard], detail)
        probe = self._probe
        with self._lock:
            self._machine.set_state(status, model=probe)
            probe._check = check
            try:
                moved = probe.trigger(action)
                dest = str(probe.state)
            except MachineError:
                raise ActionUnavailableError(action, status, allowed) from None
            finally:
                probe._check = _no_check
        if not moved:  # a guard changed its answer between our check and the machine's
            raise GuardRefusedError(action, "?", "the workflow's guards refused the action", "")
        return Transition(action=action, source=status, dest=dest)
