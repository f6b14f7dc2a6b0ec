"""Signing in and out, and choosing the language of the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mediation.accounts import SignInThrottledError
from mediation.web import sessions
from mediation.web.core import (
    LANGUAGE_COOKIE,
    FormDep,
    TranslatorDep,
    WebDep,
    redirect,
    render,
)
from mediation.web.i18n import LANGUAGES

router = APIRouter(include_in_schema=False)
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


@router.get("/")
def home(request: Request) -> RedirectResponse:
    """The queue for a signed-in user; the sign-in form otherwise (the queue sends them there)."""
    return RedirectResponse("/queue", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request,
    web: WebDep,
    t: TranslatorDep,
    next_url: Annotated[str | None, Query(alias="next")] = None,
) -> HTMLResponse:
    """The sign-in form."""
    target = sessions.safe_next(next_url, "/queue")
    return render(request, web, t, "sign_in.html", next=target, username="")


@router.post("/sign-in", response_model=None)
def sign_in(request: Request, web: WebDep, t: TranslatorDep, form: FormDep) -> Response:
    """Check the username and password; start a session and go on to where the user was going."""
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_url = sessions.safe_next(str(form.get("next", "")), "/queue")
    source = request.client.host if request.client else None
    directory = web.services.directory
    try:
        principal = directory.verify_password(username, password, source=source)
    except SignInThrottledError as error:
        message = t.gettext(
            "Too many failed attempts. Wait %(seconds)s seconds and try again.",
            seconds=int(error.retry_after) + 1,
        )
        return _refused(request, web, t, username, next_url, message, 429)
    stamp = directory.password_stamp(username) if principal is not None else None
    if principal is None or stamp is None:
        message = t.gettext("The username or password is not correct.")
        return _refused(request, web, t, username, next_url, message, 401)
    sessions.sign_in(request, directory, principal.username, stamp)
    return redirect(next_url)


def _refused(
    request: Request,
    web: WebDep,
    t: TranslatorDep,
    username: str,
    next_url: str,
    message: str,
    status: int,
) -> HTMLResponse:
    return render(
        request,
        web,
        t,
        "sign_in.html",
        status_code=status,
        next=next_url,
        username=username,
        error=message,
    )


@router.post("/sign-out")
def sign_out(request: Request, form: FormDep, t: TranslatorDep, web: WebDep) -> RedirectResponse:
    """End the session."""
    sessions.sign_out(request, web.services.directory)
    sessions.flash(request, "info", t.gettext("You have signed out."))
    return redirect("/sign-in")


@router.post("/language")
def choose_language(request: Request, form: FormDep, web: WebDep) -> RedirectResponse:
    """Remember the chosen language in a cookie and show the same page again."""
    language = str(form.get("language", ""))
    response = redirect(sessions.safe_next(str(form.get("next", "")), "/"))
    if language in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_AGE,
            httponly=True,
            samesite="lax",
            secure=web.config.secure_cookies,
        )
    return response
