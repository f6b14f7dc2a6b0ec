"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

import mediation
from mediation import web
from mediation.api import errors, routes_cases, routes_notifications, routes_views
from mediation.bootstrap import Services


def create_app(services: Services) -> FastAPI:
    """An app serving the API under /api/v1 from the given services."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The handlers are plain functions, run in this thread pool; its size is a setting.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = services.settings.threads_for_requests()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="mediation",
        version=mediation.__version__,
        summary="Event-sourced case workflow engine for dispute mediation centers",
    )
    app.state.services = services
    app.state.projections = services.projections
    errors.install(app)
    app.include_router(routes_cases.router)
    app.include_router(routes_views.router)
    app.include_router(routes_notifications.router)

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, object]:
        """Liveness and the event log's head position."""
        return {"status": "ok", "log_position": services.cases.recorder.max_notification_id() or 0}

    # The web pages for people, at / (sign-in, queue, cases...); the API stays under /api/v1.
    web.install(app, services, web_config(services))
    return app


def web_config(services: Services) -> web.WebConfig:
    return web.WebConfig(
        session_secret=services.session_secret(),
        projections=services.projections,
        secure_cookies=services.settings.secure_cookies,
    )
