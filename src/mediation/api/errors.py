"""The one place where the error hierarchy becomes HTTP statuses and bodies."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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

QUERY_FIELDS = frozenset({"as_of", "as_of_version"})
HEADER_FIELDS = frozenset({"Idempotency-Key", "If-Match"})

STATUS: tuple[tuple[type[MediationError], int], ...] = (
    (NotFoundError, 404),
    (InvalidFieldError, 422),
    (PermissionDeniedError, 403),
    (StaleVersionError, 412),
    (ConflictError, 409),
)


def status_of(error: MediationError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 400)


def body_of(error: MediationError) -> dict[str, object]:
    if isinstance(error, InvalidFieldError):
        place = (
            "query"
            if error.field in QUERY_FIELDS
            else "header"
            if error.field in HEADER_FIELDS
            else "body"
        )
        detail = [{"loc": [place, error.field], "msg": error.reason, "type": "value_error"}]
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
        log.info("%s %s refused: %s", request.method, request.url.path, error)
    return JSONResponse(body_of(error), status_code=status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(MediationError, _mediation_error)
