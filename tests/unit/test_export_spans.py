"""The exports read each batch's roster records once, ordered by KSM and date, and find each KSM's payment
period as a slice of them (`ExportData.record_spans`); the dates come raw from the driver (text on SQLite,
dates on PostgreSQL) and are parsed once per value (`DayCache`)."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import pytest

from kotaku.config import Settings
from kotaku.exports import ExportFormat, ExportRequest
from kotaku.exports.data import DayCache, ExportData
from kotaku.services.scope import NATIONAL

WEEKS = [(date(2026, 11, 23), date(2026, 11, 29)), (date(2026, 11, 30), date(2026, 12, 6))]


def _data() -> ExportData:
    request = ExportRequest(scope=NATIONAL, start=WEEKS[0][0], end=WEEKS[-1][1], fmt=ExportFormat.CSV)
    return ExportData(session=cast(Any, None), settings=Settings(), request=request, ksms=[], periods=WEEKS)


@pytest.mark.parametrize("raw", [str, lambda d: d], ids=["sqlite-text", "postgresql-date"])
def test_record_spans_cut_the_records_by_ksm_and_period(raw: Any) -> None:
    days = ["2026-11-23", "2026-11-23", "2026-11-29", "2026-11-30", "2026-12-06", "2026-11-24", "2026-12-01"]
    ksms = [7, 7, 7, 7, 7, 3, 3]  # KSM 7 over both weeks, then KSM 3 (ids need not be in order)
    records = [
        (k, raw(date.fromisoformat(d)), 100 + i, 1.0, 50_000, False)
        for i, (k, d) in enumerate(zip(ksms, days, strict=True))
    ]
    spans = _data().record_spans(records)
    assert spans == {(7, 0): (0, 3), (7, 1): (3, 5), (3, 0): (5, 6), (3, 1): (6, 7)}
    assert _data().record_spans([]) == {}


def test_day_cache_parses_text_once_and_keeps_dates() -> None:
    cache = DayCache()
    assert cache["2026-11-23"] == date(2026, 11, 23)
    assert cache[date(2026, 11, 24)] == date(2026, 11, 24)
    assert cache["2026-11-23"] is cache["2026-11-23"]
    assert len(cache) == 2
