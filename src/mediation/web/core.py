"""What every page handler needs: the web's state, the user, their language, and rendering."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from mediation.application.service import WIDE_ROLES, centers_seen
from mediation.bootstrap import Services
from mediation.domain.errors import InvalidFieldError
from mediation.domain.values import Actor
from mediation.projections import Projections
from mediation.web import sessions
from mediation.web.i18n import LANGUAGES, N_, NATIVE_NAMES, Translator, load_catalogues, negotiate
from mediation.web.templating import Templates

LANGUAGE_COOKIE = "mediation_lang"
SUPERVISING = WIDE_ROLES  # supervisors and admins: their whole subtree
# How long a list page waits for the views to show the user's own last write.
READ_YOUR_WRITES_SECONDS = 2.0


@dataclass(frozen=True)
class WebConfig:
    """How the pages are served; `session_secret` None makes a random one (tests, one process)."""

    session_secret: str | None = None
    projections: Projections | None = None
    secure_cookies: bool = False
    session_max_age: int = 8 * 3600

    def secret(self) -> str:
        return self.session_secret or secrets.token_urlsafe(32)


class Web:
    """The pages' state, built once when the app is made."""

    def __init__(self, services: Services, config: WebConfig) -> None:
        self.services = services
        self.config = config
        self.projections = config.projections
        self.templates = Templates()
        self.catalogues = load_catalogues()
        self.zone = services.cases.calendar.zone
        self.register_roles = services.workflows.latest("dispute").definition.register_roles

    def translator(self, request: Request) -> Translator:
        language = negotiate(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )
        return Translator(language, self.catalogues[language], self.zone)

    def caught_up(self, request: Request, *views: str) -> bool:
        """Wait briefly until the views show the log as it is now, this user's writes included.

        Lists then agree with the case pages, which read the log itself. False: a view is
        still behind after the wait (the page says so and shows what it has).
        """
        if self.projections is None:
            return True
        target = max(sessions.seen_position(request), self.projections.log.head())
        return self.projections.wait_for(target, READ_YOUR_WRITES_SECONDS, list(views))

    def scope(self, actor: Actor) -> frozenset[str]:
        """The centers whose cases the actor sees in lists: a supervisor's whole subtree."""
        return self.narrowed(actor, None)

    def narrowed(self, actor: Actor, center: str | None) -> frozenset[str]:
        """The actor's scope narrowed to a chosen center, and for a supervisor the centers
        below it too (as the API's `center=`); a center outside the scope is refused."""
        seen = centers_seen(self.services.directory, actor, center)
        if seen is None:
            raise InvalidFieldError("center", N_("choose one of the options"))
        return seen


def web_of(request: Request) -> Web:
    return cast(Web, request.app.state.web)


async def get_web(request: Request) -> Web:  # async: no thread-pool hop for a lookup
    return web_of(request)


WebDep = Annotated[Web, Depends(get_web)]


def current_actor(request: Request, web: WebDep) -> Actor:
    return sessions.signed_in_actor(request, web.services.directory)


async def current_translator(request: Request, web: WebDep) -> Translator:
    return web.translator(request)


ActorDep = Annotated[Actor, Depends(current_actor)]
TranslatorDep = Annotated[Translator, Depends(current_translator)]
FormDep = Annotated[FormData, Depends(sessions.checked_form)]


def render(
    request: Request,
    web: Web,
    t: Translator,
    template: str,
    actor: Actor | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page in the user's language, with the layout's shared parts (menu, switcher, messages)."""
    base = {
        "request": request,
        "actor": actor,
        "supervising": actor is not None and actor.role in SUPERVISING,
        "can_register": actor is not None and actor.role in web.register_roles,
        "csrf_token": sessions.csrf_token(request),
        "flashes": sessions.take_flashes(request),
        "languages": [(code, NATIVE_NAMES[code]) for code in LANGUAGES],
        "here": sessions.page_address(request),
        "now": web.services.clock.now(),
        "behind": False,
        "center_names": {c.code: c.name for c in web.services.directory.list_centers()},
    }
    html = web.templates.render(t, template, base | context)
    return HTMLResponse(html, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303), so a reload never posts twice."""
    return RedirectResponse(url, status_code=303)
