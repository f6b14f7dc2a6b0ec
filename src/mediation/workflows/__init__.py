"""Workflow definitions as data, and the state machines built from them."""

from mediation.workflows.definition import (
    ActionSpec,
    ClockSpec,
    Definition,
    DefinitionError,
    StatusSpec,
    Vocabulary,
    load_definition,
)
from mediation.workflows.machine import ActionUnavailable, GuardRefused, Transition, Workflow
from mediation.workflows.registry import UnknownWorkflowError, WorkflowRegistry

__all__ = [
    "ActionSpec",
    "ActionUnavailable",
    "ClockSpec",
    "Definition",
    "DefinitionError",
    "GuardRefused",
    "StatusSpec",
    "Transition",
    "UnknownWorkflowError",
    "Vocabulary",
    "Workflow",
    "WorkflowRegistry",
    "load_definition",
]
