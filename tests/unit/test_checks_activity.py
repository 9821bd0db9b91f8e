"""The activity rules at their boundaries: kritis (10.0 vs 10.01 behind at planned 70.0; 5.0 vs 5.01 at
70.01), late finish, behind N reports in a row, no report for N work days (Sundays and holidays
excluded), progress going backwards and jumps."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from kotaku import catalogue
from kotaku.config import MonitoringConfig, RemindersConfig
from kotaku.domain.calendar import WorkCalendar
from kotaku.models import AlertSeverity
from kotaku.monitoring.checks import (
    ActivityFacts,
    WorkDays,
    check_behind_streak,
    check_deviation,
    check_no_report,
    check_progress_steps,
)

CFG = MonitoringConfig()
START = date(2026, 10, 1)
END = date(2026, 12, 31)
TODAY = date(2026, 11, 20)


def facts(
    reports: list[tuple[date, float]],
    *,
    planned_today: float | None = None,
    today: date = TODAY,
    end: date = END,
    plan: list[tuple[date, float]] | None = None,
) -> ActivityFacts:
    points = plan or ([(START, 0.0), (today, planned_today)] if planned_today is not None else [])
    return ActivityFacts(
        id=7,
        ksm_id=3,
        code="ACT-01",
        name="Rabat beton",
        start=START,
        end=end,
        today=today,
        plan_points=tuple(points),
        reports=tuple(reports),
    )


def kinds(findings: list) -> list[str]:
    return [f.kind for f in findings]


@pytest.mark.parametrize(
    ("planned", "actual", "critical"),
    [
        (70.0, 60.0, False),  # exactly 10.0 behind, planned <= 70: not kritis
        (70.0, 59.99, True),  # 10.01 behind
        (70.01, 65.01, False),  # exactly 5.0 behind, planned > 70
        (70.01, 65.0, True),  # 5.01 behind
        (70.01, 60.01, True),  # 10.0 behind is far past the 5-point limit above 70
        (30.0, 30.0, False),
    ],
)
def test_critical_boundaries(planned: float, actual: float, critical: bool) -> None:
    a = facts([(TODAY, actual)], planned_today=planned)
    found = [f for f in check_deviation(a, CFG) if f.kind == "critical"]
    assert bool(found) is critical
    if critical:
        f = found[0]
        assert f.severity == AlertSeverity.CRITICAL
        assert (f.subject_type, f.subject_id, f.ksm_id) == ("activity", 7, 3)
        assert f.figures["planned"] == planned
        assert f.figures["deviation"] == round(actual - planned, 2)
        assert f.figures["limit"] == (10.0 if planned <= 70 else 5.0)


def test_critical_thresholds_come_from_config() -> None:
    cfg = MonitoringConfig(critical_behind_low=15.0)
    a = facts([(TODAY, 55.0)], planned_today=70.0)  # 15.0 behind
    assert kinds(check_deviation(a, cfg)) == []
    a = facts([(TODAY, 54.99)], planned_today=70.0)
    assert kinds(check_deviation(a, cfg)) == ["critical"]


def test_critical_without_any_report_and_not_before_start() -> None:
    a = facts([], planned_today=10.01)
    assert kinds(check_deviation(a, CFG)) == ["critical"]
    assert kinds(check_deviation(facts([], planned_today=10.0), CFG)) == []
    early = facts([], today=START - timedelta(days=1))
    assert check_deviation(early, CFG) == []


def test_done_activity_raises_nothing() -> None:
    a = facts([(TODAY - timedelta(days=1), 90.0), (TODAY, 100.0)], planned_today=100.0, end=TODAY)
    assert check_deviation(a, CFG) == []
    assert check_no_report(a, CFG, WorkDays(START, TODAY, lambda d: True)) == []


def test_critical_message_in_both_languages() -> None:
    a = facts([(TODAY, 59.99)], planned_today=70.0)
    f = check_deviation(a, CFG)[0]
    text_id = catalogue.t(f.message_key, "id", **f.params)
    text_en = catalogue.t(f.message_key, "en", **f.params)
    assert "ACT-01 Rabat beton" in text_id and "20 November 2026" in text_id
    assert "59,99%" in text_id and "−10,01" in text_id
    assert "November 20, 2026" in text_en and "59.99%" in text_en and "−10.01" in text_en


def test_late_finish_warning_or_critical_by_the_rule() -> None:
    # 2 points a day: from 40% on Nov 16 to 48% on Nov 20, 52 points left -> 26 days -> Dec 16.
    reports = [(TODAY - timedelta(days=4 - i), 40.0 + 2 * i) for i in range(5)]
    on_time = facts(reports, planned_today=48.0, end=date(2026, 12, 16))
    assert kinds(check_deviation(on_time, CFG)) == []
    late = facts(reports, planned_today=48.0, end=date(2026, 12, 15))
    (f,) = check_deviation(late, CFG)
    assert f.kind == "late_finish" and f.severity == AlertSeverity.WARNING
    assert f.figures["projected_finish"] == "2026-12-16"
    # Planned above 70% and behind (by less than 5): the third kritis clause makes it critical.
    high = facts([(d, p + 24.0) for d, p in reports], planned_today=75.0, end=date(2026, 12, 1))
    found = check_deviation(high, CFG)
    assert kinds(found) == ["late_finish"]
    assert found[0].severity == AlertSeverity.CRITICAL


@pytest.mark.parametrize(("n_behind", "expected"), [(2, []), (3, ["behind_streak"])])
def test_behind_streak_needs_n_reports(n_behind: int, expected: list[str]) -> None:
    # Linear plan: 1 point a day from START (planned on Nov 20 = 50).
    plan = [(START, 0.0), (START + timedelta(days=100), 100.0)]
    days = [TODAY - timedelta(days=i) for i in range(4, -1, -1)]
    reports = []
    for i, d in enumerate(days):
        planned = (d - START).days
        behind = i >= len(days) - n_behind
        reports.append((d, planned - 0.01 if behind else planned + 1.0))
    a = facts(reports, plan=plan)
    assert kinds(check_behind_streak(a, CFG)) == expected


def test_behind_streak_exactly_on_plan_is_not_behind() -> None:
    plan = [(START, 0.0), (START + timedelta(days=100), 100.0)]
    reports = [(d, float((d - START).days)) for d in (TODAY - timedelta(days=i) for i in (2, 1, 0))]
    assert check_behind_streak(facts(reports, plan=plan), CFG) == []


def test_work_days_skip_sundays_and_national_holidays() -> None:
    cal = WorkCalendar(RemindersConfig())
    wd = WorkDays(date(2026, 12, 1), date(2027, 1, 10), cal.is_work_day)
    # Between Wed 23 Dec and Mon 28 Dec: Thu 24, Sat 26 (Fri 25 is Christmas, Sun 27 is off).
    assert wd.between(date(2026, 12, 23), date(2026, 12, 28)) == 2
    assert wd.between(date(2026, 12, 28), date(2026, 12, 28)) == 0


@pytest.mark.parametrize(
    ("today", "expected"), [(date(2026, 12, 28), []), (date(2026, 12, 29), ["no_report"])]
)
def test_no_report_counts_work_days_only(today: date, expected: list[str]) -> None:
    cfg = MonitoringConfig(no_report_workdays=3)
    wd = WorkDays(START, date(2027, 1, 10), WorkCalendar(RemindersConfig()).is_work_day)
    a = facts([(date(2026, 12, 23), 40.0)], today=today)
    found = check_no_report(a, cfg, wd)
    assert kinds(found) == expected
    if found:
        assert found[0].figures == {"work_days": 3, "last_report": "2026-12-23", "date": "2026-12-29"}


def test_no_report_since_start_when_never_reported() -> None:
    wd = WorkDays(START - timedelta(days=1), date(2026, 10, 10), lambda d: True)
    a = facts([], today=date(2026, 10, 3))  # Oct 1 and 2 missed
    assert check_no_report(a, MonitoringConfig(no_report_workdays=3), wd) == []
    a = facts([], today=date(2026, 10, 4))
    assert kinds(check_no_report(a, MonitoringConfig(no_report_workdays=3), wd)) == ["no_report"]


def test_backwards_boundary() -> None:
    d0, d1 = TODAY - timedelta(days=1), TODAY
    assert check_progress_steps(facts([(d0, 50.0), (d1, 50.0)]), CFG) == []
    (f,) = check_progress_steps(facts([(d0, 50.0), (d1, 49.99)]), CFG)
    assert f.kind == "backwards" and f.figures["previous"] == 50.0 and f.figures["percent"] == 49.99


@pytest.mark.parametrize(
    ("gap_days", "delta", "jump"),
    [(1, 20.0, False), (1, 20.01, True), (2, 40.0, False), (2, 40.01, True)],
)
def test_jump_boundary_per_day(gap_days: int, delta: float, jump: bool) -> None:
    a = facts([(TODAY - timedelta(days=gap_days), 10.0), (TODAY, 10.0 + delta)])
    assert kinds(check_progress_steps(a, CFG)) == (["jump"] if jump else [])
