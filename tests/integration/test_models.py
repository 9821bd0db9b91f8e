"""Database-level rules: constraints reject bad rows on every backend, timestamps stay aware UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from kotaku.db import Database
from kotaku.models import (
    Activity,
    Alert,
    AlertSeverity,
    AlertStatus,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Bkm,
    Gender,
    Indicator,
    Ksm,
    Person,
    PlanPoint,
    ProgressReport,
    Region,
    RegionLevel,
    Role,
    Skill,
    Worker,
)

WIB = timezone(timedelta(hours=7))


@dataclass
class Seed:
    kelurahan_id: int
    bkm_id: int
    ksm_id: int
    activity_id: int
    worker_id: int
    day_id: int


def region(code: str, level: RegionLevel, parent: Region | None) -> Region:
    path = f"{parent.path}/{code}" if parent else code
    return Region(
        code=code, name=f"Wilayah {code}", level=level, parent=parent, timezone="Asia/Jakarta", path=path
    )


def activity(ksm_id: int, code: str = "KEG-01", **kw: Any) -> Activity:
    values: dict[str, Any] = {
        "code": code,
        "ksm_id": ksm_id,
        "name": "Jalan paving",
        "indicator": Indicator.JALAN_LINGKUNGAN,
        "unit": "m2",
        "target_volume": 200.0,
        "budget": 100_000_000,
        "wage_budget": 30_000_000,
        "start_date": date(2026, 3, 1),
        "end_date": date(2026, 4, 30),
    }
    values.update(kw)
    return Activity(**values)


@pytest.fixture
async def seed(db: Database) -> Seed:
    async with db.transaction() as s:
        prov = region("33", RegionLevel.PROVINSI, None)
        kab = region("33.22", RegionLevel.KABKOTA, prov)
        kec = region("33.22.05", RegionLevel.KECAMATAN, kab)
        kel = region("33.22.05.2001", RegionLevel.KELURAHAN, kec)
        bkm = Bkm(code="BKM-01", name="BKM Maju", kelurahan=kel)
        ksm = Ksm(code="KSM-01", name="KSM Sejahtera", bkm=bkm)
        s.add_all([prov, kab, kec, kel, bkm, ksm])
        await s.flush()
        act = activity(ksm.id)
        worker = Worker(ksm_id=ksm.id, name="Budi", gender=Gender.L, skill=Skill.PEKERJA, daily_rate=100_000)
        day = AttendanceDay(ksm_id=ksm.id, work_date=date(2026, 3, 2), mode=AttendanceMode.ROSTER)
        s.add_all([act, worker, day])
        await s.flush()
        return Seed(kel.id, bkm.id, ksm.id, act.id, worker.id, day.id)


async def assert_rejected(db: Database, *rows: Any) -> IntegrityError:
    async with db.session() as s:
        s.add_all(rows)
        with pytest.raises(IntegrityError) as info:
            await s.flush()
        await s.rollback()
    return info.value


async def accepted(db: Database, *rows: Any) -> None:
    async with db.transaction() as s:
        s.add_all(rows)


# --- CHECK constraints ----------------------------------------------------------------------------


@pytest.mark.parametrize("percent", [101.0, -1.0, 100.01])
async def test_plan_point_percent_out_of_range(db: Database, seed: Seed, percent: float) -> None:
    await assert_rejected(
        db, PlanPoint(activity_id=seed.activity_id, plan_date=date(2026, 3, 10), planned_percent=percent)
    )


async def test_plan_point_percent_bounds_accepted(db: Database, seed: Seed) -> None:
    await accepted(
        db,
        PlanPoint(activity_id=seed.activity_id, plan_date=date(2026, 3, 1), planned_percent=0.0),
        PlanPoint(activity_id=seed.activity_id, plan_date=date(2026, 4, 30), planned_percent=100.0),
    )


async def test_duplicate_plan_date_rejected(db: Database, seed: Seed) -> None:
    pp = {"activity_id": seed.activity_id, "plan_date": date(2026, 3, 10)}
    await accepted(db, PlanPoint(**pp, planned_percent=10.0))
    await assert_rejected(db, PlanPoint(**pp, planned_percent=20.0))


async def test_progress_percent_above_hundred_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(
        db, ProgressReport(activity_id=seed.activity_id, report_date=date(2026, 3, 5), percent=100.5)
    )
    await accepted(
        db, ProgressReport(activity_id=seed.activity_id, report_date=date(2026, 3, 5), percent=100.0)
    )


async def test_activity_end_before_start_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(
        db, activity(seed.ksm_id, "KEG-02", start_date=date(2026, 4, 1), end_date=date(2026, 3, 31))
    )
    # a one-day activity is fine
    await accepted(
        db, activity(seed.ksm_id, "KEG-03", start_date=date(2026, 4, 1), end_date=date(2026, 4, 1))
    )


async def test_wage_budget_above_budget_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(db, activity(seed.ksm_id, "KEG-02", budget=1_000_000, wage_budget=1_000_001))
    await accepted(db, activity(seed.ksm_id, "KEG-03", budget=1_000_000, wage_budget=1_000_000))


async def test_non_positive_target_volume_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(db, activity(seed.ksm_id, "KEG-02", target_volume=0.0))


async def test_duplicate_ksm_code_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(db, Ksm(code="KSM-01", name="Another", bkm_id=seed.bkm_id))


async def test_ksm_latitude_out_of_range_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(db, Ksm(code="KSM-02", name="Far", bkm_id=seed.bkm_id, latitude=91.0))


@pytest.mark.parametrize("hok", [0.0, -1.0, 2.5])
async def test_attendance_record_hok_out_of_range(db: Database, seed: Seed, hok: float) -> None:
    await assert_rejected(
        db,
        AttendanceRecord(
            attendance_day_id=seed.day_id,
            worker_id=seed.worker_id,
            ksm_id=seed.ksm_id,
            work_date=date(2026, 3, 2),
            hok=hok,
            wage=100_000,
        ),
    )


async def test_attendance_record_valid_hok_accepted(db: Database, seed: Seed) -> None:
    await accepted(
        db,
        AttendanceRecord(
            attendance_day_id=seed.day_id,
            worker_id=seed.worker_id,
            ksm_id=seed.ksm_id,
            work_date=date(2026, 3, 2),
            hok=0.5,
            wage=50_000,
        ),
    )


async def test_person_with_two_scopes_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(
        db,
        Person(
            code="P-1",
            name="Siti",
            role=Role.FASILITATOR,
            scope_ksm_id=seed.ksm_id,
            scope_region_id=seed.kelurahan_id,
        ),
    )


async def test_person_with_one_or_no_scope_accepted(db: Database, seed: Seed) -> None:
    await accepted(
        db,
        Person(code="P-1", name="Siti", role=Role.KETUA_KSM, scope_ksm_id=seed.ksm_id),
        Person(code="P-2", name="Andi", role=Role.NASIONAL),
    )


async def test_unknown_enum_value_rejected_by_check(db: Database, seed: Seed) -> None:
    async with db.session() as s:
        with pytest.raises(IntegrityError):
            await s.execute(
                text(
                    "INSERT INTO person (code, name, role, language, active, created_at) "
                    "VALUES ('P-9', 'X', 'raja', 'id', :t, :now)"
                ),
                {"t": True, "now": datetime(2026, 3, 1, tzinfo=UTC).replace(tzinfo=None)},
            )
        await s.rollback()


# --- foreign keys ---------------------------------------------------------------------------------


async def test_unknown_foreign_key_rejected(db: Database, seed: Seed) -> None:
    await assert_rejected(db, Ksm(code="KSM-X", name="Orphan", bkm_id=seed.bkm_id + 999))
    await assert_rejected(
        db, PlanPoint(activity_id=seed.activity_id + 999, plan_date=date(2026, 3, 10), planned_percent=5)
    )


async def test_restrict_delete_of_referenced_bkm(db: Database, seed: Seed) -> None:
    async with db.session() as s:
        with pytest.raises(IntegrityError):
            await s.execute(text("DELETE FROM bkm WHERE id = :id"), {"id": seed.bkm_id})
        await s.rollback()


async def test_cascade_delete_of_plan_points(db: Database, seed: Seed) -> None:
    act = activity(seed.ksm_id, "KEG-09")
    async with db.transaction() as s:
        s.add(act)
        await s.flush()
        s.add(PlanPoint(activity_id=act.id, plan_date=date(2026, 3, 9), planned_percent=9.0))
    async with db.transaction() as s:
        await s.execute(text("DELETE FROM activity WHERE id = :id"), {"id": act.id})
    async with db.session() as s:
        left = (await s.execute(select(PlanPoint).where(PlanPoint.activity_id == act.id))).all()
    assert left == []


# --- partial unique index on open alerts ----------------------------------------------------------


def alert(status: AlertStatus = AlertStatus.OPEN, subject_id: int = 1, kind: str = "behind") -> Alert:
    return Alert(
        kind=kind,
        subject_type="activity",
        subject_id=subject_id,
        severity=AlertSeverity.WARNING,
        status=status,
        dedup_key=f"{kind}:{subject_id}:{status.value}",
    )


async def test_two_open_alerts_same_subject_rejected(db: Database, seed: Seed) -> None:
    await accepted(db, alert())
    await assert_rejected(db, alert())
    # an acknowledged alert is still open for this rule
    await assert_rejected(db, alert(AlertStatus.ACKNOWLEDGED))


async def test_resolved_alert_plus_open_alert_allowed(db: Database, seed: Seed) -> None:
    await accepted(db, alert(AlertStatus.RESOLVED))
    await accepted(db, alert(AlertStatus.RESOLVED))
    await accepted(db, alert(AlertStatus.OPEN))
    # other subjects and kinds are independent
    await accepted(db, alert(subject_id=2), alert(kind="no_report"))
    async with db.session() as s:
        n = len((await s.execute(select(Alert.id))).all())
    assert n == 5


# --- timestamps -----------------------------------------------------------------------------------


async def test_utc_datetime_roundtrip_is_aware_utc(db: Database, seed: Seed) -> None:
    local = datetime(2026, 3, 2, 17, 30, tzinfo=WIB)
    async with db.transaction() as s:
        r = Region(
            code="99",
            name="Uji",
            level=RegionLevel.PROVINSI,
            timezone="Asia/Jakarta",
            path="99",
            created_at=local,
        )
        s.add(r)
    async with db.session() as s:
        got = (await s.execute(select(Region.created_at).where(Region.code == "99"))).scalar_one()
        default = (await s.execute(select(Region.created_at).where(Region.code == "33"))).scalar_one()
    assert got.tzinfo is not None
    assert got.utcoffset() == timedelta(0)
    assert got == local
    assert (got.hour, got.minute) == (10, 30)
    assert default.tzinfo is not None and default.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - default) < timedelta(minutes=5)


async def test_utc_datetime_rejects_naive(db: Database, seed: Seed) -> None:
    async with db.session() as s:
        s.add(
            Region(
                code="98",
                name="Naif",
                level=RegionLevel.PROVINSI,
                timezone="Asia/Jakarta",
                path="98",
                created_at=datetime(2026, 3, 2, 10, 0),
            )
        )
        with pytest.raises(StatementError) as info:
            await s.flush()
        await s.rollback()
    assert isinstance(info.value.orig, ValueError)
    assert "naive" in str(info.value.orig)


# --- SQLite pragmas -------------------------------------------------------------------------------


async def test_sqlite_pragmas(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    async with db.engine.connect() as conn:
        journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
        busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
    assert str(journal).lower() == "wal"
    assert fks == 1
    assert busy == db.settings.database.sqlite_busy_timeout_ms == 30_000
