"""What a workflow says about a status: its phase, and whether the case is closed in it."""

from __future__ import annotations

from functools import lru_cache

from mediation.workflows import WorkflowRegistry


class Statuses:
    """Phase and finality of (workflow, status), cached: views ask for every event."""

    def __init__(self, workflows: WorkflowRegistry) -> None:
        self._workflows = workflows
        self.phase = lru_cache(maxsize=1024)(self._phase)
        self.is_final = lru_cache(maxsize=1024)(self._is_final)

    def _phase(self, workflow: str, status: str) -> str:
        return self._workflows.get(workflow).definition.phase_of(status)

    def _is_final(self, workflow: str, status: str) -> bool:
        return self._workflows.get(workflow).definition.statuses[status].final
