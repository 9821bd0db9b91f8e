"""Planned and actual S-curves for one activity or a whole kelurahan/kota (budget-weighted), for /kurva.

An area's curve is the budget-weighted average of its activities' curves: planned from each activity's plan
points (or the default curve), actual from its latest report on or before each day (0 before the first).
Three queries per curve (activities, plan points, reports), whatever the number of activities.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.config import Settings
from kotaku.domain.plan import Assessment, assess, planned_percent, project_finish
from kotaku.models import Activity, PlanPoint, ProgressReport, Region
from kotaku.services.scope import join_kelurahan, ksm_timezone, region_path_within

# Reports this many days back feed the trend of the "will finish late" part of the rule.
TREND_DAYS = 14


@dataclass(frozen=True)
class Curve:
    planned: list[tuple[date, float]]
    actual: list[tuple[date, float]]
    today: date
    assessment: Assessment
    activities: int


async def activity_curve(
    session: AsyncSession, settings: Settings, activity: Activity, now: datetime
) -> Curve:
    """The activity's plan (daily) and its reports up to its local today, with today's assessment."""
    tz = await ksm_timezone(session, activity.ksm_id, settings.app.default_timezone)
    today = clock.local_today(tz, now)
    points = [
        (d, p)
        for d, p in (
            await session.execute(
                select(PlanPoint.plan_date, PlanPoint.planned_percent)
                .where(PlanPoint.activity_id == activity.id)
                .order_by(PlanPoint.plan_date)
            )
        ).all()
    ]
    reports = [
        (d, p)
        for d, p in (
            await session.execute(
                select(ProgressReport.report_date, ProgressReport.percent)
                .where(ProgressReport.activity_id == activity.id, ProgressReport.report_date <= today)
                .order_by(ProgressReport.report_date)
            )
        ).all()
    ]
    cfg = settings.monitoring
    planned = _daily_plan(points, activity.start_date, activity.end_date, cfg.curve)
    actual = list(reports)
    if actual and actual[0][0] > activity.start_date:
        actual.insert(0, (activity.start_date, 0.0))
    assessment = assess(
        planned=planned_percent(points, activity.start_date, activity.end_date, today, cfg.curve),
        actual=reports[-1][1] if reports else None,
        cfg=cfg,
        end=activity.end_date,
        projected_finish=project_finish([r for r in reports if r[0] >= today - timedelta(days=TREND_DAYS)]),
    )
    return Curve(planned=planned, actual=actual, today=today, assessment=assessment, activities=1)


def _daily_plan(
    points: list[tuple[date, float]], start: date, end: date, shape: str
) -> list[tuple[date, float]]:
    days = (end - start).days
    return [
        (start + timedelta(days=i), planned_percent(points, start, end, start + timedelta(days=i), shape))
        for i in range(days + 1)
    ]


async def area_curve(
    session: AsyncSession, settings: Settings, region: Region, now: datetime
) -> Curve | None:
    """Budget-weighted curve of every activity in a region (kelurahan, kecamatan, kota or provinsi);
    None when the region has no activity."""
    today = clock.local_today(region.timezone, now)
    in_region = region_path_within(region.path)
    acts = (
        await session.execute(
            join_kelurahan(
                select(Activity.id, Activity.budget, Activity.start_date, Activity.end_date), Activity.ksm_id
            ).where(in_region)
        )
    ).all()
    if not acts:
        return None
    ids = [a[0] for a in acts]
    ids_sq = join_kelurahan(select(Activity.id), Activity.ksm_id).where(in_region)
    points: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for aid, d, p in (
        await session.execute(
            select(PlanPoint.activity_id, PlanPoint.plan_date, PlanPoint.planned_percent).where(
                PlanPoint.activity_id.in_(ids_sq)
            )
        )
    ).all():
        points[aid].append((d, p))
    reports: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for aid, d, p in (
        await session.execute(
            select(ProgressReport.activity_id, ProgressReport.report_date, ProgressReport.percent)
            .where(ProgressReport.activity_id.in_(ids_sq), ProgressReport.report_date <= today)
            .order_by(ProgressReport.report_date)
        )
    ).all():
        reports[aid].append((d, p))

    total_budget = sum(max(a[1], 0) for a in acts)
    weights = {a[0]: (a[1] / total_budget if total_budget else 1 / len(acts)) for a in acts}
    first = min(a[2] for a in acts)
    last = max(a[3] for a in acts)
    cfg = settings.monitoring
    planned: list[tuple[date, float]] = []
    actual: list[tuple[date, float]] = []
    cursors = dict.fromkeys(ids, 0)
    current = dict.fromkeys(ids, 0.0)
    day = first
    while day <= last:
        plan_day = sum(
            weights[aid] * planned_percent(points[aid], s, e, day, cfg.curve) for aid, _b, s, e in acts
        )
        planned.append((day, round(plan_day, 2)))
        if day <= today:
            for aid in ids:
                rows = reports[aid]
                i = cursors[aid]
                while i < len(rows) and rows[i][0] <= day:
                    current[aid] = rows[i][1]
                    i += 1
                cursors[aid] = i
            actual.append((day, round(sum(weights[aid] * current[aid] for aid in ids), 2)))
        day += timedelta(days=1)
    planned_today = next((p for d, p in planned if d == today), 100.0 if today > last else 0.0)
    has_reports = any(reports.values())
    actual_today = actual[-1][1] if actual and has_reports else None
    assessment = assess(planned=planned_today, actual=actual_today, cfg=cfg, end=last)
    return Curve(planned=planned, actual=actual, today=today, assessment=assessment, activities=len(acts))
