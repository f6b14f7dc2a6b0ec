"""Notifications for supervisors: escalations by people and rules, overdue supervision instructions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from mediation.api.deps import CurrentActor, ServicesDep
from mediation.api.errors import FORBIDDEN, UNAUTHENTICATED, ErrorBody
from mediation.api.routes_views import ProjectionsDep, scope
from mediation.application.service import WIDE_ROLES
from mediation.domain.errors import NotFoundError, PermissionDeniedError
from mediation.domain.values import Actor
from mediation.projections.columns import LARGEST_POSITION
from mediation.rules.notifications import (
    Feed,
    Notification,
    NotificationsView,
    NotificationTables,
    mark_read,
    read_feed,
)

router = APIRouter(
    prefix="/api/v1/notifications",
    tags=["notifications"],
    responses=UNAUTHENTICATED | FORBIDDEN,
)
SUPERVISING = WIDE_ROLES  # supervisors and admins: their whole subtree


class NotificationPage(BaseModel):
    items: list[Notification]
    unread: int
    next_before: int | None


def _supervisor(actor: Actor) -> None:
    if actor.role not in SUPERVISING:
        raise PermissionDeniedError(f"role '{actor.role}' has no notifications; supervisors do")


@router.get("", response_model=NotificationPage)
def notifications(
    actor: CurrentActor,
    services: ServicesDep,
    projections: ProjectionsDep,
    unread: Annotated[bool, Query(description="Only those not read yet")] = False,
    before: Annotated[
        int | None,
        Query(ge=0, le=LARGEST_POSITION, description="The page after: `next_before`"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    """Escalations of cases to the caller's center or below it, newest first, marked read or not."""
    _supervisor(actor)
    centers = scope(services, actor, None)

    def run(conn: Connection, tables: NotificationTables) -> Feed:
        return read_feed(conn, tables, actor.user, centers, unread, before, limit)

    feed = projections.read(NotificationsView.name, run)
    return NotificationPage(items=feed.items, unread=feed.unread, next_before=feed.next_before)


@router.post(
    "/{notification_id}/read",
    status_code=204,
    responses={404: {"model": ErrorBody, "description": "No such notification for the caller"}},
)
def read_one(
    notification_id: Annotated[int, Path(ge=1, le=LARGEST_POSITION)],
    actor: CurrentActor,
    services: ServicesDep,
    projections: ProjectionsDep,
) -> Response:
    """Mark one notification read for the caller."""
    _supervisor(actor)
    centers = scope(services, actor, None)

    def run(conn: Connection, tables: NotificationTables) -> int:
        marked = mark_read(conn, tables, actor.user, centers, notification_id)
        conn.commit()
        return marked

    if not projections.read(NotificationsView.name, run):
        raise NotFoundError(f"no notification {notification_id} for {actor.user}")
    return Response(status_code=204)


@router.post("/read", status_code=204)
def read_all(actor: CurrentActor, services: ServicesDep, projections: ProjectionsDep) -> Response:
    """Mark every notification in the caller's scope read."""
    _supervisor(actor)
    centers = scope(services, actor, None)

    def run(conn: Connection, tables: NotificationTables) -> int:
        marked = mark_read(conn, tables, actor.user, centers, None)
        conn.commit()
        return marked

    projections.read(NotificationsView.name, run)
    return Response(status_code=204)
