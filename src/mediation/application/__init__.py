"""The application layer: the case service over the event store, and the plain views it returns."""

from mediation.application.service import CaseApplication, CenterDirectory
from mediation.application.views import (
    ActionInfo,
    CaseView,
    ChainCheck,
    DeadlineView,
    HistoryEntry,
    Saved,
)

__all__ = [
    "ActionInfo",
    "CaseApplication",
    "CaseView",
    "CenterDirectory",
    "ChainCheck",
    "DeadlineView",
    "HistoryEntry",
    "Saved",
]
