"""/ubah: correcting progress and attendance of recent days; the old value stays in the audit log."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from kotaku.models import AttendanceDay, AttendanceMode, AuditLog, Channel, ProgressReport
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import World

TODAY = date(2026, 11, 26)


async def _seed_reports(world: World) -> None:
    async with world.db.transaction() as s:
        for days_ago, pct in [(3, 10.0), (2, 14.0), (1, 18.0)]:
            s.add(
                ProgressReport(
                    activity_id=world.program["road"],
                    report_date=TODAY - timedelta(days=days_ago),
                    percent=pct,
                    volume=None,
                    entered_by_id=world.program["ketua-a"],
                    channel=Channel.TEST,
                )
            )
        # Older than the correction window: never offered.
        s.add(
            ProgressReport(
                activity_id=world.program["road"],
                report_date=TODAY - timedelta(days=12),
                percent=2.0,
                entered_by_id=world.program["ketua-a"],
            )
        )
        s.add(
            AttendanceDay(
                ksm_id=world.program["ksm_b"],
                work_date=TODAY - timedelta(days=1),
                mode=AttendanceMode.COUNT,
                count_male=10,
                count_female=3,
                hok=13,
                total_wages=13 * 85_000,
                entered_by_id=world.program["ketua-b"],
            )
        )


async def test_progress_correction_keeps_old_value_in_audit(world: World) -> None:
    await _seed_reports(world)
    ch = world.channel("ketua-a")
    await ch.text("/ubah")
    labels = [c.label for c in ch.last_choices()]
    assert len(labels) == 3, labels  # the 12-day-old report is outside dialog.correction_days
    assert "18%" in labels[0]  # newest first
    await ch.tap(labels[0])
    assert says(ch.last_text(), "ubah.ask_value", old="18%")
    await ch.text("abc")
    assert "ubah.err.not_a_number" in keys_in(ch.last_text())
    await ch.text("150")
    assert "ubah.err.over_100" in keys_in(ch.last_text())
    await ch.text("-5")
    assert "ubah.err.negative" in keys_in(ch.last_text())
    await ch.text("32,6 m")  # 32.6 m of 163 m = 20%
    assert says(ch.last_text(), "ubah.confirm", old="18%", new="20% (32,6 m)")
    await ch.tap("Simpan")
    assert says(ch.last_text(), "ubah.saved", old="18%", revision=2)

    async with world.db.session() as s:
        report = (
            await s.execute(
                select(ProgressReport).where(ProgressReport.report_date == TODAY - timedelta(days=1))
            )
        ).scalar_one()
        assert report.percent == 20.0 and report.volume == 32.6 and report.revision == 2
        audit = (await s.execute(select(AuditLog).where(AuditLog.entity == "progress_report"))).scalar_one()
        assert audit.old is not None and audit.old["percent"] == 18.0
        assert audit.actor_id == world.program["ketua-a"]


async def test_restart_and_duplicate_save(world: World) -> None:
    await _seed_reports(world)
    ch = world.channel("ketua-a")
    await ch.text("/ubah")
    await ch.tap("1")
    await ch.text("25")
    world.restart()
    ch2 = world.channel("ketua-a")
    ch2.outbox = list(ch.outbox)
    await ch2.tap("Simpan", message_id="save-once")
    assert "ubah.saved" in keys_in(ch2.last_text())
    replay = await world.engine.handle(
        ch2._inbound(kind="choice", choice="simpan", message_id="save-once")  # type: ignore[arg-type]
    )
    assert replay == []
    async with world.db.session() as s:
        n = (
            await s.execute(select(func.count(AuditLog.id)).where(AuditLog.entity == "progress_report"))
        ).scalar()
        assert n == 1


async def test_nothing_to_correct_and_refusals(world: World) -> None:
    ch = world.channel("ketua-c")
    await ch.text("/ubah")
    assert "ubah.none" in keys_in(ch.last_text())
    askot = world.channel("askot")
    await askot.text("/ubah")
    assert says(askot.last_text(), "engine.not_allowed", command="ubah")


async def test_attendance_correction_goes_through_hadir(world: World) -> None:
    await _seed_reports(world)
    ch = world.channel("ketua-b")
    await ch.text("/ubah")
    await ch.tap("hadir")
    text = ch.all_text()
    assert "ubah.attendance_intro" in keys_in(text)
    assert ch.last_choices(), "the existing sheet is shown with a choice to replace it"
    async with world.db.session() as s:
        conv_days = (await s.execute(select(func.count(AttendanceDay.id)))).scalar()
        assert conv_days == 1
