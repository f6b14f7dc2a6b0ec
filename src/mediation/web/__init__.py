"""Web pages for clerks, mediators and supervisors, in Chinese, Tibetan and English.

Server-rendered (Jinja2), a little plain JavaScript, and people signed in by password with a
session cookie; programs keep using the API under /api/v1 with their tokens.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from mediation.bootstrap import Services
from mediation.web import (
    errors,
    routes_auth,
    routes_case,
    routes_intake,
    routes_lists,
    routes_lookup,
    routes_reports,
)
from mediation.web.core import Web, WebConfig

SESSION_COOKIE = "mediation_session"
STATIC_PATH = "/static"

router = APIRouter(include_in_schema=False)
# The intake form's and the lookup's paths (/cases/new, /cases/find) before the case page's
# (/cases/{case_id}).
for _module in (
    routes_auth,
    routes_intake,
    routes_lookup,
    routes_case,
    routes_lists,
    routes_reports,
):
    router.include_router(_module.router)


def install(app: FastAPI, services: Services, config: WebConfig | None = None) -> None:
    """Serve the pages from `app`: routes at /, static files, the session cookie."""
    config = config or WebConfig()
    app.state.web = Web(services, config)
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret(),
        session_cookie=SESSION_COOKIE,
        max_age=config.session_max_age,
        same_site="lax",
        https_only=config.secure_cookies,
    )
    errors.install(app)
    app.include_router(router)
    static = resources.files("mediation.web") / "static"
    app.mount(STATIC_PATH, StaticFiles(directory=str(static)), name="web-static")


__all__ = ["Web", "WebConfig", "install", "router"]
