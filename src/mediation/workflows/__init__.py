"""Workflow definitions as data, and the state machines built from them."""

from mediation.workflows.definition import (
    ActionSpec,
    ClockSpec,
    Definition,
    DefinitionError,
    EscalationSpec,
    StatusSpec,
    Vocabulary,
    load_definition,
)
from mediation.workflows.machine import (
    ActionUnavailableError,
    GuardRefusedError,
    Transition,
    Workflow,
)
from mediation.workflows.registry import UnknownWorkflowError, WorkflowRegistry

__all__ = [
    "ActionSpec",
    "ActionUnavailableError",
    "ClockSpec",
    "Definition",
    "DefinitionError",
    "EscalationSpec",
    "GuardRefusedError",
    "StatusSpec",
    "Transition",
    "UnknownWorkflowError",
    "Vocabulary",
    "Workflow",
    "WorkflowRegistry",
    "load_definition",
]
