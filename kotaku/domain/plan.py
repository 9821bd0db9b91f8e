"""Planned S-curves and the deviation rule: one pure function shared by replies, summaries, alerts and exports.

The rule is the public-works "kontrak kritis" rule (README, "Deviation rule"): with planned progress up
to 70%, an activity is critical when actual is more than 10 points behind; above 70%, more than 5 points
behind, or when its recent trend would finish after the end date. Thresholds come from `monitoring.*`
settings (`MonitoringConfig` has every attribute `DeviationLimits` names).
"""

from __future__ import annotations

import enum
import itertools
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol


class DeviationLimits(Protocol):
    """The thresholds of the rule, in percentage points (`monitoring.critical_*`, `on_plan_tolerance`)."""

    @property
    def critical_low_plan_max(self) -> float: ...
    @property
    def critical_behind_low(self) -> float: ...
    @property
    def critical_behind_high(self) -> float: ...
    @property
    def on_plan_tolerance(self) -> float: ...


class Status(enum.StrEnum):
    NOT_STARTED = "belum_mulai"
    AHEAD = "lebih_cepat"
    ON_PLAN = "sesuai_rencana"
    BEHIND = "terlambat"
    CRITICAL = "kritis"
    DONE = "selesai"


def s_curve_fraction(t: float) -> float:
    """Smoothstep: slow start, fast middle, slow finish; 0 at t<=0 and 1 at t>=1."""
    if t <= 0:
        return 0.0
    if t >= 1:
        return 1.0
    return t * t * (3 - 2 * t)


def default_planned(start: date, end: date, on: date, shape: str = "s") -> float:
    """Planned cumulative percent on a date when an activity has no plan points."""
    if on < start:
        return 0.0
    if on >= end:
        return 100.0
    span = (end - start).days
    t = (on - start).days / span if span > 0 else 1.0
    frac = t if shape == "linear" else s_curve_fraction(t)
    return round(100.0 * frac, 2)


def default_plan_points(
    start: date, end: date, shape: str = "s", step_days: int = 7
) -> list[tuple[date, float]]:
    """Weekly points of the default curve (start and end included), for imports and charts."""
    points: list[tuple[date, float]] = []
    day = start
    while day < end:
        points.append((day, default_planned(start, end, day, shape)))
        day += timedelta(days=step_days)
    points.append((end, 100.0))
    return points


def planned_percent(
    points: Sequence[tuple[date, float]], start: date, end: date, on: date, shape: str = "s"
) -> float:
    """Planned percent on `on`, interpolating linearly between plan points (or the default curve)."""
    if not points:
        return default_planned(start, end, on, shape)
    pts = sorted(points)
    if pts[0][0] > start:
        pts.insert(0, (start, 0.0))
    if on <= pts[0][0]:
        return 0.0 if on < pts[0][0] else round(pts[0][1], 2)
    for (d0, p0), (d1, p1) in itertools.pairwise(pts):
        if d0 <= on <= d1:
            span = (d1 - d0).days
            frac = (on - d0).days / span if span else 1.0
            return round(p0 + (p1 - p0) * frac, 2)
    return round(pts[-1][1], 2)


def planned_percents(
    points: Sequence[tuple[date, float]], start: date, end: date, days: Sequence[date], shape: str = "s"
) -> list[float]:
    """`planned_percent` on each of `days` (same order), the points sorted once and each day found by
    bisection: for an export that needs the plan of one activity on many dates."""
    if not points:
        return [default_planned(start, end, on, shape) for on in days]
    pts = sorted(points)
    if pts[0][0] > start:
        pts.insert(0, (start, 0.0))
    dates = [d for d, _ in pts]
    first_day, first_pct = pts[0]
    last = round(pts[-1][1], 2)
    out: list[float] = []
    for on in days:
        if on <= first_day:
            out.append(0.0 if on < first_day else round(first_pct, 2))
            continue
        # The first pair (d0, d1) with d0 <= on <= d1, as `planned_percent` walks them: d1 is the first
        # point on or after `on`, d0 the one before it (before `on`).
        j = bisect_left(dates, on)
        if j == len(pts):
            out.append(last)
            continue
        (d0, p0), (d1, p1) = pts[j - 1], pts[j]
        span = (d1 - d0).days
        frac = (on - d0).days / span if span else 1.0
        out.append(round(p0 + (p1 - p0) * frac, 2))
    return out


# Percentage points per day below which a trend counts as flat.
FLAT_SLOPE = 1e-9


def project_finish(history: Sequence[tuple[date, float]], window: int = 5) -> date | None:
    """Date the recent trend reaches 100% (least-squares slope over the last `window` reports)."""
    recent = sorted(history)[-window:]
    if not recent:
        return None
    if recent[-1][1] >= 100:
        return recent[-1][0]
    if len(recent) < 2:
        return None
    x0 = recent[0][0]
    xs = [(d - x0).days for d, _ in recent]
    ys = [p for _, p in recent]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope <= FLAT_SLOPE:  # flat (a repeated percentage leaves float noise, ~1e-17): no trend to project
        return None
    days_left = (100.0 - recent[-1][1]) / slope
    latest = recent[-1][0]
    return latest + timedelta(days=min(int(days_left + 0.999), (date.max - latest).days))


@dataclass(frozen=True)
class Assessment:
    planned: float
    actual: float | None
    deviation: float | None
    status: Status
    projected_finish: date | None
    reason: str


def assess(
    *,
    planned: float,
    actual: float | None,
    cfg: DeviationLimits,
    end: date | None = None,
    projected_finish: date | None = None,
) -> Assessment:
    """Status of one activity on one day from planned and actual cumulative percent."""
    if actual is None:
        if planned <= 0:
            return Assessment(planned, None, None, Status.NOT_STARTED, projected_finish, "belum ada rencana")
        return Assessment(
            planned,
            None,
            round(-planned, 2),
            _status_for_gap(planned, -planned, cfg),
            projected_finish,
            "belum ada laporan",
        )
    deviation = round(actual - planned, 2)
    if actual >= 100:
        return Assessment(planned, actual, deviation, Status.DONE, projected_finish, "selesai")
    status = _status_for_gap(planned, deviation, cfg)
    reason = "deviasi"
    late = projected_finish is not None and end is not None and projected_finish > end
    if status != Status.CRITICAL and late and planned > cfg.critical_low_plan_max and deviation < 0:
        status, reason = Status.CRITICAL, "proyeksi melewati tanggal selesai"
    return Assessment(planned, actual, deviation, status, projected_finish, reason)


def assess_without_trend(
    *, planned: float, actual: float | None, cfg: DeviationLimits, end: date | None
) -> Assessment | None:
    """`assess` when the projected finish cannot change the status, else None (the trend decides). `assess`
    itself decides: when the status and reason are the same with no projection and with the latest possible
    one, no projection changes them (`projected_finish` is then None). A pure function of its arguments, so an
    export that assesses every report can keep its answers by (planned, actual, end)."""
    early = assess(planned=planned, actual=actual, cfg=cfg, end=end, projected_finish=None)
    late = assess(planned=planned, actual=actual, cfg=cfg, end=end, projected_finish=date.max)
    if early.status == late.status and early.reason == late.reason:
        return early
    return None


def _status_for_gap(planned: float, deviation: float, cfg: DeviationLimits) -> Status:
    deviation = round(deviation, 2)
    limit = (
        cfg.critical_behind_low
        if round(planned, 2) <= cfg.critical_low_plan_max
        else cfg.critical_behind_high
    )
    if deviation < -limit:
        return Status.CRITICAL
    if deviation > cfg.on_plan_tolerance:
        return Status.AHEAD
    if deviation >= -cfg.on_plan_tolerance:
        return Status.ON_PLAN
    return Status.BEHIND
