"""What the case page shows: the case now or at a past version, its deadlines, actions and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from mediation.application import ActionInfo, CaseView, DeadlineView
from mediation.domain.values import Actor, Role
from mediation.web.core import Web
from mediation.web.forms import ActionForm, action_form
from mediation.web.i18n import Translator
from mediation.web.timeline import TimelineItem, timeline


@dataclass(frozen=True)
class Deadline:
    clock: str
    rule: str
    due_at: datetime
    days_left: int
    overdue: bool
    extensions: int


@dataclass(frozen=True)
class ActionChoice:
    """An action the user may take now, its form, or the rule that blocks it for now."""

    info: ActionInfo
    form: ActionForm


@dataclass
class FormState:
    """A posted action form that came back: what was typed, and what was wrong with it."""

    action: str
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None


def case_context(
    web: Web,
    actor: Actor,
    t: Translator,
    case_id: UUID,
    as_of_version: int | None = None,
    state: FormState | None = None,
) -> dict[str, Any]:
    """Everything the case template needs; raises the engine's errors (not found, forbidden)."""
    cases = web.services.cases
    now_view = cases.case(case_id, actor)
    past = as_of_version is not None and as_of_version != now_view.version
    view = cases.case(case_id, actor, version=as_of_version) if past else now_view
    parties = {party.id: party.name for party in now_view.parties}
    history = timeline(cases.history(case_id, actor), parties, t)
    actions = [] if past else _actions(web, case_id, actor)
    as_of = _moment_of(history, view.version)
    # In the past, deadlines count from that moment: what the clerk saw then.
    reference = as_of if past and as_of is not None else web.services.clock.now()
    return {
        "case": view,
        "latest": now_view.version,
        "past": past,
        "parties": parties,
        "deadlines": deadlines(view, reference, t),
        "actions": actions,
        "mediators": mediators(web, view.center),
        "timeline": history,
        "as_of": as_of,
        "form_state": state,
    }


def deadlines(view: CaseView, now: datetime, t: Translator) -> list[Deadline]:
    return [_deadline(d, now, t) for d in view.deadlines]


def _deadline(d: DeadlineView, now: datetime, t: Translator) -> Deadline:
    return Deadline(
        clock=d.clock,
        rule=d.rule,
        due_at=d.due_at,
        days_left=t.days_left(d.due_at, now),
        overdue=d.due_at < now,
        extensions=d.extensions,
    )


def _actions(web: Web, case_id: UUID, actor: Actor) -> list[ActionChoice]:
    infos = web.services.cases.available_actions(case_id, actor)
    return [ActionChoice(info, action_form(info.action)) for info in infos]


def mediators(web: Web, center: str) -> list[str]:
    users = web.services.directory.list_users(center=center)
    return [u.username for u in users if u.role is Role.MEDIATOR and not u.disabled]


def _moment_of(history: list[TimelineItem], version: int) -> datetime | None:
    return next((item.at for item in history if item.version == version), None)
