"""Working days: Monday to Friday, less public holidays, plus make-up working days (调休)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
WEEKEND = frozenset({5, 6})


@dataclass(frozen=True)
class WorkingCalendar:
    """Counts days in the centers' local time zone, where a day begins and ends."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    zone: tzinfo = CHINA_STANDARD_TIME
    name: str = "weekends only"

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() not in WEEKEND and day not in self.holidays

    def days_between(self, start: datetime, end: datetime, unit: str) -> int:
        """How many days of `unit` `add` counts from `start` to reach `end`'s day (0 if none)."""
        first, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        span = (last - first).days
        if unit == "calendar":
            return max(span, 0)
        return sum(self.is_working_day(first + timedelta(days=n)) for n in range(1, span + 1))

    def on_working_day(self, moment: datetime) -> datetime:
        """`moment`, or the same local time on the next working day if its day is not one."""
        local = moment.astimezone(self.zone)
        while not self.is_working_day(local.date()):
            local += timedelta(days=1)
        return local.astimezone(moment.tzinfo)

    def add(self, start: datetime, days: int, unit: str) -> datetime:
        """`days` calendar days after `start`, or the same time `days` working days later."""
        if unit == "calendar":
            return start + timedelta(days=days)
        local = start.astimezone(self.zone)
        remaining = days
        while remaining > 0:
            local += timedelta(days=1)
            if self.is_working_day(local.date()):
                remaining -= 1
        return local.astimezone(start.tzinfo)
