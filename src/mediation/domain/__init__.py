"""The case domain: the aggregate, its commands, guards and decisions. Imports no framework."""

from mediation.domain.commands import ACTION_COMMANDS, EscalateBreach
from mediation.domain.guards import GUARDS
from mediation.domain.values import Complexity, Role
from mediation.workflows import Vocabulary

VOCABULARY = Vocabulary(
    actions=frozenset(ACTION_COMMANDS) | {EscalateBreach.ACTION},
    guards=frozenset(GUARDS),
    roles=frozenset(Role),
    complexities=frozenset(Complexity),
)
"""The names a workflow definition may use: the actions, guards and roles this engine implements."""
