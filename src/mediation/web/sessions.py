"""Who is signed in, the CSRF token every form carries, and one-shot messages after a redirect.

The session lives in a signed cookie (Starlette's SessionMiddleware: HttpOnly, SameSite=Lax).
It holds the username, a stamp of the password signed in with, so a changed password or a
disabled user ends every session at the next request, and the id of the session's record in
the directory, so that signing out ends it for any copy of the cookie too, and every session
ends SESSION_LIFETIME after signing in.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request

from mediation.accounts import Directory
from mediation.domain.values import Actor

CSRF_FIELD = "csrf_token"
_USER, _STAMP, _CSRF, _FLASH, _SEEN = "user", "stamp", "csrf", "flash", "seen"
_SESSION = "session"  # the id of its record in the directory (see Directory.open_session)


class SignInRequiredError(Exception):
    """No valid session: the page sends the browser to the sign-in form, then back."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign-in required")
        self.next_url = next_url


class CsrfRefusedError(Exception):
    """A form came without the session's CSRF token: possibly sent by another site."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, refused unless it carries the session's CSRF token."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(_CSRF)
    if not (isinstance(sent, str) and isinstance(expected, str)):
        raise CsrfRefusedError
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefusedError
    return form


def sign_in(request: Request, directory: Directory, username: str, stamp: str) -> None:
    """Start a fresh session, recorded in the directory (a new CSRF token too: no fixation
    across the sign-in)."""
    request.session.clear()
    session_id = directory.open_session(username)
    request.session.update({_USER: username, _STAMP: stamp, _SESSION: session_id})
    csrf_token(request)


def sign_out(request: Request, directory: Directory) -> None:
    """End the session where it is recorded, so that no copy of the cookie still works."""
    session_id = request.session.get(_SESSION)
    if isinstance(session_id, str):
        directory.end_session(session_id)
    request.session.clear()


def signed_in_actor(request: Request, directory: Directory) -> Actor:
    """The signed-in user as an actor; SignInRequiredError when there is no valid session."""
    username, stamp = request.session.get(_USER), request.session.get(_STAMP)
    session_id = request.session.get(_SESSION)
    principal = None
    if isinstance(username, str) and isinstance(stamp, str) and isinstance(session_id, str):
        principal = directory.session_principal(username, stamp, session_id)
    if principal is None:
        for key in (_USER, _STAMP, _SESSION):
            request.session.pop(key, None)
        raise SignInRequiredError(_here(request))
    return Actor(principal.username, principal.role, principal.center)


def _here(request: Request) -> str:
    return page_address(request)


def page_address(request: Request) -> str:
    """Where to show this page again (after signing in, or in another language): its own
    address for a GET; for a form's POST, the page the form was on (its action path answers
    POST only), from the Referer when it is this site's, else the start page."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return "/"
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""), "/")


def flash(request: Request, kind: str, message: str) -> None:
    """A message shown once on the next page (after a redirect)."""
    messages: list[dict[str, Any]] = request.session.setdefault(_FLASH, [])
    messages.append({"kind": kind, "text": message})
    request.session[_FLASH] = messages


def take_flashes(request: Request) -> list[dict[str, Any]]:
    messages = request.session.pop(_FLASH, [])
    return messages if isinstance(messages, list) else []


def saw_position(request: Request, position: int | None) -> None:
    """Remember the log position of this user's last write, so lists can wait until they show it."""
    if position is not None:
        request.session[_SEEN] = max(position, int(request.session.get(_SEEN, 0)))


def seen_position(request: Request) -> int:
    value = request.session.get(_SEEN, 0)
    return value if isinstance(value, int) else 0


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go on to; anything else (another host, a scheme) goes to `default`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target
