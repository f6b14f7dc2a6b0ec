"""Finding a party's cases: the hotline's and the window's "what became of my dispute?".

The form is sent by POST, so that an ID number or a phone never stands in an address (the
browser's history, a proxy's log); the answer is the page itself, not a redirect. Only the
user's own center is searched (see `projections.party_query`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from mediation.domain.errors import InvalidFieldError, MediationError
from mediation.domain.values import Actor
from mediation.projections import PartyCases, PartyQuery, party_cases
from mediation.projections.party_query import PARTY_CASES_MOST
from mediation.web.core import ActorDep, FormDep, TranslatorDep, Web, WebDep, render
from mediation.web.errors import error_page
from mediation.web.i18n import Translator
from mediation.web.messages import field_reason

router = APIRouter(include_in_schema=False)
FIELDS = ("id_number", "name", "phone")


@router.get("/cases/find", response_class=HTMLResponse)
def lookup_form(request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep) -> HTMLResponse:
    """The empty form."""
    return _page(request, web, t, actor, dict.fromkeys(FIELDS, ""))


@router.post("/cases/find", response_class=HTMLResponse)
def look_up(
    request: Request, web: WebDep, actor: ActorDep, t: TranslatorDep, form: FormDep
) -> HTMLResponse:
    """The party's cases of the user's center, or the form again with what to correct."""
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    query = PartyQuery(actor.center, **{name: values[name] or None for name in FIELDS})
    if web.projections is None:
        return _page(request, web, t, actor, values, unavailable=True)
    try:
        query.check()
        behind = not web.caught_up(request, "stats", "queue")  # the cases, their summaries
        found = party_cases(web.projections, query)
    except InvalidFieldError as error:
        return _page(request, web, t, actor, values, errors={error.field: error}, status=422)
    except MediationError as error:
        return error_page(request, web, t, actor, error)
    return _page(request, web, t, actor, values, found=found, behind=behind)


def _page(
    request: Request,
    web: Web,
    t: Translator,
    actor: Actor,
    values: dict[str, str],
    found: PartyCases | None = None,
    errors: dict[str, InvalidFieldError] | None = None,
    behind: bool = False,
    unavailable: bool = False,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        web,
        t,
        "lookup.html",
        actor,
        status_code=status,
        values=values,
        found=found,
        most=PARTY_CASES_MOST,
        errors={name: field_reason(error, t) for name, error in (errors or {}).items()},
        behind=behind,
        unavailable=unavailable,
    )
