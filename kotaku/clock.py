"""The one place that says what time it is, so `--at` can replay a day and tests can travel in time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC)


def local_now(tz: str, at: datetime | None = None) -> datetime:
    return (at or now()).astimezone(ZoneInfo(tz))


def local_today(tz: str, at: datetime | None = None) -> date:
    return local_now(tz, at).date()


def parse_at(value: str | None, default_tz: str = "Asia/Jakarta") -> datetime | None:
    """`--at` values: ISO datetime; a naive one is read in `default_tz`."""
    if value is None:
        return None
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(default_tz))
    return dt.astimezone(UTC)
