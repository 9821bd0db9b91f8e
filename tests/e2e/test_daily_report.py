"""What a complete daily report costs a KSM coordinator: attendance of 15 workers, progress, one photo.

The figures printed here are the ones quoted in the README; the asserts keep them from creeping up.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

from PIL import Image
from pydantic import SecretStr
from sqlalchemy import func, select
from telegram import Update

from bot.console import ConsoleChat
from bot.telegram import build_application
from kotaku.models import AttendanceDay, AttendanceRecord, Channel, ChannelIdentity, Media, ProgressReport
from kotaku.services.progress import save_progress
from tests.e2e.conftest import World
from tests.fake_botapi import TOKEN, FakeBotApi

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


async def _check_saved(world: World, present: int = 15) -> None:
    async with world.db.session() as s:
        day = (await s.execute(select(AttendanceDay).where(AttendanceDay.work_date == TODAY))).scalar_one()
        n = (
            await s.execute(
                select(func.count(AttendanceRecord.id)).where(AttendanceRecord.attendance_day_id == day.id)
            )
        ).scalar()
        assert n == present
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
    await ch.tap("Agus Salim")  # one worker absent: unticked
    await ch.tap("Selesai")
    await ch.tap("Simpan · sudah")
    await ch.tap("/progres")
    await ch.tap("Rabat beton")
    await ch.text("25")
    await ch.photo(jpeg(), caption=None)
    await ch.tap("Simpan")
    await _check_saved(world, present=14)
    print(
        f"\n[daily report] buttons, 14 of 15 present: {ch.messages_sent} messages typed/sent, {ch.taps} taps"
    )
    assert ch.messages_sent <= 3 and ch.taps <= 8


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


ONE_MESSAGE = "hadir semua kecuali Agus progres rabat 25"


async def test_daily_report_in_one_message(world: World) -> None:
    """The goal: one message (a photo with the report as its caption) and one confirming tap."""
    await _yesterday_progress(world)
    ch = world.channel("ketua-a")
    await ch.photo(jpeg(), caption=ONE_MESSAGE)
    await ch.tap("✅ Simpan")
    await _check_saved(world, present=14)  # 15 on the roster, Agus absent
    print(f"\n[daily report] one message: {ch.messages_sent} message, {ch.taps} tap")
    assert ch.messages_sent == 1 and ch.taps == 1


async def test_daily_report_in_one_message_on_the_console(world: World, tmp_path: Path) -> None:
    """The console: the photo with its caption, then the number of the ✅ Simpan button."""
    await _yesterday_progress(world)
    image = tmp_path / "rabat.jpg"
    image.write_bytes(jpeg())
    lines = [f"/foto {image} {ONE_MESSAGE}", "1"]
    chat = ConsoleChat(
        world.engine,
        "ketua-a",
        stdin=io.StringIO("".join(line + "\n" for line in lines)),
        stdout=io.StringIO(),
        out_dir=tmp_path / "out",
    )
    assert await chat.run() == 0
    out = chat.stdout.getvalue()  # type: ignore[attr-defined]
    assert "Laporan tersimpan" in out
    await _check_saved(world, present=14)  # 15 on the roster, Agus absent
    print(f"\n[daily report] console one message: {len(lines) - 1} message, 1 tap (typed button number)")


async def test_daily_report_in_one_message_on_telegram(world: World) -> None:
    """Telegram through python-telegram-bot and the fake Bot API: a captioned photo, one button."""
    await _yesterday_progress(world)
    tg_user = 4242
    async with world.db.transaction() as s:
        s.add(
            ChannelIdentity(
                person_id=world.program["ketua-a"],
                channel=Channel.TELEGRAM,
                external_id=str(tg_user),
                chat_id=str(tg_user),
            )
        )
    with FakeBotApi() as fake:
        tg = world.db.settings.telegram.model_copy(
            update={"token": SecretStr(TOKEN), "base_url": fake.base_url, "base_file_url": fake.base_file_url}
        )
        app = build_application(
            world.db.settings.model_copy(update={"telegram": tg}),
            world.engine,
            rate_limiter=False,
            polling=False,
        )
        await app.initialize()
        try:
            fake.photo(tg_user, jpeg(), caption=ONE_MESSAGE)
            for data in fake.take_updates():
                await app.process_update(Update.de_json(data, app.bot))
            assert "Hadir 14 orang" in fake.texts_to(tg_user)[-1]
            data, message_id = fake.button(tg_user, "Simpan")
            fake.callback(tg_user, data, message_id)
            for data in fake.take_updates():
                await app.process_update(Update.de_json(data, app.bot))
            assert any("Laporan tersimpan" in t for t in fake.texts_to(tg_user))
        finally:
            await app.shutdown()
    await _check_saved(world, present=14)  # 15 on the roster, Agus absent
    print("\n[daily report] Telegram one message: 1 message, 1 tap")
