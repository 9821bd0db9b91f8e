"""The pure domain helpers: region paths and codes, work days, distances, photo hash distance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from kotaku.config import RemindersConfig
from kotaku.domain.calendar import WorkCalendar
from kotaku.domain.geo import distance_m
from kotaku.domain.phash import hamming_distance, phash_int
from kotaku.domain.regions import CODE_SEP, child_path, path_codes, path_prefixes, within

KEL = "33/33.22/33.22.10/33.22.10.1001"


@pytest.mark.parametrize(
    ("inner", "outer", "inside"),
    [
        (KEL, KEL, True),
        (KEL, "33/33.22", True),
        (KEL, "33", True),
        ("33/33.22", KEL, False),
        ("33/33.221/33.221.01", "33/33.22", False),  # a longer code is no child
        ("73/73.71", "33", False),
    ],
)
def test_path_within(inner: str, outer: str, inside: bool) -> None:
    assert within(inner, outer) is inside


def test_code_within() -> None:
    assert within("33.22.10.1001", "33.22", CODE_SEP)
    assert within("33.22", "33.22", CODE_SEP)
    assert not within("33.221", "33.22", CODE_SEP)
    assert not within("33.22", "33.22.10", CODE_SEP)


def test_paths() -> None:
    assert child_path(None, "33") == "33"
    assert child_path("33/33.22", "33.22.10") == "33/33.22/33.22.10"
    assert path_codes(KEL) == ["33", "33.22", "33.22.10", "33.22.10.1001"]
    assert path_prefixes(KEL) == ["33", "33/33.22", "33/33.22/33.22.10", KEL]


def test_work_days_skip_sundays_and_national_holidays() -> None:
    cal = WorkCalendar(RemindersConfig())
    # Monday 17 August 2026 is Independence Day, the 16th a Sunday.
    assert cal.why_not(date(2026, 8, 17)) is not None
    assert cal.days_before(date(2026, 8, 19), 3) == [date(2026, 8, 18), date(2026, 8, 15), date(2026, 8, 14)]
    assert cal.days_between(date(2026, 8, 14), date(2026, 8, 18)) == [
        date(2026, 8, 14),
        date(2026, 8, 15),
        date(2026, 8, 18),
    ]


@dataclass
class _Rules:
    work_days: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    national_holidays: bool = False
    extra_non_working_days: list[date] = field(default_factory=lambda: [date(2026, 8, 18)])


def test_work_calendar_takes_any_object_with_the_rules() -> None:
    cal = WorkCalendar(_Rules())
    assert cal.why_not(date(2026, 8, 15)) == "not a work day"  # a Saturday
    assert cal.is_work_day(date(2026, 8, 17))  # no national holidays
    assert cal.why_not(date(2026, 8, 18)) == "extra non-working day"


def test_distance_and_hamming() -> None:
    assert distance_m(-7.265, 110.412, -7.265, 110.412) == 0
    assert 1100 < distance_m(-7.265, 110.412, -7.275, 110.412) < 1125
    assert phash_int("00000000000000ff") == 255
    assert phash_int("not hex") is None and phash_int(None) is None
    assert hamming_distance(0b1011, 0b0001) == 2
