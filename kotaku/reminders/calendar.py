"""Which local dates are work days: configured weekdays, minus Indonesian national holidays and extra days."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

from kotaku.config import RemindersConfig


@lru_cache(maxsize=64)
def _national(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("ID", years=[year]).items())


class WorkCalendar:
    def __init__(self, cfg: RemindersConfig) -> None:
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
