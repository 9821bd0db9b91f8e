"""Issue 11: a resolution by hand sticks. The next sweep does not reopen the same subject while nothing new
was entered about it; data entered after the resolution that makes the finding true again opens it again.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Alert, AlertStatus, AttendanceDay, AttendanceMode, Person, ProgressReport
from kotaku.monitoring.evaluate import evaluate_and_apply
from kotaku.monitoring.lifecycle import resolve_by_hand
from kotaku.security import NikVault
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)  # Thursday
MORNING = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 10:00 WIB
HOUR = timedelta(hours=1)


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, TODAY)


async def alerts_of(db: Database, kind: str, subject_id: int) -> list[Alert]:
    async with db.session() as s:
        rows = await s.execute(
            select(Alert).where(Alert.kind == kind, Alert.subject_id == subject_id).order_by(Alert.id)
        )
        return list(rows.scalars())


async def resolve(db: Database, alert_id: int, at: datetime) -> None:
    async with db.transaction() as s:
        fasil = (await s.execute(select(Person).where(Person.code == "fasil"))).scalar_one()
        await resolve_by_hand(s, alert_id, fasil, "dibahas dengan KSM, jadwal disusul", at)


async def add_report(db: Database, activity_id: int, day: date, pct: float, entered_at: datetime) -> None:
    async with db.transaction() as s:
        s.add(ProgressReport(activity_id=activity_id, report_date=day, percent=pct, entered_at=entered_at))


async def test_a_resolution_by_hand_holds_without_new_data(
    db: Database, settings: Settings, program: Program
) -> None:
    road = program["road"]
    first = await evaluate_and_apply(db, settings, MORNING)
    assert first.by_kind["critical"] == 5  # no activity has reported: all behind plan
    [alert] = await alerts_of(db, "critical", road)
    await resolve(db, alert.id, MORNING + HOUR)

    again = await evaluate_and_apply(db, settings, MORNING + 2 * HOUR)
    assert any(f.kind == "critical" and f.subject_id == road for f in again.findings)  # still true
    assert again.applied.opened == [] and again.applied.held == 1
    [still] = await alerts_of(db, "critical", road)
    assert still.status == AlertStatus.RESOLVED and still.resolved_by_id is not None

    # Data of another subject, or entered before the resolution, does not count.
    await add_report(db, program["drain"], TODAY, 1.0, MORNING + 3 * HOUR)
    await add_report(db, road, TODAY - timedelta(days=1), 1.0, MORNING)
    third = await evaluate_and_apply(db, settings, MORNING + 4 * HOUR)
    assert third.applied.held == 1
    assert len(await alerts_of(db, "critical", road)) == 1


async def test_new_data_after_the_resolution_reopens(
    db: Database, settings: Settings, program: Program
) -> None:
    road = program["road"]
    await evaluate_and_apply(db, settings, MORNING)
    [alert] = await alerts_of(db, "critical", road)
    await resolve(db, alert.id, MORNING + HOUR)

    # A report entered after the resolution that still leaves the road kritis: the facts changed.
    await add_report(db, road, TODAY, 2.0, MORNING + 2 * HOUR)
    sweep = await evaluate_and_apply(db, settings, MORNING + 3 * HOUR)
    old, new = await alerts_of(db, "critical", road)
    assert old.id == alert.id and old.status == AlertStatus.RESOLVED
    assert new.status == AlertStatus.OPEN and new.id in sweep.applied.opened
    assert new.figures["actual"] == 2.0


async def test_a_ksm_finding_reopens_on_new_attendance(
    db: Database, settings: Settings, program: Program
) -> None:
    """A KSM-wide finding (a count-only KSM's crew far above usual) follows the KSM's own data."""
    ksm = program["ksm_b"]

    async def count_day(day: date, n: int, entered_at: datetime) -> None:
        async with db.transaction() as s:
            s.add(
                AttendanceDay(
                    ksm_id=ksm,
                    work_date=day,
                    mode=AttendanceMode.COUNT,
                    count_male=n,
                    count_female=0,
                    hok=float(n),
                    total_wages=n * 85_000,
                    entered_at=entered_at,
                )
            )

    for back, n in enumerate([12, 14, 13, 15, 14, 12], start=3):
        await count_day(TODAY - timedelta(days=back), n, MORNING - timedelta(days=back))
    await count_day(TODAY - timedelta(days=1), 150, MORNING - timedelta(days=1))
    await evaluate_and_apply(db, settings, MORNING)
    [spike] = await alerts_of(db, "crew_spike", ksm)
    await resolve(db, spike.id, MORNING + HOUR)
    held = await evaluate_and_apply(db, settings, MORNING + 2 * HOUR)
    assert held.applied.held == 1 and len(await alerts_of(db, "crew_spike", ksm)) == 1

    await count_day(TODAY, 13, MORNING + 3 * HOUR)  # today's sheet: new data about the KSM
    await evaluate_and_apply(db, settings, MORNING + 4 * HOUR)
    assert [a.status for a in await alerts_of(db, "crew_spike", ksm)] == [
        AlertStatus.RESOLVED,
        AlertStatus.OPEN,
    ]
