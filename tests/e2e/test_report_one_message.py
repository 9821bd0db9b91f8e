"""/laporan: a whole daily report in one message and one tap, its problems named, nothing lost."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from kotaku.models import (
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Channel,
    Media,
    Obstacle,
    ObstacleCategory,
    ProgressReport,
    Severity,
    Worker,
)
from kotaku.services.attendance import Sheet, save_attendance
from kotaku.services.progress import save_progress
from tests.e2e.conftest import World

TODAY = date(2026, 11, 26)


def jpeg(taken: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (64, 48), (90, 120, 40))
    if taken is None:
        img.save(buf, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0132] = taken  # DateTime, "YYYY:MM:DD HH:MM:SS"
        img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


async def _records(world: World, ksm: str) -> int:
    async with world.db.session() as s:
        return (
            await s.execute(
                select(func.count(AttendanceRecord.id))
                .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id)
                .where(AttendanceDay.ksm_id == world.program[ksm], AttendanceDay.work_date == TODAY)
            )
        ).scalar_one()


async def _progress(world: World, key: str) -> float | None:
    async with world.db.session() as s:
        return (
            await s.execute(
                select(ProgressReport.percent).where(
                    ProgressReport.activity_id == world.program[key], ProgressReport.report_date == TODAY
                )
            )
        ).scalar_one_or_none()


@pytest.fixture
async def reported_yesterday(world: World) -> World:
    """Every activity has a report of yesterday (10%), so today's needs no milestone photo."""
    for key in ("road", "drain", "mck"):
        async with world.kotaku.uow() as uow:
            await save_progress(
                uow,
                activity_id=world.program[key],
                report_date=TODAY - timedelta(days=1),
                percent=10.0,
                volume=None,
                note=None,
                entered_by_id=None,
                channel=Channel.TEST,
                now=world.clock(),
            )
    return world


async def test_first_report_needs_its_milestone_photo(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("hadir 12 orang L8 P4 progres 5")
    assert "foto wajib" in ch.last_text()
    assert not any(c.label.startswith("✅") for c in ch.last_choices())
    await ch.text("simpan")
    assert "kirim fotonya dulu" in ch.last_text()
    await ch.photo(jpeg())
    assert "foto wajib" not in ch.last_text()
    await ch.tap("✅ Simpan")
    async with world.db.session() as s:
        media = (await s.execute(select(Media))).scalar_one()
        assert media.activity_id == world.program["mck"] and media.milestone == 0
    assert await _progress(world, "mck") == 5.0


async def test_whole_report_in_one_message_and_one_tap(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-a")
    await ch.text("hadir semua kecuali Agus progres rabat 45 drainase 30 kendala semen telat upah dibayar")
    summary = ch.last_text()
    assert "Hadir 14 orang" in summary
    assert "Agus Salim" in summary
    assert "Rabat beton jalan lingkungan: 45%" in summary and "Saluran drainase lingkungan: 30%" in summary
    assert "semen telat" in summary and "Tidak terbaca" not in summary
    assert ch.last_choices()[0].label == "✅ Simpan"
    await ch.tap("✅ Simpan")
    assert "Laporan tersimpan" in ch.last_text()
    assert ch.messages_sent == 1 and ch.taps == 1
    assert await _records(world, "ksm_a") == 14
    assert await _progress(world, "road") == 45.0 and await _progress(world, "drain") == 30.0
    async with world.db.session() as s:
        ob = (await s.execute(select(Obstacle))).scalar_one()
        assert ob.category == ObstacleCategory.MATERIAL and ob.severity == Severity.SEDANG
        assert ob.description == "semen telat"
        day = (await s.execute(select(AttendanceDay).where(AttendanceDay.work_date == TODAY))).scalar_one()
        assert day.wages_paid is True


async def test_slash_form_and_count_ksm_asks_for_the_split_in_the_save_button(
    reported_yesterday: World,
) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-b")  # count-only KSM with one activity (MCK, 4 unit)
    await ch.text("/hadir 15 progres 45")
    summary = ch.last_text()
    assert "L/P belum diisi" in summary and "MCK komunal: 45%" in summary
    labels = [c.label for c in ch.last_choices()]
    assert "✅ Simpan · semua L" in labels and "✅ Simpan · semua P" in labels
    assert "✅ Simpan" not in labels  # never stored as men silently
    await ch.tap("✅ Simpan · semua P")
    async with world.db.session() as s:
        day = (
            await s.execute(select(AttendanceDay).where(AttendanceDay.ksm_id == world.program["ksm_b"]))
        ).scalar_one()
        assert (day.count_male, day.count_female) == (0, 15)
    assert await _progress(world, "mck") == 45.0


async def test_split_typed_in_the_message(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-b")
    await ch.text("15 orang L10 P5, progres 45%")
    assert "L 10, P 5" in ch.last_text()
    await ch.tap("✅ Simpan")
    async with world.db.session() as s:
        day = (await s.execute(select(AttendanceDay))).scalar_one()
        assert (day.count_male, day.count_female) == (10, 5)


async def test_photo_with_report_caption_goes_with_the_progress(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-b")
    await ch.photo(jpeg(), caption="hadir 12 orang L8 P4 progres 45")
    assert "Foto: 1" in ch.last_text()
    await ch.tap("✅ Simpan")
    async with world.db.session() as s:
        media = (await s.execute(select(Media))).scalar_one()
        assert media.activity_id == world.program["mck"]
    assert await _progress(world, "mck") == 45.0


async def test_old_photo_is_warned_about(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-b")
    await ch.photo(jpeg("2026:10:01 10:00:00"), caption="progres 45")
    assert "Foto diambil" in ch.last_text() and "56 hari" in ch.last_text()
    assert any(c.label == "✅ Simpan" for c in ch.last_choices())  # a warning, not a refusal


async def test_unknown_name_is_named_and_fixed_with_one_part(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-a")
    await ch.text("hadir semua kecuali Agus, Zainal progres rabat 45")
    summary = ch.last_text()
    assert "“zainal” tidak ada di daftar pekerja" in summary
    assert "✅ Simpan" not in [c.label for c in ch.last_choices()]
    await ch.tap("✏️ Hadir")
    await ch.text("semua kecuali Agus, Bambang")
    summary = ch.last_text()
    assert "Hadir 13 orang" in summary and "Rabat beton jalan lingkungan: 45%" in summary  # progress kept
    await ch.tap("✅ Simpan")
    assert await _records(world, "ksm_a") == 13


async def test_figure_over_100_blocks_only_until_fixed(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-a")
    await ch.text("hadir semua progres rabat 145")
    assert "melebihi 100%" in ch.last_text()
    await ch.text("progres rabat 45")  # a part typed again replaces that part, the rest stays
    assert "Hadir 15 orang" in ch.last_text() and "melebihi" not in ch.last_text()
    await ch.tap("✅ Simpan")
    assert await _records(world, "ksm_a") == 15 and await _progress(world, "road") == 45.0


async def test_cancel_writes_nothing(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("hadir semua progres rabat 45 kendala semen telat")
    await ch.text("/batal")
    assert await _records(world, "ksm_a") == 0 and await _progress(world, "road") is None
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(Obstacle.id)))).scalar_one() == 0


async def test_crew_far_above_usual_is_asked(reported_yesterday: World) -> None:
    world = reported_yesterday
    for back, n in enumerate((12, 14, 16, 13, 15), start=1):
        async with world.kotaku.uow() as uow:
            await save_attendance(
                uow,
                ksm_id=world.program["ksm_b"],
                sheet=Sheet(work_date=TODAY - timedelta(days=back), mode=AttendanceMode.COUNT, count_male=n),
                entered_by_id=None,
                channel=Channel.TEST,
                now=world.clock(),
            )
    ch = world.channel("ketua-b")
    await ch.text("hadir 500 progres 45")
    assert "Yakin 500 orang? Biasanya 12–16" in ch.last_text()
    assert any(c.label.startswith("✅ Simpan") for c in ch.last_choices())  # asked, not refused
    await ch.text("hadir 14")
    assert "Yakin" not in ch.last_text()


async def test_obstacle_severity_words(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-a")
    await ch.text("kendala berat hujan deras sejak pagi progres rabat 20")
    assert "Kendala" in ch.last_text() and "hujan deras sejak pagi" in ch.last_text()
    await ch.tap("✅ Simpan")
    async with world.db.session() as s:
        ob = (await s.execute(select(Obstacle))).scalar_one()
        assert ob.severity == Severity.TINGGI and ob.category == ObstacleCategory.CUACA
        assert ob.description == "hujan deras sejak pagi"


async def test_typos_get_a_suggestion(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-a")
    await ch.text("/hadri 15")
    assert "Maksud Anda /hadir?" in ch.last_text()
    assert ch.last_choices()[0].value == "/hadir 15"
    await ch.text("progess rabat 45")
    assert "Maksud Anda: progres rabat 45?" in ch.last_text()
    await ch.tap("progres rabat 45")
    assert "Rabat beton jalan lingkungan: 45%" in ch.last_text()


async def test_plain_chatter_is_not_a_report(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("selamat pagi pak")
    assert "Laporan" not in ch.last_text()
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(Worker.id)))).scalar_one() == 20


async def test_kendala_quick_form_reads_the_severity_word(world: World) -> None:
    """`/kendala material sedang pasir …` once saved "sedang pasir …" and asked the severity again."""
    ch = world.channel("ketua-a")
    await ch.text("/kendala material sedang pasir belum datang")
    text = ch.last_text()
    assert "pasir belum datang" in text and "sedang pasir" not in text
    await ch.tap("simpan")
    async with world.db.session() as s:
        ob = (await s.execute(select(Obstacle))).scalar_one()
        assert (ob.category, ob.severity, ob.description) == (
            ObstacleCategory.MATERIAL,
            Severity.SEDANG,
            "pasir belum datang",
        )


async def test_a_command_word_without_the_slash_gets_the_command(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("rekpa")
    assert "Maksud Anda: /rekap?" in ch.last_text()
    await ch.text("blablabla")
    assert "Maksud Anda" not in ch.last_text()


async def test_old_photo_is_flagged_for_monitoring(reported_yesterday: World) -> None:
    """The warning in the chat and a `photo_stale` finding for the facilitator, from the same EXIF date."""
    from kotaku.monitoring.evaluate import evaluate

    world = reported_yesterday
    ch = world.channel("ketua-b")
    await ch.photo(jpeg("2026:10:01 10:00:00"), caption="progres 45")
    await ch.tap("✅ Simpan")
    await ch.photo(jpeg("2026:11:26 09:00:00"), caption="progres 46")  # today's: no flag
    await ch.tap("✅ Simpan")
    async with world.db.session() as s:
        found = await evaluate(s, world.db.settings, world.clock())
    findings = [f for f in found if f.kind == "photo_stale"]
    assert len(findings) == 1
    assert findings[0].figures["taken"] == "2026-10-01" and findings[0].figures["days"] == 56


async def test_a_view_left_open_does_not_take_the_report_nor_expire_loudly(reported_yesterday: World) -> None:
    world = reported_yesterday
    ch = world.channel("ketua-a")
    await ch.text("/rekap")
    await ch.text("hadir semua progres rabat 20")
    assert "Laporan KSM Bejalen Makmur" in ch.last_text() and "dibatalkan" not in ch.all_text()
    await ch.text("/batal")
    await ch.text("/kurva")
    world.clock.advance(hours=13)
    await ch.text("/bantuan")
    assert "kedaluwarsa" not in ch.all_text()
