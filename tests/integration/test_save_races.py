"""Concurrent first saves of the day (SQLite and PostgreSQL): ten units of work saving the same KSM's
attendance sheet, or the same activity's progress, at once all succeed; one row is left, its revision
counts every save and each replacement is in the audit log."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import AttendanceDay, AttendanceMode, AuditLog, Channel, ProgressReport
from kotaku.security import NikVault
from kotaku.services.attendance import SaveResult, Sheet, save_attendance
from kotaku.services.progress import save_progress
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SAVES = 10


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, TODAY)


async def test_concurrent_first_attendance_saves_all_succeed(
    db: Database, settings: Settings, program: Program
) -> None:
    kotaku = bootstrap(settings, db=db, now=lambda: NOW)
    ksm = program["ksm_b"]

    async def save(i: int) -> SaveResult:
        async with kotaku.uow() as uow:
            return await save_attendance(
                uow,
                ksm_id=ksm,
                sheet=Sheet(work_date=TODAY, mode=AttendanceMode.COUNT, count_male=i + 1, rate=90_000),
                entered_by_id=None,
                channel=Channel.TEST,
                now=NOW,
            )

    results = await asyncio.gather(*(save(i) for i in range(SAVES)))

    assert sum(r.created for r in results) == 1
    assert sorted(r.revision for r in results) == list(range(1, SAVES + 1))
    assert len({r.day_id for r in results}) == 1
    last = max(results, key=lambda r: r.revision)
    async with db.session() as s:
        days = list((await s.execute(select(AttendanceDay).where(AttendanceDay.ksm_id == ksm))).scalars())
        assert len(days) == 1
        assert days[0].revision == SAVES
        assert days[0].count_male == last.summary.male
        audits = list(
            (
                await s.execute(
                    select(AuditLog).where(
                        AuditLog.action == "attendance_corrected", AuditLog.entity_id == days[0].id
                    )
                )
            ).scalars()
        )
    # Each replacement kept what it replaced: revisions 1 .. SAVES-1, each once.
    assert sorted(a.old["revision"] for a in audits) == list(range(1, SAVES))


async def test_concurrent_first_progress_saves_all_succeed(
    db: Database, settings: Settings, program: Program
) -> None:
    kotaku = bootstrap(settings, db=db, now=lambda: NOW)
    activity = program["road"]

    async def save(i: int) -> ProgressReport:
        async with kotaku.uow() as uow:
            return await save_progress(
                uow,
                activity_id=activity,
                report_date=TODAY,
                percent=float(10 + i),
                volume=None,
                note=None,
                entered_by_id=None,
                channel=Channel.TEST,
                now=NOW,
            )

    reports = await asyncio.gather(*(save(i) for i in range(SAVES)))

    assert sorted(r.revision for r in reports) == list(range(1, SAVES + 1))
    last = max(reports, key=lambda r: r.revision)
    async with db.session() as s:
        rows = list(
            (await s.execute(select(ProgressReport).where(ProgressReport.activity_id == activity))).scalars()
        )
        assert len(rows) == 1
        assert rows[0].revision == SAVES
        assert rows[0].percent == last.percent
        audits = list(
            (
                await s.execute(
                    select(AuditLog).where(
                        AuditLog.action == "progress_corrected", AuditLog.entity_id == rows[0].id
                    )
                )
            ).scalars()
        )
        assert await s.scalar(select(func.count()).select_from(ProgressReport)) == 1
    assert sorted(a.old["revision"] for a in audits) == list(range(1, SAVES))
    # The audit chain is consistent: each replacement's new revision follows the old one.
    assert all(a.new["revision"] == a.old["revision"] + 1 for a in audits)
