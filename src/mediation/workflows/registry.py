"""All deployed workflow definitions, by name and version; new cases take the newest version."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from mediation.workflows.definition import (
    Definition,
    DefinitionError,
    Vocabulary,
    load_definition,
)
from mediation.workflows.machine import Workflow

BUILT_IN = Path(__file__).parent / "definitions"


class UnknownWorkflowError(LookupError):
    pass


class WorkflowRegistry:
    def __init__(self, workflows: Iterable[Workflow]) -> None:
        self._by_key: dict[str, Workflow] = {}
        for workflow in workflows:
            if workflow.key in self._by_key:
                first = self._by_key[workflow.key].definition.source
                raise DefinitionError(
                    workflow.definition.source,
                    "version",
                    f"{workflow.key} is defined in {first} too",
                )
            self._by_key[workflow.key] = workflow

    @classmethod
    def load(cls, vocabulary: Vocabulary, *folders: Path | None) -> WorkflowRegistry:
        """Load every `*.toml` in the built-in folder and the given ones; any fault stops it."""
        paths = [p for f in (BUILT_IN, *folders) if f is not None for p in sorted(f.glob("*.toml"))]
        return cls(Workflow(load_definition(path, vocabulary)) for path in paths)

    def get(self, key: str) -> Workflow:
        try:
            return self._by_key[key]
        except KeyError:
            raise UnknownWorkflowError(f"workflow {key} is not deployed") from None

    def latest(self, name: str) -> Workflow:
        versions = [w for w in self._by_key.values() if w.definition.name == name]
        if not versions:
            raise UnknownWorkflowError(f"no workflow named {name!r} is deployed")
        return max(versions, key=lambda w: w.definition.version)

    def keys(self) -> list[str]:
        return sorted(self._by_key)

    def definitions(self) -> list[Definition]:
        """Every deployed definition, each version of each workflow."""
        return [self._by_key[key].definition for key in self.keys()]

    @cached_property
    def phases(self) -> frozenset[str]:
        """Every phase of the deployed workflows (what a list may be filtered by)."""
        return frozenset(phase for d in self.definitions() for phase in d.phases)

    @cached_property
    def statuses(self) -> frozenset[str]:
        """Every status of the deployed workflows."""
        return frozenset(status for d in self.definitions() for status in d.statuses)
