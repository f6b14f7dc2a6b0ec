"""Where each view stands in the log, and which generation of its tables answers queries.

A view's tables exist in generations (`<table>_g<N>`). Each generation has a tracking row
holding the last log position applied to it; `projection_active` names the generation that
answers queries. A rebuild fills a new generation, then switches the pointer in one
transaction, so readers never see a half-built view. `projection_shapes` keeps the shape of
each generation's tables (`View.shape`), so a version of mediation whose view has other
tables knows not to use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from mediation.projections.columns import UTCDateTime

control = MetaData()

tracking = Table(
    "projection_tracking",
    control,
    Column("view", String(32), primary_key=True),
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    # Bumped by every batch: a building generation whose heartbeat stops was abandoned.
    Column("updated_at", UTCDateTime, nullable=False),
)

active = Table(
    "projection_active",
    control,
    Column("view", String(32), primary_key=True),
    Column("generation", Integer, nullable=False),
)


# Added after the two tables above: deployments made before it have no shapes recorded.
shapes = Table(
    "projection_shapes",
    control,
    Column("view", String(32), primary_key=True),
    Column("generation", Integer, primary_key=True, autoincrement=False),
    Column("shape", String(64), nullable=False),
)


@dataclass(frozen=True)
class Generation:
    view: str
    generation: int
    position: int
    updated_at: datetime
    active: bool


def now() -> datetime:
    return datetime.now(UTC)


def active_generation(conn: Connection, view: str) -> int | None:
    return conn.scalar(select(active.c.generation).where(active.c.view == view))


def position(conn: Connection, view: str, generation: int) -> int | None:
    query = select(tracking.c.position).where(
        tracking.c.view == view, tracking.c.generation == generation
    )
    return conn.scalar(query)


def generations(conn: Connection, view: str) -> list[Generation]:
    current = active_generation(conn, view)
    rows = conn.execute(
        select(tracking).where(tracking.c.view == view).order_by(tracking.c.generation)
    )
    return [
        Generation(view, r.generation, r.position, r.updated_at, r.generation == current)
        for r in rows
    ]


def add_generation(conn: Connection, view: str, generation: int, shape: str) -> None:
    conn.execute(
        insert(tracking).values(view=view, generation=generation, position=0, updated_at=now())
    )
    conn.execute(insert(shapes).values(view=view, generation=generation, shape=shape))


def shape(conn: Connection, view: str, generation: int) -> str | None:
    """The shape recorded for a generation's tables; None if it was made before shapes were."""
    query = select(shapes.c.shape).where(shapes.c.view == view, shapes.c.generation == generation)
    return conn.scalar(query)


def activate_first(conn: Connection, view: str, generation: int) -> None:
    conn.execute(insert(active).values(view=view, generation=generation))


def claim(conn: Connection, view: str, generation: int, old: int, new: int) -> bool:
    """Move the position from `old` to `new`; False when another worker moved it first.

    On PostgreSQL a second claimant blocks on the row until the first commits, then finds
    the position changed; on SQLite the write lock serialises them the same way.
    """
    result = conn.execute(
        update(tracking)
        .where(
            tracking.c.view == view,
            tracking.c.generation == generation,
            tracking.c.position == old,
        )
        .values(position=new, updated_at=now())
    )
    return result.rowcount == 1


def switch(conn: Connection, view: str, old: int, new: int) -> bool:
    """Point queries at generation `new` if `old` is still the active one."""
    result = conn.execute(
        update(active)
        .where(active.c.view == view, active.c.generation == old)
        .values(generation=new)
    )
    return result.rowcount == 1


def forget(conn: Connection, view: str, generation: int) -> None:
    for table in (tracking, shapes):
        conn.execute(delete(table).where(table.c.view == view, table.c.generation == generation))


def is_abandoned(generation: Generation, moment: datetime, after: timedelta) -> bool:
    """A building generation nobody has advanced for `after`: its builder died."""
    return not generation.active and moment - generation.updated_at > after
