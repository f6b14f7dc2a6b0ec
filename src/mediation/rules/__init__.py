"""Automated escalation rules: deadlines and risk, acting as named actors."""

from mediation.rules.engine import DueIndex, Escalation, RulesEngine

__all__ = ["DueIndex", "Escalation", "RulesEngine"]
