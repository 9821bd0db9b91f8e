"""The monitoring sweep over the database (SQLite and PostgreSQL): the SQL gathers the right facts per site
and local date (WIB and WITA evaluated at the same instant), re-evaluation never duplicates an alert,
clearing resolves it, and the reporting services evaluate their KSM after a save without ever failing
because of it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import (
    Alert,
    AlertStatus,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Channel,
    Media,
    MediaKind,
    ProgressReport,
    Severity,
    Worker,
)
from kotaku.monitoring import evaluate as evaluation
from kotaku.monitoring.evaluate import evaluate, evaluate_and_apply
from kotaku.security import NikVault
from kotaku.services.attendance import Sheet, save_attendance
from kotaku.services.media import store_media
from kotaku.services.obstacles import create_obstacle
from kotaku.services.progress import save_progress
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)  # Thursday
# 23:30 WIB on Thursday 26 November is already 00:30 WITA on Friday 27 November.
LATE_EVENING = datetime(2026, 11, 26, 16, 30, tzinfo=UTC)
MORNING = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, TODAY)


def by(findings: list, kind: str) -> dict[int, object]:
    return {f.subject_id: f for f in findings if f.kind == kind}


async def add_report(db: Database, activity_id: int, day: date, pct: float, entered_at: datetime) -> None:
    async with db.transaction() as s:
        s.add(ProgressReport(activity_id=activity_id, report_date=day, percent=pct, entered_at=entered_at))


async def test_no_report_and_late_entry_follow_each_sites_local_date(
    db: Database, settings: Settings, program: Program
) -> None:
    p = program
    entered = LATE_EVENING  # 26 Nov in WIB, 27 Nov in WITA
    for key in ("road", "drain", "mck", "well", "cart"):
        await add_report(db, p[key], date(2026, 11, 23), 20.0, entered)
    async with db.session() as s:
        found = await evaluate(s, settings, LATE_EVENING)
    no_report = by(found, "no_report")
    # Missed work days after Monday 23: WIB Tue+Wed (2, today not counted), WITA Tue+Wed+Thu (3).
    assert set(no_report) == {p["cart"]}
    assert no_report[p["cart"]].figures["work_days"] == 3
    late = by(found, "late_entry")
    # Entered 3 days after the day in WIB, 4 days in WITA: both more than 2.
    assert set(late) == {p["ksm_a"], p["ksm_b"], p["ksm_c"], p["ksm_m"]}
    assert late[p["ksm_a"]].figures["worst_days"] == 3
    assert late[p["ksm_m"]].figures["worst_days"] == 4


async def test_late_entry_boundary_across_time_zones(
    db: Database, settings: Settings, program: Program
) -> None:
    p = program
    # Reports for Tuesday 24 entered at 16:30 UTC on the 26th: 2 days later in WIB, 3 days in WITA.
    await add_report(db, p["road"], date(2026, 11, 24), 20.0, LATE_EVENING)
    await add_report(db, p["cart"], date(2026, 11, 24), 20.0, LATE_EVENING)
    async with db.session() as s:
        found = await evaluate(s, settings, LATE_EVENING)
    assert set(by(found, "late_entry")) == {p["ksm_m"]}


async def test_critical_boundary_through_the_database(
    db: Database, settings: Settings, program: Program
) -> None:
    p = program
    async with db.session() as s:
        found = await evaluate(s, settings, MORNING)
        planned = by(found, "critical")[p["road"]].figures["planned"]  # no report yet: fully behind
    assert planned > 10.0
    await add_report(db, p["road"], TODAY, round(planned - 10.0, 2), MORNING)
    await add_report(db, p["drain"], TODAY, round(planned - 10.01, 2), MORNING)
    async with db.session() as s:
        critical = by(await evaluate(s, settings, MORNING), "critical")
    assert p["road"] not in critical
    assert critical[p["drain"]].figures["deviation"] == -10.01


async def test_the_sweep_reads_every_percent_exactly_as_stored(
    db: Database, settings: Settings, program: Program
) -> None:
    """The SQLite sweep packs each activity's reports into text (`_activity_series_sqlite`): a percent
    with 17 significant digits (as a computed value may have) comes back as the very same float."""
    p = program
    exact = 100 / 3 + 7  # 40.333333333333336: 15 digits would read back another float
    assert float(f"{exact:.15g}") != exact
    await add_report(db, p["road"], date(2026, 11, 24), exact, MORNING)
    await add_report(db, p["road"], date(2026, 11, 25), 10.0, MORNING)
    async with db.session() as s:
        backwards = by(await evaluate(s, settings, MORNING), "backwards")
    assert backwards[p["road"]].figures["previous"] == exact


async def test_sweep_never_duplicates_and_clearing_resolves(
    db: Database, settings: Settings, program: Program
) -> None:
    p = program
    first = await evaluate_and_apply(db, settings, MORNING)
    again = await evaluate_and_apply(db, settings, MORNING + timedelta(minutes=5))
    assert first.by_kind["critical"] == 5
    assert len(first.applied.opened) == len(first.findings) > 0
    assert again.applied.opened == [] and again.applied.resolved == []
    async with db.session() as s:
        rows = (
            await s.execute(
                select(Alert.kind, Alert.subject_id, func.count()).group_by(Alert.kind, Alert.subject_id)
            )
        ).all()
    assert all(n == 1 for _, _, n in rows)

    # The road catches up with its plan: its critical alert is resolved, the others stay open.
    planned = first.findings[0].figures.get("planned")
    assert planned is not None
    await add_report(db, p["road"], TODAY, 60.0, MORNING)
    third = await evaluate_and_apply(db, settings, MORNING + timedelta(minutes=10))
    async with db.session() as s:
        road = (
            await s.execute(select(Alert).where(Alert.kind == "critical", Alert.subject_id == p["road"]))
        ).scalar_one()
        still_open = await s.scalar(
            select(func.count()).where(Alert.kind == "critical", Alert.status == AlertStatus.OPEN)
        )
    assert road.status == AlertStatus.RESOLVED
    assert road.resolved_at == MORNING + timedelta(minutes=10)
    assert road.id in third.applied.resolved
    assert still_open == 4


async def attendance(
    db: Database, ksm_id: int, day: date, workers: list[Worker], wage: int | None = None
) -> None:
    async with db.transaction() as s:
        sheet = AttendanceDay(
            ksm_id=ksm_id,
            work_date=day,
            mode=AttendanceMode.ROSTER,
            count_male=len(workers),
            count_female=0,
            hok=float(len(workers)),
            total_wages=sum(wage or w.daily_rate for w in workers),
            entered_at=MORNING,
        )
        s.add(sheet)
        await s.flush()
        for w in workers:
            s.add(
                AttendanceRecord(
                    attendance_day_id=sheet.id,
                    worker_id=w.id,
                    ksm_id=ksm_id,
                    work_date=day,
                    nik_hash=w.nik_hash,
                    hok=1.0,
                    wage=wage or w.daily_rate,
                )
            )


async def test_attendance_checks(db: Database, settings: Settings, program: Program) -> None:
    p = program
    async with db.session() as s:
        roster_a = list((await s.scalars(select(Worker).where(Worker.ksm_id == p["ksm_a"]))).all())
        roster_c = list((await s.scalars(select(Worker).where(Worker.ksm_id == p["ksm_c"]))).all())
    # KSM A: 15 on the roster. Three days of work after its progress last rose on Monday 23.
    await add_report(db, p["road"], date(2026, 11, 20), 10.0, MORNING)
    await add_report(db, p["road"], date(2026, 11, 23), 15.0, MORNING)
    await add_report(db, p["road"], date(2026, 11, 25), 15.0, MORNING)
    await attendance(db, p["ksm_a"], date(2026, 11, 24), roster_a[:5])
    await attendance(db, p["ksm_a"], date(2026, 11, 25), roster_a[:5])
    await attendance(db, p["ksm_a"], date(2026, 11, 26), roster_a[:5], wage=49_999)
    # KSM C: 5 on the roster, 6 records on Tuesday (one worker from KSM A, same NIK).
    await attendance(db, p["ksm_c"], date(2026, 11, 24), [*roster_c, roster_a[0]])
    async with db.session() as s:
        found = await evaluate(s, settings, MORNING)
    assert by(found, "idle_attendance")[p["ksm_a"]].figures == {"attendance_days": 3, "since": "2026-11-23"}
    assert p["ksm_c"] not in by(found, "idle_attendance")  # one day only
    over = by(found, "over_roster")
    assert set(over) == {p["ksm_c"]}
    assert over[p["ksm_c"]].figures == {"date": "2026-11-24", "present": 6, "roster": 5, "limit": 5.0}
    wage = by(found, "wage_range")
    assert set(wage) == {p["ksm_a"]}
    assert wage[p["ksm_a"]].figures["skills"]["pekerja"]["min"] == 49_999
    doubles = by(found, "nik_double")
    assert set(doubles) == {roster_a[0].id}  # the same person: one worker row, seen at both sites
    assert doubles[roster_a[0].id].figures == {"date": "2026-11-24", "other_ksms": ["KSM Tambakboyo Rukun"]}

    # Incremental evaluation of KSM C only reports KSM C's subjects.
    async with db.session() as s:
        only_c = await evaluate(s, settings, MORNING, [p["ksm_c"]])
    assert {f.ksm_id for f in only_c} == {p["ksm_c"]}
    assert "over_roster" in {f.kind for f in only_c}


def jpeg(shift: int = 0, quality: int = 90) -> bytes:
    img = Image.new("RGB", (240, 240), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([20 + shift, 30, 110 + shift, 200], fill="darkgreen")
    d.ellipse([130, 50, 220, 140], fill="red")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


async def test_reports_evaluate_their_ksm_after_saving(
    db: Database, settings: Settings, program: Program
) -> None:
    p = program
    kotaku = bootstrap(settings, db=db)
    async with kotaku.uow() as uow:
        first = await store_media(
            uow,
            settings,
            kind=MediaKind.PHOTO,
            ksm_id=p["ksm_a"],
            report_date=date(2026, 11, 25),
            entered_by_id=None,
            channel=Channel.TEST,
            now=MORNING,
            content=jpeg(),
            mime_type="image/jpeg",
        )
    async with kotaku.uow() as uow:
        # The same scene, recompressed, for another site the next day, sent from 2 km away.
        second = await store_media(
            uow,
            settings,
            kind=MediaKind.PHOTO,
            ksm_id=p["ksm_b"],
            report_date=TODAY,
            entered_by_id=None,
            channel=Channel.TEST,
            now=MORNING,
            content=jpeg(quality=50),
            mime_type="image/jpeg",
            activity_id=p["mck"],
            latitude=-7.2660 + 0.018,
            longitude=110.4000,
        )
        await create_obstacle(
            uow,
            ksm_id=p["ksm_b"],
            category="dana",
            severity=Severity.TINGGI,
            description="Dana belum cair",
            reported_by=None,
            report_date=TODAY,
            now=MORNING,
            notify=False,
        )
    async with db.session() as s:
        assert first.phash and second.phash and first.sha256 != second.sha256
        alerts = {
            (a.kind, a.subject_id): a
            for a in (await s.scalars(select(Alert).where(Alert.ksm_id == p["ksm_b"])))
        }
    dup = alerts[("photo_duplicate", second.id)]
    assert dup.figures["other_media_id"] == first.id and dup.figures["same_file"] is False
    assert dup.figures["distance"] <= settings.monitoring.phash_distance
    assert ("photo_far", second.id) in alerts
    assert any(kind == "obstacle_high" for kind, _ in alerts)
    assert ("critical", p["mck"]) in alerts  # the KSM's activities were evaluated too


async def test_a_monitoring_failure_never_breaks_a_report(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> list:
        raise RuntimeError("monitoring is down")

    monkeypatch.setattr(evaluation, "evaluate", broken)
    async with bootstrap(settings, db=db).uow() as uow:
        await save_progress(
            uow,
            activity_id=program["road"],
            report_date=TODAY,
            percent=30.0,
            volume=None,
            note=None,
            entered_by_id=None,
            channel=Channel.TEST,
            now=MORNING,
        )
        await save_attendance(
            uow,
            ksm_id=program["ksm_b"],
            sheet=Sheet(work_date=TODAY, mode=AttendanceMode.COUNT, count_male=3, rate=90_000),
            entered_by_id=None,
            channel=Channel.TEST,
            now=MORNING,
        )
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ProgressReport)) == 1
        assert await s.scalar(select(func.count()).select_from(AttendanceDay)) == 1
        assert await s.scalar(select(func.count()).select_from(Alert)) == 0
        assert await s.scalar(select(func.count()).select_from(Media)) == 0
