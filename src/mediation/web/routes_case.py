"""The case page (now, or as of an earlier version) and the actions taken from it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from mediation.domain.errors import (
    ConflictError,
    InvalidFieldError,
    MediationError,
    NotFoundError,
    PermissionDeniedError,
    StaleVersionError,
)
from mediation.web import sessions
from mediation.web.case_page import FormState, case_context
from mediation.web.core import ActorDep, FormDep, TranslatorDep, WebDep, redirect, render
from mediation.web.errors import error_page
from mediation.web.forms import action_form, parse_action
from mediation.web.messages import field_reason, refusal

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    case_id: UUID,
    web: WebDep,
    actor: ActorDep,
    t: TranslatorDep,
    as_of_version: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """A case: status, parties, deadlines, the actions open to this user, and its timeline."""
    try:
        context = case_context(web, actor, t, case_id, as_of_version)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    return render(request, web, t, "case.html", actor, **context)


@router.post("/cases/{case_id}/actions/{action}", response_model=None)
def take_action(
    request: Request,
    case_id: UUID,
    action: str,
    web: WebDep,
    actor: ActorDep,
    t: TranslatorDep,
    form: FormDep,
) -> Response:
    """Give the case one command from its form; the form comes back with what was wrong."""
    try:
        action_form(action)
    except KeyError:
        return error_page(request, web, t, actor, NotFoundError(action))
    values = {name: form.getlist(name) for name in form if name != sessions.CSRF_FIELD}
    state = FormState(action, {k: v[0] if len(v) == 1 else v for k, v in values.items()})
    try:
        command = parse_action(action, form, web.zone)
        expected = _version(form.get("version"))
        saved = web.services.cases.act(case_id, command, actor, expected)
    except InvalidFieldError as error:
        state.errors[error.field] = field_reason(error, t)
        return _again(request, web, t, actor, case_id, state, 422)
    except (ConflictError, StaleVersionError, PermissionDeniedError) as error:
        state.refusal = refusal(error, t)
        status = _status(error)
        return _again(request, web, t, actor, case_id, state, status)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    sessions.saw_position(request, saved.position)
    sessions.flash(
        request, "success", t.gettext("Done: %(action)s", action=t.term("action", action))
    )
    return redirect(f"/cases/{case_id}")


def _status(error: MediationError) -> int:
    if isinstance(error, StaleVersionError):
        return 412
    return 403 if isinstance(error, PermissionDeniedError) else 409


def _version(value: object) -> int | None:
    text = str(value or "")
    return int(text) if text.isdecimal() and text.isascii() else None


def _again(
    request: Request,
    web: WebDep,
    t: TranslatorDep,
    actor: ActorDep,
    case_id: UUID,
    state: FormState,
    status: int,
) -> HTMLResponse:
    try:
        context = case_context(web, actor, t, case_id, state=state)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    return render(request, web, t, "case.html", actor, status_code=status, **context)
