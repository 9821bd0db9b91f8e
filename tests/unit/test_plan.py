"""Planned curves, interpolation, projection and the "kontrak kritis" deviation rule."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from kotaku.config import MonitoringConfig
from kotaku.domain.plan import (
    Status,
    assess,
    default_plan_points,
    default_planned,
    planned_percent,
    project_finish,
    s_curve_fraction,
)

CFG = MonitoringConfig()
START = date(2026, 3, 1)
END = date(2026, 3, 31)  # 30 days


# --- curves ---------------------------------------------------------------------------------------


def test_s_curve_endpoints_and_middle() -> None:
    assert s_curve_fraction(0) == 0.0
    assert s_curve_fraction(1) == 1.0
    assert s_curve_fraction(-0.5) == 0.0
    assert s_curve_fraction(1.5) == 1.0
    assert s_curve_fraction(0.5) == pytest.approx(0.5)


def test_s_curve_is_monotonic_and_slow_at_the_ends() -> None:
    values = [s_curve_fraction(i / 100) for i in range(101)]
    assert all(b > a for a, b in itertools.pairwise(values))
    # slower than linear in the first quarter, faster than linear in the last
    assert s_curve_fraction(0.25) < 0.25
    assert s_curve_fraction(0.75) > 0.75


def test_default_planned_linear_vs_s() -> None:
    quarter = START + timedelta(days=6)  # t = 0.2
    assert default_planned(START, END, quarter, "linear") == 20.0
    assert default_planned(START, END, quarter, "s") == round(100 * (0.04 * 2.6), 2)  # 10.4
    mid = START + timedelta(days=15)
    assert default_planned(START, END, mid, "linear") == 50.0
    assert default_planned(START, END, mid, "s") == 50.0


def test_default_planned_outside_the_period() -> None:
    assert default_planned(START, END, START - timedelta(days=1)) == 0.0
    assert default_planned(START, END, START) == 0.0
    assert default_planned(START, END, END) == 100.0
    assert default_planned(START, END, END + timedelta(days=10)) == 100.0
    # a one-day activity is 100% planned on its day
    assert default_planned(START, START, START) == 100.0


def test_default_plan_points_weekly_with_end() -> None:
    points = default_plan_points(START, END, "linear")
    assert points[0] == (START, 0.0)
    assert points[-1] == (END, 100.0)
    assert [d for d, _ in points[:-1]] == [START + timedelta(days=7 * i) for i in range(5)]
    percents = [p for _, p in points]
    assert percents == sorted(percents)
    assert points[1] == (START + timedelta(days=7), round(700 / 30, 2))


# --- planned_percent ------------------------------------------------------------------------------

POINTS = [(date(2026, 3, 11), 20.0), (date(2026, 3, 21), 60.0), (date(2026, 3, 31), 100.0)]


def test_planned_percent_interpolates_between_points() -> None:
    assert planned_percent(POINTS, START, END, date(2026, 3, 11)) == 20.0
    assert planned_percent(POINTS, START, END, date(2026, 3, 16)) == 40.0
    assert planned_percent(POINTS, START, END, date(2026, 3, 21)) == 60.0
    assert planned_percent(POINTS, START, END, date(2026, 3, 26)) == 80.0


def test_planned_percent_ramps_from_start_before_first_point() -> None:
    # the first point is after the start date: (start, 0) is implied
    assert planned_percent(POINTS, START, END, START) == 0.0
    assert planned_percent(POINTS, START, END, date(2026, 3, 6)) == 10.0
    assert planned_percent(POINTS, START, END, START - timedelta(days=3)) == 0.0


def test_planned_percent_after_last_point_holds_last_value() -> None:
    assert planned_percent(POINTS, START, END, END + timedelta(days=5)) == 100.0
    partial = [(date(2026, 3, 11), 20.0), (date(2026, 3, 21), 60.0)]
    assert planned_percent(partial, START, END, date(2026, 4, 15)) == 60.0


def test_planned_percent_unsorted_points() -> None:
    assert planned_percent(list(reversed(POINTS)), START, END, date(2026, 3, 16)) == 40.0


def test_planned_percent_first_point_on_start_date() -> None:
    pts = [(START, 5.0), (END, 100.0)]
    assert planned_percent(pts, START, END, START) == 5.0
    assert planned_percent(pts, START, END, START - timedelta(days=1)) == 0.0
    assert planned_percent(pts, START, END, date(2026, 3, 16)) == 52.5


def test_planned_percent_without_points_uses_default_curve() -> None:
    day = START + timedelta(days=6)
    assert planned_percent([], START, END, day, "linear") == 20.0
    assert planned_percent([], START, END, day) == 10.4  # s by default


# --- project_finish -------------------------------------------------------------------------------


def test_project_finish_steady_trend() -> None:
    d0 = date(2026, 3, 1)
    history = [(d0 + timedelta(days=i), 10.0 * (i + 1)) for i in range(3)]  # 10, 20, 30: +10/day
    assert project_finish(history) == d0 + timedelta(days=2 + 7)


def test_project_finish_uses_only_recent_window() -> None:
    d0 = date(2026, 3, 1)
    # an old burst followed by a steady +2/day: only the last 5 reports count
    history = [(d0, 0.0), (d0 + timedelta(days=1), 40.0)] + [
        (d0 + timedelta(days=10 + i), 40.0 + 2 * i) for i in range(5)
    ]
    last_day, last = history[-1]
    assert project_finish(history) == last_day + timedelta(days=int((100 - last) / 2))


def test_project_finish_edge_cases() -> None:
    d0 = date(2026, 3, 1)
    assert project_finish([]) is None
    assert project_finish([(d0, 30.0)]) is None
    assert project_finish([(d0, 30.0), (d0 + timedelta(days=3), 30.0)]) is None  # flat
    assert project_finish([(d0, 30.0), (d0 + timedelta(days=3), 20.0)]) is None  # falling
    assert project_finish([(d0, 90.0), (d0 + timedelta(days=3), 100.0)]) == d0 + timedelta(days=3)


# --- the deviation rule ---------------------------------------------------------------------------


def status(planned: float, actual: float | None, cfg: MonitoringConfig = CFG, **kw: object) -> Status:
    return assess(planned=planned, actual=actual, cfg=cfg, **kw).status  # type: ignore[arg-type]


def test_exactly_ten_points_behind_is_behind_not_critical() -> None:
    result = assess(planned=50.0, actual=40.0, cfg=CFG)
    assert result.deviation == -10.0
    assert result.status == Status.BEHIND


def test_more_than_ten_points_behind_is_critical() -> None:
    result = assess(planned=50.0, actual=39.99, cfg=CFG)
    assert result.deviation == -10.01
    assert result.status == Status.CRITICAL


def test_planned_seventy_still_uses_the_ten_point_band() -> None:
    assert status(70.0, 60.0) == Status.BEHIND
    assert status(70.0, 59.99) == Status.CRITICAL
    assert status(70.0, 64.0) == Status.BEHIND  # 6 behind is fine below the 70% line


def test_planned_above_seventy_uses_the_five_point_band() -> None:
    result = assess(planned=70.01, actual=65.01, cfg=CFG)
    assert result.deviation == -5.0
    assert result.status == Status.BEHIND
    result = assess(planned=70.01, actual=65.0, cfg=CFG)
    assert result.deviation == -5.01
    assert result.status == Status.CRITICAL
    assert status(90.0, 84.0) == Status.CRITICAL


def test_ahead_and_on_plan() -> None:
    assert status(50.0, 50.01) == Status.AHEAD
    assert status(50.0, 50.0) == Status.ON_PLAN
    assert status(50.0, 49.99) == Status.BEHIND


def test_done_at_hundred_even_if_planned_is_higher() -> None:
    result = assess(planned=100.0, actual=100.0, cfg=CFG)
    assert result.status == Status.DONE
    assert assess(planned=40.0, actual=100.0, cfg=CFG).status == Status.DONE


def test_no_report_yet() -> None:
    assert status(0.0, None) == Status.NOT_STARTED
    nothing = assess(planned=20.0, actual=None, cfg=CFG)
    assert nothing.deviation == -20.0
    assert nothing.status == Status.CRITICAL
    assert status(8.0, None) == Status.BEHIND


def test_projected_finish_after_end_makes_late_stage_critical() -> None:
    end = date(2026, 3, 31)
    late = end + timedelta(days=3)
    result = assess(planned=80.0, actual=77.0, cfg=CFG, end=end, projected_finish=late)
    assert result.status == Status.CRITICAL
    assert "proyeksi" in result.reason
    # the same figures with a projection on time are only behind
    assert status(80.0, 77.0, end=end, projected_finish=end) == Status.BEHIND
    # below the 70% line the projection does not make it critical
    assert status(60.0, 57.0, end=end, projected_finish=late) == Status.BEHIND
    # not behind: a pessimistic projection alone does not make it critical
    assert status(80.0, 80.0, end=end, projected_finish=late) == Status.ON_PLAN


def test_thresholds_come_from_config() -> None:
    lenient = MonitoringConfig(critical_behind_low=15.0, critical_behind_high=8.0)
    assert status(50.0, 38.0) == Status.CRITICAL
    assert status(50.0, 38.0, lenient) == Status.BEHIND
    assert status(80.0, 73.0, lenient) == Status.BEHIND
    assert status(80.0, 71.99, lenient) == Status.CRITICAL

    lower_line = MonitoringConfig(critical_low_plan_max=50.0)
    assert status(60.0, 53.0) == Status.BEHIND
    assert status(60.0, 53.0, lower_line) == Status.CRITICAL

    tolerant = MonitoringConfig(on_plan_tolerance=2.0)
    assert status(50.0, 48.0, tolerant) == Status.ON_PLAN
    assert status(50.0, 52.0, tolerant) == Status.ON_PLAN
    assert status(50.0, 52.01, tolerant) == Status.AHEAD
    assert status(50.0, 47.99, tolerant) == Status.BEHIND


def test_a_repeated_percentage_projects_no_finish_instead_of_overflowing() -> None:
    from datetime import date as _date

    from kotaku.domain.plan import project_finish

    days = [_date(2026, 11, d) for d in (20, 21, 23, 24)]
    assert project_finish([(d, 0.38) for d in days]) is None
    assert project_finish([(days[0], 0.1), (days[1], 0.1 + 1e-7)]) is not None  # slow, not flat: far future
