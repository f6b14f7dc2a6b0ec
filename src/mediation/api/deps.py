"""Request dependencies: the process's services and the authenticated caller."""

from __future__ import annotations

import logging
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mediation.bootstrap import Services
from mediation.domain.values import Actor

log = logging.getLogger("mediation.api")
_bearer = HTTPBearer(auto_error=False, description="An API token from `mediation user add`")


# Dependencies that never block are `async`: FastAPI runs a plain `def` one in its thread pool,
# and each such hop costs a thread switch per request (measured: bench/results.md).
async def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def current_actor(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller, from `Authorization: Bearer <token>`; 401 when missing or unknown."""
    principal = None
    if credentials is not None:
        principal = services.directory.authenticate(credentials.credentials)
    if principal is None:
        reason = "missing bearer token" if credentials is None else "unknown or disabled token"
        # Never the token itself: a mistyped token is one character away from a real one.
        log.warning("%s %s refused (401): %s", request.method, request.url.path, reason)
        raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})
    request.state.user = principal.username  # for the refusal log of a later 403
    return Actor(user=principal.username, role=principal.role, center=principal.center)


CurrentActor = Annotated[Actor, Depends(current_actor)]
