"""Request dependencies: the process's services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mediation.bootstrap import Services
from mediation.domain.values import Actor

_bearer = HTTPBearer(auto_error=False, description="An API token from `mediation user add`")


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def current_actor(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller, from `Authorization: Bearer <token>`; 401 when missing or unknown."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "missing bearer token", headers=challenge)
    principal = services.directory.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "unknown or disabled token", headers=challenge)
    return Actor(user=principal.username, role=principal.role, center=principal.center)


CurrentActor = Annotated[Actor, Depends(current_actor)]
