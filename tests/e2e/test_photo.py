"""Photos, image files and locations at any time (/foto), voice notes outside a flow, EXIF reading."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from PIL import ExifTags, Image
from sqlalchemy import select

from kotaku import catalogue
from kotaku.domain.geo import distance_m
from kotaku.models import ConversationState, Media, MediaKind
from kotaku.services.media import parse_milestone, read_exif
from tests.catalogue_keys import fills, keys_in, says
from tests.e2e.conftest import World

TODAY = date(2026, 11, 26)


def jpeg(seed: int = 0, *, gps: tuple[float, float] | None = None, taken: str | None = None) -> bytes:
    """A small JPEG; with `gps` (lat, lon) and `taken` ("YYYY:MM:DD HH:MM:SS") written as EXIF."""
    img = Image.new("RGB", (64, 48), (seed * 37 % 256, seed * 91 % 256, 200))
    exif = Image.Exif()
    if taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    if gps:
        info = exif.get_ifd(ExifTags.IFD.GPSInfo)
        for (ref_tag, val_tag), value, refs in (((1, 2), gps[0], "NS"), ((3, 4), gps[1], "EW")):
            v = abs(value)
            deg, minutes = int(v), int((v - int(v)) * 60)
            seconds = round((v - deg - minutes / 60) * 3600, 2)
            info[ref_tag] = refs[0] if value >= 0 else refs[1]
            info[val_tag] = (float(deg), float(minutes), seconds)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def png(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (seed, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


async def _media(world: World) -> list[Media]:
    async with world.db.session() as s:
        return list((await s.execute(select(Media).order_by(Media.id))).scalars())


async def _state(world: World, user: str) -> ConversationState:
    async with world.db.session() as s:
        stmt = select(ConversationState).where(ConversationState.user_id == user)
        return (await s.execute(stmt)).scalar_one()


# --- pure helpers --------------------------------------------------------------------------------


def test_read_exif_gps_and_time() -> None:
    info = read_exif(jpeg(1, gps=(-7.265, 110.412), taken="2026:11:26 15:30:00"))
    assert (info.latitude, info.longitude) == (-7.265, 110.412)
    assert info.taken_at == datetime(2026, 11, 26, 8, 30, tzinfo=UTC)  # 15:30 WIB
    wita = read_exif(jpeg(1, gps=(-7.265, 110.412), taken="2026:11:26 15:30:00"), "Asia/Makassar")
    assert wita.taken_at == datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    assert read_exif(jpeg(2)) == type(info)()  # no EXIF: nothing invented
    assert read_exif(b"not an image") == type(info)()


def test_milestone_caption_and_distance() -> None:
    assert parse_milestone("#50 drainase", [0, 50, 100]) == (50, None)
    assert parse_milestone("tonggak # 100%", [0, 50, 100]) == (100, None)
    assert parse_milestone("#30", [0, 50, 100]) == (None, "30")
    assert parse_milestone("tanpa tanda", [0, 50, 100]) == (None, None)
    assert 1100 < distance_m(-7.265, 110.412, -7.275, 110.412) < 1125  # 0.01° of latitude ≈ 1.11 km


# --- the chat ------------------------------------------------------------------------------------


async def test_photo_outside_flow_with_milestone_caption(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.photo(jpeg(3), caption="#50 dinding MCK")
    reply = ch.last_text()
    assert says(reply, "foto.saved", date="26 November 2026") and says(reply, "foto.milestone_line", m=50)
    [m] = await _media(world)
    assert (m.kind, m.milestone, m.activity_id) == (MediaKind.PHOTO, 50, world.program["mck"])
    assert m.ksm_id == world.program["ksm_b"] and m.report_date == TODAY
    assert m.entered_by_id == world.program["ketua-b"] and m.caption == "#50 dinding MCK"
    assert m.sha256 and m.path and (await _state(world, "ketua-b")).flow is None


async def test_several_activities_ask_or_use_the_caption(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.photo(jpeg(4))
    assert "foto.choose_activity" in keys_in(ch.last_text())
    assert [c.value for c in ch.last_choices()][-1] == "umum" and len(ch.last_choices()) == 3
    await ch.text("apa ini")
    assert "foto.choose_first" in keys_in(ch.last_text()) and not await _media(world)
    await ch.tap("Umum")
    await ch.photo(jpeg(5), caption="drainase #100")
    assert "Saluran drainase" in ch.last_text() and says(ch.last_text(), "foto.milestone_line", m=100)
    await ch.photo(jpeg(6), caption="ACT-BJL-01 #30")
    assert says(ch.all_text(), "foto.bad_milestone", m=30)
    rows = await _media(world)
    assert [(m.activity_id, m.milestone) for m in rows] == [
        (None, None),
        (world.program["drain"], 100),
        (world.program["road"], None),
    ]


async def test_same_photo_twice_is_stored_once(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.photo(jpeg(7))
    await ch.photo(jpeg(7), caption="#0")
    assert "foto.already" in keys_in(ch.last_text())
    [m] = await _media(world)
    assert m.milestone == 0  # the second copy added the milestone the first lacked
    world.clock.advance(days=1)  # another day: a monitoring concern, stored again
    await ch.photo(jpeg(7))
    assert "foto.saved" in keys_in(ch.last_text()) and len(await _media(world)) == 2


async def test_location_distance_to_site(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.location(-7.275, 110.412)  # 0.01° south of the KSM
    reply = ch.last_text()
    assert says(reply, "foto.location_saved", date="26 November 2026")
    [distance] = fills(reply, "foto.distance")
    assert distance["meters"].startswith("1.11") and len(distance["meters"]) == 5  # 1.11x m
    [m] = await _media(world)
    assert m.kind == MediaKind.LOCATION and (m.latitude, m.longitude) == (-7.275, 110.412)
    assert m.sha256 is None
    c = world.channel("ketua-c")  # KSM without coordinates
    await c.location(-7.3, 110.4)
    assert "foto.no_site_point" in keys_in(c.last_text())


async def test_exif_gps_photo_gets_distance_and_time(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.photo(jpeg(8, gps=(-7.2660, 110.4130), taken="2026:11:26 15:00:00"))
    assert says(ch.last_text(), "foto.distance", meters=0)
    [m] = await _media(world)
    assert (m.latitude, m.longitude) == (-7.266, 110.413) and m.taken_at is not None


async def test_foto_command_explains_then_waits(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/foto #100")
    assert says(ch.last_text(), "foto.how", ksm="KSM Bejalen Guyub")
    await ch.text("sudah")
    assert "foto.waiting_hint" in keys_in(ch.last_text())
    assert (await _state(world, "ketua-b")).state == "tunggu_foto"
    await ch.photo(jpeg(9))
    assert says(ch.last_text(), "foto.milestone_line", m=100)
    assert [m.milestone for m in await _media(world)] == [100]


async def test_voice_outside_flow_points_to_kendala(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.voice(b"OggS fake voice")
    assert "foto.voice" in keys_in(ch.last_text())
    assert not await _media(world)


async def test_files_not_image_too_large_and_image_document(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.document(b"%PDF-1.4", "rab.pdf", "application/pdf")
    assert "foto.not_image" in keys_in(ch.last_text())
    world.engine.settings.media.max_bytes = 2048
    await ch.photo(jpeg(10) + b"\0" * 4096)
    assert says(ch.last_text(), "foto.too_large", limit="2 KB")
    assert not await _media(world)
    await ch.document(png(11), "foto.png", "image/png")
    assert "foto.saved" in keys_in(ch.last_text())
    [m] = await _media(world)
    assert m.kind == MediaKind.PHOTO and m.mime_type == "image/png"


async def test_managers_and_other_ksm_refused(world: World) -> None:
    askot = world.channel("askot")
    await askot.photo(jpeg(12))
    assert says(askot.last_text(), "foto.not_allowed", role=catalogue.t("role.askot"))
    worker = world.channel("pekerja-a")
    await worker.photo(jpeg(13), caption="#50 ACT-BJL-03")
    other = {"code": "ACT-BJL-03", "owner": "KSM Bejalen Guyub", "ksm": "KSM Bejalen Makmur"}
    assert says(worker.last_text(), "foto.other_ksm", **other)
    assert not await _media(world)
    await worker.photo(jpeg(14), caption="#50 ACT-BJL-02")
    [m] = await _media(world)
    assert m.entered_by_id == world.program["pekerja-a"] and m.activity_id == world.program["drain"]


async def test_facilitator_chooses_ksm_across_a_restart(world: World) -> None:
    ch = world.channel("fasil")
    await ch.photo(jpeg(15), caption="#0")
    assert "foto.choose_ksm" in keys_in(ch.last_text())
    await ch.photo(jpeg(16))
    assert "foto.choose_first" in keys_in(ch.last_text())
    world.restart()
    ch2 = world.channel("fasil")
    ch2.outbox = ch.outbox
    await ch2.tap("KSM Bejalen Guyub")
    assert "foto.saved" in keys_in(ch2.last_text()) and says(ch2.last_text(), "foto.milestone_line", m=0)
    [m] = await _media(world)
    assert m.ksm_id == world.program["ksm_b"] and m.entered_by_id == world.program["fasil"]
    assert m.activity_id == world.program["mck"] and m.milestone == 0


async def test_photo_then_progress_reuses_the_file(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.photo(jpeg(17))
    await ch.text("/progres 20")
    await ch.photo(jpeg(17))
    await ch.tap("Simpan")
    [m] = await _media(world)  # one row, now marked as the 0% milestone photo
    assert m.milestone == 0 and m.activity_id == world.program["mck"]
