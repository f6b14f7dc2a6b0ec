"""The intake form: register a dispute with its parties."""

from __future__ import annotations

import re
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from mediation.domain.errors import InvalidFieldError, MediationError
from mediation.domain.values import Actor
from mediation.web import sessions
from mediation.web.core import ActorDep, FormDep, TranslatorDep, Web, WebDep, redirect, render
from mediation.web.errors import error_page
from mediation.web.i18n import Translator
from mediation.web.intake import Intake
from mediation.web.messages import field_reason
from mediation.web.vocabulary import DISPUTE_TYPES

router = APIRouter(include_in_schema=False)


@router.get("/cases/new", response_class=HTMLResponse)
def intake_form(request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep) -> HTMLResponse:
    """A blank intake form, with one applicant and one respondent row."""
    return _form(request, web, t, actor, Intake.blank(), str(uuid.uuid4()))


@router.post("/cases/new", response_model=None)
def register(
    request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep, form: FormDep
) -> Response:
    """Register the dispute; or add or remove a party row (without JavaScript); or show errors."""
    intake = Intake.posted(form)
    key = str(form.get("idempotency_key", "")) or str(uuid.uuid4())
    if "add_party" in form:
        intake.add_party()
        return _form(request, web, t, actor, intake, key)
    if "remove_party" in form:
        number = str(form.get("remove_party", ""))
        intake.remove_party(int(number) if number.isdecimal() else -1)  # -1: none removed
        return _form(request, web, t, actor, intake, key)
    command = intake.command()
    if command is None:
        return _form(request, web, t, actor, intake, key, 422)
    try:
        saved = web.services.cases.register(command, actor, idempotency_key=key)
    except InvalidFieldError as error:
        intake.errors[error.field] = error
        return _form(request, web, t, actor, intake, key, 422)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    sessions.saw_position(request, saved.position)
    sessions.flash(request, "success", t.gettext("The case was registered."))
    return redirect(f"/cases/{saved.view.id}")


def _form(
    request: Request,
    web: Web,
    t: Translator,
    actor: Actor,
    intake: Intake,
    key: str,
    status: int = 200,
) -> HTMLResponse:
    errors = {name: field_reason(error, t) for name, error in intake.errors.items()}
    labels = {name: _label(name, t) for name in errors}
    return render(
        request,
        web,
        t,
        "intake.html",
        actor,
        status_code=status,
        intake=intake,
        errors=errors,
        error_labels=labels,
        idempotency_key=key,
        dispute_types=DISPUTE_TYPES,
        centers=_centers(web, actor),
    )


PARTY_FIELD = re.compile(r"parties\[(\d+)\]\.(\w+)")


def _label(field: str, t: Translator) -> str:
    """How the error summary names a field: "Party 2 · Phone" for a party's."""
    party = PARTY_FIELD.fullmatch(field)
    if party:
        number = int(party.group(1)) + 1
        return f"{t.gettext('Party %(n)s', n=number)} · {t.term('field', party.group(2))}"
    return t.term("field", field)


def _centers(web: Web, actor: Actor) -> list[tuple[str, str]]:
    """The centers a supervisor may register for (their own and those below); empty for others."""
    scope = web.scope(actor)
    if len(scope) < 2:
        return []
    return [(c.code, c.name) for c in web.services.directory.list_centers() if c.code in scope]
