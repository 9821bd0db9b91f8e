"""What `/ubah` may correct: a KSM's progress reports and attendance sheets of the last days, newest first,
and whether a re-entered progress figure changes anything. The corrections themselves are saved by
`save_progress` and `save_attendance`, which keep the old values in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.events import ReportKind
from kotaku.models import Activity, ProgressReport
from kotaku.services.attendance import recent_sheets

# Percent points below which a re-entered figure is the same as the recorded one.
SAME_PERCENT = 0.005


@dataclass(frozen=True)
class Correctable:
    """One report that may be corrected: a progress report (`activity_name`, `percent`) or an attendance
    sheet (`workers`)."""

    kind: ReportKind
    id: int
    on: date
    activity_name: str = ""
    percent: float = 0.0
    workers: int = 0


async def correctable_reports(
    session: AsyncSession, ksm_id: int, since: date, limit: int | None = None
) -> list[Correctable]:
    """The KSM's reports from `since` on, newest first (progress before attendance on the same day, then
    by activity code); all of them, or at most `limit`."""
    progress = await session.execute(
        select(ProgressReport, Activity)
        .join(Activity, Activity.id == ProgressReport.activity_id)
        .where(Activity.ksm_id == ksm_id, ProgressReport.report_date >= since)
        .order_by(ProgressReport.report_date.desc(), Activity.code)
    )
    items = [
        Correctable(
            kind=ReportKind.PROGRESS,
            id=report.id,
            on=report.report_date,
            activity_name=activity.name,
            percent=report.percent,
        )
        for report, activity in progress
    ]
    items += [
        Correctable(kind=ReportKind.ATTENDANCE, id=day.id, on=day.work_date, workers=workers)
        for day, workers in await recent_sheets(session, ksm_id, since)
    ]
    items.sort(key=lambda item: item.on, reverse=True)  # stable: the order above within a day
    return items if limit is None else items[:limit]


def same_progress(report: ProgressReport, percent: float, volume: float | None) -> bool:
    """The figure typed is the one already recorded: nothing to correct."""
    return abs(percent - report.percent) < SAME_PERCENT and volume == report.volume
