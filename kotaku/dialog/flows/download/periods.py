"""The period of /unduh: `minggu ini`, `minggu lalu`, `bulan ini`, `bulan lalu` (and the English words), or
dates typed the Indonesian way: `1-7 Des`, `28 Nov - 4 Des 2026`, `1/12-7/12`, `25 Nov`.

"This week" is the current payment period (`kotaku.exports.payment_period`, Monday-Sunday by default), so
the file matches the paper the BKM signs. A typed range without a year is in this year, or in the last one
when this year's is more than a month ahead ("1-7 Des" typed in March); one that starts later than today
is refused.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from kotaku.config import Settings
from kotaku.dialog.quick import parse_day
from kotaku.exports import payment_period

# A longer period is refused in chat (the command line exports any period).
MAX_DAYS = 93


class Named(StrEnum):
    THIS_WEEK = "minggu_ini"
    LAST_WEEK = "minggu_lalu"
    THIS_MONTH = "bulan_ini"
    LAST_MONTH = "bulan_lalu"


NAMED_WORDS = {
    Named.THIS_WEEK: {"minggu ini", "pekan ini", "mingguini", "this week", "week"},
    Named.LAST_WEEK: {"minggu lalu", "pekan lalu", "minggu kemarin", "last week"},
    Named.THIS_MONTH: {"bulan ini", "this month", "month"},
    Named.LAST_MONTH: {"bulan lalu", "bulan kemarin", "last month"},
}

MONTHS = {
    **dict.fromkeys(("jan", "januari", "january"), 1),
    **dict.fromkeys(("feb", "februari", "pebruari", "february"), 2),
    **dict.fromkeys(("mar", "maret", "march"), 3),
    **dict.fromkeys(("apr", "april"), 4),
    **dict.fromkeys(("mei", "may"), 5),
    **dict.fromkeys(("jun", "juni", "june"), 6),
    **dict.fromkeys(("jul", "juli", "july"), 7),
    **dict.fromkeys(("agu", "agt", "ags", "agus", "agustus", "aug", "august"), 8),
    **dict.fromkeys(("sep", "sept", "september"), 9),
    **dict.fromkeys(("okt", "oktober", "oct", "october"), 10),
    **dict.fromkeys(("nov", "nop", "november", "nopember"), 11),
    **dict.fromkeys(("des", "desember", "dec", "december"), 12),
}

_DASHES = re.compile(r"\s*[-–—]\s*|\s+(?:s/d|s\.d\.?|sd|sampai|hingga|to|until)\s+")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:\s+([a-z]+)\.?(?:\s+(\d{4}))?)?$")


class PeriodError(StrEnum):
    UNREADABLE = "unreadable"
    REVERSED = "reversed"
    FUTURE = "future"
    TOO_LONG = "too_long"


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def named_period(name: Named, today: date, settings: Settings) -> Period:
    if name == Named.THIS_WEEK:
        return Period(*payment_period(today, settings))
    if name == Named.LAST_WEEK:
        start, _ = payment_period(today, settings)
        return Period(*payment_period(start - timedelta(days=1), settings))
    first = today.replace(day=1)
    if name == Named.LAST_MONTH:
        first = (first - timedelta(days=1)).replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return Period(first, last)


def _named(text: str) -> Named | None:
    for name, words in NAMED_WORDS.items():
        if text in words or text == name.value:
            return name
    return None


def _day_month(text: str) -> tuple[int, int | None, int | None] | None:
    """`7`, `7 des`, `7 desember 2026` -> (day, month?, year?)."""
    m = _DAY_MONTH.match(text.strip())
    if not m:
        return None
    month = None
    if m.group(2):
        month = MONTHS.get(m.group(2))
        if month is None:
            return None
    return int(m.group(1)), month, int(m.group(3)) if m.group(3) else None


def _dated(day: int, month: int, year: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _typed_range(text: str, today: date) -> tuple[date, date] | None:
    parts = [p for p in _DASHES.split(text) if p]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        return None
    first, second = _day_month(parts[0]), _day_month(parts[1])
    if first is None or second is None:
        # Numeric dates: 1/12-7/12, 1.12 s/d 7.12.2026.
        a, b = parse_day(parts[0], today), parse_day(parts[1], today)
        return (a, b) if a is not None and b is not None else None
    (d1, m1, y1), (d2, m2, y2) = first, second
    if m2 is None:
        return None
    m1 = m1 or m2
    explicit = y2 or y1
    end_year = explicit or today.year
    start_year = y1 or (end_year - 1 if m1 > m2 else end_year)
    start, end = _dated(d1, m1, start_year), _dated(d2, m2, end_year)
    if start is None or end is None:
        return None
    if explicit is None and (start - today).days > 31:  # "1-7 Des" typed in March is last December's
        start, end = _dated(d1, m1, start.year - 1), _dated(d2, m2, end.year - 1)
        if start is None or end is None:
            return None
    return start, end


def parse_period(text: str, today: date, settings: Settings) -> Period | PeriodError:
    """The period a person typed (or pressed: `minggu_ini`, `2026-11-23:2026-11-29`)."""
    raw = " ".join(text.strip().lower().split()).rstrip(".")
    name = _named(raw)
    if name is not None:
        return named_period(name, today, settings)
    pressed = re.fullmatch(r"(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})", raw)
    if pressed:
        try:
            dates: tuple[date, date] | None = (
                date.fromisoformat(pressed.group(1)),
                date.fromisoformat(pressed.group(2)),
            )
        except ValueError:
            dates = None
    else:
        dates = _typed_range(raw, today)
    if dates is None:
        return PeriodError.UNREADABLE
    start, end = dates
    if end < start:
        return PeriodError.REVERSED
    if start > today:
        return PeriodError.FUTURE
    if (end - start).days + 1 > MAX_DAYS:
        return PeriodError.TOO_LONG
    return Period(start, end)
