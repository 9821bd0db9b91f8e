"""Which local dates are work days: configured weekdays, minus Indonesian national holidays and extra days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from typing import Protocol

import holidays


class CalendarRules(Protocol):
    """What a work-day calendar is made of (the `reminders.*` settings: `RemindersConfig` has them)."""

    @property
    def work_days(self) -> Iterable[int]: ...  # weekdays, Monday = 0
    @property
    def national_holidays(self) -> bool: ...
    @property
    def extra_non_working_days(self) -> Iterable[date]: ...


@lru_cache(maxsize=64)
def _national(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("ID", years=[year]).items())


class WorkCalendar:
    def __init__(self, cfg: CalendarRules) -> None:
        self.work_days = set(cfg.work_days)
        self.national = cfg.national_holidays
        self.extra = set(cfg.extra_non_working_days)

    def why_not(self, day: date) -> str | None:
        """None on a work day; otherwise the reason (weekday off, the holiday's name, extra day off)."""
        if day in self.extra:
            return "extra non-working day"
        if self.national:
            name = _national(day.year).get(day)
            if name:
                return f"holiday: {name}"
        if day.weekday() not in self.work_days:
            return "not a work day"
        return None

    def is_work_day(self, day: date) -> bool:
        return self.why_not(day) is None

    def days_between(self, first: date, last: date) -> list[date]:
        """The work days from `first` to `last`, both included, oldest first."""
        out: list[date] = []
        day = first
        while day <= last:
            if self.is_work_day(day):
                out.append(day)
            day += timedelta(days=1)
        return out

    def days_before(self, day: date, n: int) -> list[date]:
        """The `n` work days before `day` (`day` excluded), newest first."""
        out: list[date] = []
        day -= timedelta(days=1)
        while len(out) < n:
            if self.is_work_day(day):
                out.append(day)
            day -= timedelta(days=1)
        return out
