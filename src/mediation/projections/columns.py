"""Column types shared by the views: moments stored in UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator, TypeEngine

# The largest integer a BIGINT (PostgreSQL) or INTEGER (SQLite) column holds: log positions
# and row ids a request names beyond it are refused as input, not sent to the database.
LARGEST_POSITION = 2**63 - 1

# A log position that keys a table's rows: BIGINT on PostgreSQL; on SQLite INTEGER, both 64
# bits, and there a table's one INTEGER PRIMARY KEY column is its rowid: the rows are kept in
# one B-tree by position, rather than in one by a rowid of their own plus an index of the
# positions (the audit's events at 1,000,000 events: a 13.5 MB index fewer to write).
POSITION_KEY: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

# Sorts after every real deadline, so "no deadline" comes last with a plain ascending index.
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


def utc_bound(moment: datetime) -> datetime:
    """A zoned moment a query compares stored moments with, in UTC. One that UTC cannot hold
    (the calendar's first midnight east of UTC, its last west of it) becomes the first or last
    moment UTC holds, so the comparison keeps everything or nothing, as meant."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        edge = datetime.min if moment.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware moment, stored as UTC; SQLite keeps no offset, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "a moment needs a time zone"
            raise ValueError(msg)
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
