"""Working-day calendars: holiday files, editable per deployment, loaded at start-up."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta, timezone
from pathlib import Path
from typing import Any

from mediation.domain.calendar import WorkingCalendar

BUILT_IN = Path(__file__).parent / "cn-xizang.toml"


class CalendarError(Exception):
    """A holiday file is broken; names the file and the fault."""


def load_calendar(path: Path = BUILT_IN) -> WorkingCalendar:
    """Read a holiday file: `holidays` and make-up `workdays` as TOML dates."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CalendarError(f"{path}: {error}") from None
    offset = data.get("zone_offset_hours", 8)
    if not isinstance(offset, int) or not -12 <= offset <= 14:
        raise CalendarError(f"{path}: zone_offset_hours: must be a whole number from -12 to 14")
    return WorkingCalendar(
        holidays=_dates(data, "holidays", path),
        workdays=_dates(data, "workdays", path),
        zone=timezone(timedelta(hours=offset)),
        name=str(data.get("name", path.stem)),
    )


def _dates(data: dict[str, Any], key: str, path: Path) -> frozenset[date]:
    values = data.get(key, [])
    if not isinstance(values, list):
        raise CalendarError(f"{path}: {key}: must be a list of dates")
    for index, value in enumerate(values):
        if not isinstance(value, date):
            raise CalendarError(f"{path}: {key}[{index}]: {value!r} is not a date (YYYY-MM-DD)")
    return frozenset(values)
