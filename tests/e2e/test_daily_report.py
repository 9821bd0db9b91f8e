"""What a complete daily report costs a KSM coordinator: attendance of 15 workers, progress, one photo.

The figures printed here are the ones quoted in the README; the asserts keep them from creeping up.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image
from sqlalchemy import func, select

from kotaku.models import AttendanceDay, AttendanceRecord, Channel, Media, ProgressReport
from kotaku.services.progress import save_progress
from tests.e2e.conftest import World

TODAY = date(2026, 11, 26)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 40)).save(buf, "JPEG")
    return buf.getvalue()


async def _yesterday_progress(world: World) -> None:
    async with world.kotaku.uow() as uow:
        await save_progress(
            uow,
            activity_id=world.program["road"],
            report_date=TODAY - timedelta(days=1),
            percent=18.0,
            volume=None,
            note=None,
            entered_by_id=world.program["ketua-a"],
            channel=Channel.TEST,
            now=world.clock(),
        )


async def _check_saved(world: World) -> None:
    async with world.db.session() as s:
        day = (await s.execute(select(AttendanceDay).where(AttendanceDay.work_date == TODAY))).scalar_one()
        n = (
            await s.execute(
                select(func.count(AttendanceRecord.id)).where(AttendanceRecord.attendance_day_id == day.id)
            )
        ).scalar()
        assert n == 15
        report = (
            await s.execute(select(ProgressReport).where(ProgressReport.report_date == TODAY))
        ).scalar_one()
        assert report.percent == 25.0
        photos = (await s.execute(select(func.count(Media.id)).where(Media.report_date == TODAY))).scalar()
        assert photos == 1


async def test_daily_report_by_buttons(world: World) -> None:
    await _yesterday_progress(world)
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.tap("Semua hadir")
    await ch.tap("Selesai")
    await ch.tap("Sudah")
    await ch.tap("Simpan")
    await ch.tap("/progres")
    await ch.tap("Rabat beton")
    await ch.text("25")
    await ch.photo(jpeg(), caption=None)
    await ch.tap("Simpan")
    await _check_saved(world)
    print(f"\n[daily report] buttons: {ch.messages_sent} messages typed/sent, {ch.taps} taps")
    assert ch.messages_sent <= 3 and ch.taps <= 9


async def test_daily_report_by_quick_commands(world: World) -> None:
    await _yesterday_progress(world)
    ch = world.channel("ketua-a")
    await ch.text("/hadir semua")
    await ch.tap("Simpan")
    await ch.text("/progres jalan 25")
    await ch.photo(jpeg(), caption=None)
    await ch.tap("Simpan")
    await _check_saved(world)
    print(f"\n[daily report] quick commands: {ch.messages_sent} messages typed/sent, {ch.taps} taps")
    assert ch.messages_sent <= 3 and ch.taps <= 2
