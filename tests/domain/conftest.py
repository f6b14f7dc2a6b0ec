"""Fixtures for the domain tests: a fake directory, a fixed-time context, a desk."""

from __future__ import annotations

import pytest

from mediation.domain import VOCABULARY
from mediation.domain.ports import Context
from mediation.workflows import Workflow, WorkflowRegistry
from tests.domain.desk import NOW, Desk, FakeDirectory


@pytest.fixture(scope="session")
def workflow() -> Workflow:
    return WorkflowRegistry.load(VOCABULARY).latest("dispute")


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture
def ctx(workflow: Workflow, directory: FakeDirectory) -> Context:
    return Context(workflow, NOW, directory)


@pytest.fixture
def desk(workflow: Workflow, directory: FakeDirectory) -> Desk:
    return Desk(workflow, directory)
