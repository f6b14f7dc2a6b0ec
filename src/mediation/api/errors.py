"""The one place where the error hierarchy becomes HTTP statuses and bodies."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from mediation.domain.commands import CONTROL_CHARACTERS
from mediation.domain.errors import (
    ActionNotAllowedError,
    ConflictError,
    InvalidFieldError,
    MediationError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    StaleVersionError,
)

log = logging.getLogger("mediation.api")

QUERY_FIELDS = frozenset(
    {"as_of", "as_of_version", "cursor", "limit", "group_by", "to", "since", "until", "from"}
)
HEADER_FIELDS = frozenset({"Idempotency-Key", "If-Match"})

STATUS: tuple[tuple[type[MediationError], int], ...] = (
    (NotFoundError, 404),
    (InvalidFieldError, 422),
    (PermissionDeniedError, 403),
    (StaleVersionError, 412),
    (ConflictError, 409),
)


class ErrorBody(BaseModel):
    """Why the request was refused."""

    detail: str


class ConflictBody(ErrorBody):
    """Refused by the case's state: the action is not allowed now, or a guard blocks it."""

    status: str | None = None
    allowed_actions: list[str] | None = None
    guard: str | None = None
    rule: str | None = None


class StaleVersionBody(ErrorBody):
    """`If-Match` named a version that is no longer the case's current one."""

    current_version: int


def _declared(status: int, model: type[BaseModel], description: str) -> dict[int | str, Any]:
    return {status: {"model": model, "description": description}}


MALFORMED = _declared(400, ErrorBody, "The body cannot be parsed (e.g. bytes that are not UTF-8)")
UNAUTHENTICATED = _declared(401, ErrorBody, "Missing, unknown or disabled bearer token")
FORBIDDEN = _declared(403, ErrorBody, "The caller's role or center may not do this")
NOT_FOUND = _declared(404, ErrorBody, "No such case")
CONFLICT = _declared(409, ConflictBody, "Not allowed in the case's current state")
STALE = _declared(412, StaleVersionBody, "`If-Match` is not the case's current version")


def status_of(error: MediationError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


class InvalidQueryError(InvalidFieldError):
    """An invalid query parameter: its name is where the error says it is, even a name that
    a body field has too (`center`, `risk`, `status`)."""


def location(field: str, query: bool = False) -> list[str | int]:
    """Where a field is, as FastAPI's own errors say it: ["body", "parties", 0, "phone"]."""
    if query or field in QUERY_FIELDS:
        return ["query", field]
    if field in HEADER_FIELDS:
        return ["header", field.lower()]
    if field == "body":
        return ["body"]
    parts = re.findall(r"[^.\[\]]+", field)
    return ["body", *(int(part) if part.isdigit() else part for part in parts)]


def body_of(error: MediationError) -> dict[str, object]:
    if isinstance(error, InvalidFieldError):
        where = location(error.field, isinstance(error, InvalidQueryError))
        detail = [{"loc": where, "msg": error.reason, "type": "value_error"}]
        return {"detail": detail}
    body: dict[str, object] = {"detail": str(error)}
    if isinstance(error, ActionNotAllowedError):
        body.update(status=error.status, allowed_actions=list(error.allowed))
    if isinstance(error, RuleViolationError):
        body.update(guard=error.guard, rule=error.rule)
    if isinstance(error, StaleVersionError):
        body.update(current_version=error.current)
    return body


async def _mediation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, MediationError)
    status = status_of(error)
    if status in (401, 403):
        user = getattr(request.state, "user", None)
        log.info(
            "%s %s refused (%d) for %s: %s", request.method, request.url.path, status, user, error
        )
    return JSONResponse(body_of(error), status_code=status)


class RefuseControlCharacters:
    """Refuses a request whose path or query parameters hold control characters: 422 naming
    the parameter, as for any invalid field, before a handler runs.

    No parameter needs them, and a NUL in a filter would reach PostgreSQL, whose text refuses
    it (a 500). Bodies are checked where they become commands (`domain.commands`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _control_characters(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        detail = [
            {"loc": where, "msg": "must not contain control characters", "type": "value_error"}
        ]
        await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)


def _control_characters(scope: Scope) -> list[str] | None:
    """Where a request's path or query holds a control character, or None."""
    if CONTROL_CHARACTERS.search(scope["path"]):
        return ["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True, errors="replace"):
        if CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value):
            return ["query", name]
    return None


def install(app: FastAPI) -> None:
    app.add_exception_handler(MediationError, _mediation_error)
    app.add_middleware(RefuseControlCharacters)
