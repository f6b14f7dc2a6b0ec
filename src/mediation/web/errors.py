"""Pages for what went wrong: not found, not allowed, a form from another site."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mediation.domain.errors import (
    InvalidFieldError,
    MediationError,
    NotFoundError,
    PermissionDeniedError,
)
from mediation.domain.values import Actor
from mediation.web.core import Web, render, web_of
from mediation.web.i18n import Translator
from mediation.web.messages import refusal
from mediation.web.sessions import CsrfRefusedError, SignInRequiredError


def error_page(
    request: Request, web: Web, t: Translator, actor: Actor | None, error: MediationError
) -> HTMLResponse:
    status = 404 if isinstance(error, NotFoundError) else 400
    if isinstance(error, PermissionDeniedError):
        status = 403
    elif isinstance(error, InvalidFieldError):
        status = 422  # as the API answers a value it cannot take
    message = refusal(error, t)
    return render(request, web, t, "error.html", actor, status_code=status, message=message)


async def _sign_in_first(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequiredError)
    return RedirectResponse(f"/sign-in?next={quote(error.next_url, safe='')}", status_code=303)


async def _csrf_refused(request: Request, error: Exception) -> Response:
    web = web_of(request)
    t = web.translator(request)
    message = t.gettext(
        "This form has expired or did not come from this site. Go back, reload the page and try again."
    )
    return render(request, web, t, "error.html", None, status_code=403, message=message)


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequiredError, _sign_in_first)
    app.add_exception_handler(CsrfRefusedError, _csrf_refused)
