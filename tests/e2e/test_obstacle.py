"""/kendala (report an obstacle) and /selesai (close it): steps, quick form, bad input, scope, outbox."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from kotaku import catalogue
from kotaku.models import (
    AuditLog,
    Media,
    MediaKind,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    OutboxMessage,
    Person,
    Severity,
)
from kotaku.notify.outbox import PRIORITY_HIGH, PRIORITY_NORMAL
from kotaku.services.obstacles import notify_obstacle
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import World

VOICE = b"OggS\x00voice-bytes"
SHORT_ID = re.compile(r"^K-[2-9A-HJKMNP-Z]{4}$")


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (120, 90, 60)).save(buf, "JPEG")
    return buf.getvalue()


async def obstacles(world: World) -> list[Obstacle]:
    async with world.db.session() as s:
        return list((await s.execute(select(Obstacle).order_by(Obstacle.id))).scalars())


async def outbox(world: World, kind: str) -> list[OutboxMessage]:
    async with world.db.session() as s:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.recipient)
        return list((await s.execute(stmt)).scalars())


async def report(world: World, user: str, text: str, severity: str = "Sedang") -> Obstacle:
    """Quick form by a KSM-scoped user: one text, one tap for severity, one tap to save."""
    before = {o.id for o in await obstacles(world)}
    ch = world.channel(user)
    await ch.text(f"/kendala {text}")
    await ch.tap(severity)
    await ch.tap("Simpan")
    new = [o for o in await obstacles(world) if o.id not in before]
    assert len(new) == 1, ch.all_text()
    return new[0]


# --- reporting ----------------------------------------------------------------------------------------


async def test_full_flow_with_photo_notifies_facilitator_and_bkm(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala")
    assert len(ch.last_choices()) == 8
    await ch.tap("Material")
    assert [c.value for c in ch.last_choices()] == ["s:rendah", "s:sedang", "s:tinggi"]
    await ch.tap("Tinggi")
    assert "kendala.ask_description" in keys_in(ch.last_text())
    await ch.text("Semen belum datang sejak Senin")
    assert "kendala.ask_photo" in keys_in(ch.last_text())
    await ch.photo(jpeg())
    review = ch.last_text()
    assert "Semen belum datang sejak Senin" in review
    assert says(review, "kendala.review", photo=catalogue.t("kendala.photo_yes"))
    assert "KSM Bejalen Makmur" in review and "26 November 2026" in review
    await ch.tap("Simpan")

    [o] = await obstacles(world)
    assert SHORT_ID.match(o.short_id)
    assert says(ch.last_text(), "kendala.saved", short_id=o.short_id)
    assert "kendala.saved_notified" in keys_in(ch.last_text())
    assert o.ksm_id == world.program["ksm_a"]
    assert (o.category, o.severity, o.status) == (
        ObstacleCategory.MATERIAL,
        Severity.TINGGI,
        ObstacleStatus.OPEN,
    )
    assert o.description == "Semen belum datang sejak Senin"
    assert o.reported_by_id == world.program["ketua-a"]
    assert o.report_date == date(2026, 11, 26)
    assert o.voice_media_id is None
    async with world.db.session() as s:
        photo = await s.get(Media, o.photo_media_id)
        assert photo is not None and photo.kind == MediaKind.PHOTO and photo.ksm_id == o.ksm_id

    # High severity: the facilitator of the kecamatan and the BKM of the kelurahan, nobody else.
    rows = await outbox(world, "obstacle")
    assert [r.recipient for r in rows] == ["bkm-b", "fasil"]
    assert {r.person_id for r in rows} == {world.program["bkm-b"], world.program["fasil"]}
    assert all(r.priority == PRIORITY_HIGH for r in rows)
    assert all(r.dedup_key.startswith(f"obstacle:{o.short_id}:") for r in rows)
    notice = rows[1].payload["text"]
    assert says(
        notice,
        "kendala.notice",
        short_id=o.short_id,
        ksm="KSM Bejalen Makmur",
        category=catalogue.t("kendala.cat.material"),
        severity=catalogue.t("kendala.sev.tinggi"),
        description="Semen belum datang sejak Senin",
        reporter="Pak Darto",
    )
    assert "/selesai" in notice and "kendala.notice_photo" in keys_in(notice)
    assert rows[1].payload["short_id"] == o.short_id


async def test_quick_form_one_tap_for_severity(world: World) -> None:
    ch = world.channel("pekerja-a")
    await ch.text("/kendala material semen belum datang")
    assert says(ch.last_text(), "kendala.ask_severity", category=catalogue.t("kendala.cat.material"))
    await ch.tap("Sedang")
    assert says(ch.last_text(), "kendala.review", photo=catalogue.t("kendala.photo_no"))
    await ch.tap("Simpan")
    assert (ch.messages_sent, ch.taps) == (1, 2)
    [o] = await obstacles(world)
    assert (o.category, o.severity, o.description) == (
        ObstacleCategory.MATERIAL,
        Severity.SEDANG,
        "semen belum datang",
    )
    assert o.reported_by_id == world.program["pekerja-a"]
    rows = await outbox(world, "obstacle")
    assert [r.recipient for r in rows] == ["fasil"]  # not high: no BKM
    assert rows[0].priority == PRIORITY_NORMAL


async def test_quick_form_synonyms_and_english(world: World) -> None:
    o = await report(world, "ketua-a", "hujan deras sejak pagi", severity="Rendah")
    assert o.category == ObstacleCategory.CUACA and o.description == "hujan deras sejak pagi"
    o = await report(world, "ketua-a", "tenaga kerja kurang lima orang")
    assert o.category == ObstacleCategory.TENAGA_KERJA and o.description == "kurang lima orang"
    o = await report(world, "ketua-a", "funds wages not paid yet")
    assert o.category == ObstacleCategory.DANA and o.description == "wages not paid yet"


async def test_unknown_category_word_keeps_text_and_bad_severity(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala pompa air mati total")
    kept = says(ch.last_text(), "kendala.ask_category_kept", description="pompa air mati total")
    assert kept and len(ch.last_choices()) == 8
    await ch.text("kategori aneh")
    assert says(ch.last_text(), "kendala.bad_category", text="kategori aneh") and len(ch.last_choices()) == 8
    await ch.text("teknis")
    await ch.text("4")
    assert says(ch.last_text(), "kendala.bad_severity", text="4")
    await ch.text("-1")
    assert says(ch.last_text(), "kendala.bad_severity", text="-1")
    await ch.text("3")
    assert "kendala.review" in keys_in(ch.last_text())
    assert await obstacles(world) == []
    await ch.text("ya")
    [o] = await obstacles(world)
    assert (o.category, o.severity, o.description) == (
        ObstacleCategory.TEKNIS,
        Severity.TINGGI,
        "pompa air mati total",
    )


async def test_bad_input_at_each_step_keeps_what_was_entered(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala")
    await ch.photo(jpeg())
    photo = catalogue.t("input.kind.photo")
    assert says(ch.last_text(), "kendala.bad_category", text=photo) and len(ch.last_choices()) == 8
    await ch.tap("Lahan/sosial")
    await ch.voice(b"OggS...")
    assert says(ch.last_text(), "kendala.bad_severity", text=catalogue.t("input.kind.voice"))
    await ch.tap("Rendah")
    await ch.text("")
    assert "kendala.bad_description" in keys_in(ch.last_text())
    await ch.text("ok")
    assert "kendala.bad_description" in keys_in(ch.last_text())
    await ch.photo(jpeg())
    assert says(ch.last_text(), "kendala.description_not_text", kind=photo)
    await ch.location(-7.26, 110.41)
    assert says(ch.last_text(), "kendala.description_not_text", kind=catalogue.t("input.kind.location"))
    await ch.text("Warga menolak saluran lewat depan rumah")
    await ch.text("apa ini")
    assert "kendala.bad_photo" in keys_in(ch.last_text())
    await ch.photo(b"not really a jpeg")
    assert "kendala.photo_unreadable" in keys_in(ch.last_text())
    await ch.tap("Lewati")
    await ch.text("hmm")
    assert "kendala.bad_confirm" in keys_in(ch.last_text())
    assert await obstacles(world) == []
    await ch.tap("Simpan")
    [o] = await obstacles(world)
    assert (o.category, o.severity) == (ObstacleCategory.LAHAN_SOSIAL, Severity.RENDAH)
    assert o.description == "Warga menolak saluran lewat depan rumah" and o.photo_media_id is None


async def test_voice_note_as_description(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala cuaca")
    await ch.tap("Sedang")
    await ch.voice(VOICE)
    await ch.tap("Lewati")
    assert "(pesan suara)" in ch.last_text()
    await ch.tap("Simpan")
    [o] = await obstacles(world)
    assert o.description == "(pesan suara)" and o.category == ObstacleCategory.CUACA
    async with world.db.session() as s:
        voice = await s.get(Media, o.voice_media_id)
        assert voice is not None and voice.kind == MediaKind.VOICE and voice.size_bytes == len(VOICE)
        assert voice.path and (Path(world.engine.settings.media.dir) / voice.path).read_bytes() == VOICE
    [row] = await outbox(world, "obstacle")
    assert "kendala.notice_voice" in keys_in(row.payload["text"])
    assert row.payload["voice_media_id"] == o.voice_media_id


async def test_restart_after_category_and_severity_resumes(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala")
    await ch.tap("Cuaca")
    await ch.tap("Rendah")
    world.restart()
    ch = world.channel("ketua-a")
    await ch.text("Hujan deras, lokasi tergenang")
    assert "kendala.ask_photo" in keys_in(ch.last_text())
    await ch.text("lewati")
    await ch.tap("Simpan")
    [o] = await obstacles(world)
    assert (o.category, o.severity, o.description) == (
        ObstacleCategory.CUACA,
        Severity.RENDAH,
        "Hujan deras, lokasi tergenang",
    )


async def test_redelivered_save_makes_one_obstacle_and_one_notice(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala material pasir habis")
    await ch.tap("Tinggi")
    await ch.tap("Simpan", message_id="save-1")
    assert await ch.resend("save-1", "simpan") == []
    [o] = await obstacles(world)
    rows = await outbox(world, "obstacle")
    assert len(rows) == 2 and len({r.dedup_key for r in rows}) == 2
    # Notifying the same obstacle again (a retried job) queues nothing new.
    async with world.db.transaction() as s:
        again = await s.get(Obstacle, o.id)
        assert again is not None
        assert await notify_obstacle(s, again, now=world.clock()) == 0
    assert len(await outbox(world, "obstacle")) == 2


async def test_stranger_and_managers_cannot_report(world: World) -> None:
    stranger = world.channel("orang-asing")
    await stranger.text("/kendala material semen belum datang")
    assert "engine.stranger" in keys_in(stranger.last_text())
    askot = world.channel("askot")
    await askot.text("/kendala material semen belum datang")
    assert says(askot.last_text(), "engine.not_allowed", role=catalogue.t("role.askot"))
    assert await obstacles(world) == []
    assert await outbox(world, "obstacle") == []


async def test_facilitator_reports_for_chosen_ksm(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/kendala dana upah belum cair")
    assert {c.label for c in ch.last_choices()} == {
        "KSM Bejalen Makmur",
        "KSM Bejalen Guyub",
        "KSM Tambakboyo Rukun",
    }
    await ch.tap("KSM Tambakboyo Rukun")
    await ch.tap("Sedang")
    await ch.tap("Simpan")
    [o] = await obstacles(world)
    assert o.ksm_id == world.program["ksm_c"] and o.reported_by_id == world.program["fasil"]
    assert o.category == ObstacleCategory.DANA and o.description == "upah belum cair"
    # The facilitator is not told about their own report; nobody else covers that KSM.
    assert await outbox(world, "obstacle") == []


async def test_activity_code_links_only_the_ksms_own_activity(world: World) -> None:
    own = await report(world, "ketua-a", "teknis ACT-BJL-02 saluran retak")
    assert own.activity_id == world.program["drain"]
    [row] = await outbox(world, "obstacle")
    activity = "ACT-BJL-02 Saluran drainase lingkungan"
    assert says(row.payload["text"], "kendala.notice_activity", activity=activity)
    other = await report(world, "ketua-a", "teknis ACT-TMB-01 pompa rusak")
    assert other.activity_id is None and other.ksm_id == world.program["ksm_a"]


async def test_wita_site_uses_local_date_and_recipient_language(world: World) -> None:
    async with world.db.transaction() as s:
        fasil_m = await s.get(Person, world.program["fasil-m"])
        assert fasil_m is not None
        fasil_m.language = "en"
    world.clock.advance(hours=7, minutes=30)  # 23:30 WIB, already 00:30 Friday in Makassar
    o = await report(world, "ketua-m", "material gerobak belum dikirim", severity="Tinggi")
    assert o.report_date == date(2026, 11, 27)
    rows = await outbox(world, "obstacle")
    assert [r.recipient for r in rows] == ["fasil-m"]  # no BKM person there; Ambarawa's fasil not told
    text = rows[0].payload["text"]
    assert says(
        text,
        "kendala.notice",
        "en",
        ksm="KSM Mariso Jaya",
        category=catalogue.t("kendala.cat.material", "en"),
        severity=catalogue.t("kendala.sev.tinggi", "en"),
    )
    assert "November 27, 2026" in text


# --- closing ------------------------------------------------------------------------------------------


async def test_close_with_id_and_note_then_twice(world: World) -> None:
    o = await report(world, "ketua-a", "material semen belum datang")
    ch = world.channel("fasil")
    await ch.text(f"/selesai {o.short_id.lower()} Semen sudah dikirim toko")
    told = catalogue.t("selesai.told_reporter", name="Pak Darto")
    assert says(ch.last_text(), "selesai.closed", short_id=o.short_id, told=told)
    async with world.db.session() as s:
        closed = await s.get(Obstacle, o.id)
        assert closed is not None
        assert closed.status == ObstacleStatus.CLOSED
        assert closed.closed_by_id == world.program["fasil"]
        assert closed.closed_at == world.clock()
        assert closed.close_note == "Semen sudah dikirim toko"
        [audit] = (
            await s.execute(select(AuditLog).where(AuditLog.entity == "obstacle", AuditLog.entity_id == o.id))
        ).scalars()
        assert audit.action == "obstacle_closed" and audit.actor_id == world.program["fasil"]
        assert audit.old == {"status": "open", "closed_by_id": None, "closed_at": None, "close_note": None}
        assert audit.new is not None and audit.new["close_note"] == "Semen sudah dikirim toko"
    [notice] = await outbox(world, "obstacle_closed")
    assert notice.recipient == "ketua-a" and notice.dedup_key == f"obstacle-closed:{o.short_id}:test:ketua-a"
    closing = {"closer": "Mbak Wulan", "note": "Semen sudah dikirim toko"}
    assert says(notice.payload["text"], "selesai.notice", **closing)

    world.clock.advance(days=1)
    korkot = world.channel("korkot")
    await korkot.text(f"/selesai {o.short_id} ditutup lagi")
    assert says(korkot.last_text(), "selesai.already_closed", date="26 November 2026", name="Mbak Wulan")
    async with world.db.session() as s:
        n = (
            await s.execute(select(func.count(AuditLog.id)).where(AuditLog.entity == "obstacle"))
        ).scalar_one()
        assert n == 1
        again = await s.get(Obstacle, o.id)
        assert again is not None and again.closed_by_id == world.program["fasil"]
    assert len(await outbox(world, "obstacle_closed")) == 1


async def test_close_from_list_with_note_asked(world: World) -> None:
    high = await report(world, "ketua-a", "material semen belum datang", severity="Tinggi")
    world.clock.advance(days=2)
    low = await report(world, "ketua-c", "cuaca gerimis", severity="Rendah")
    far = await report(world, "ketua-m", "dana belum cair")
    ch = world.channel("fasil")
    await ch.text("/selesai")
    listing = ch.last_text()
    assert says(listing, "selesai.list_title", n=2) and far.short_id not in listing
    assert says(
        listing,
        "selesai.list_line",
        short_id=high.short_id,
        ksm="KSM Bejalen Makmur",
        category=catalogue.t("kendala.cat.material"),
        severity=catalogue.t("kendala.sev.tinggi"),
        days=2,
    )
    assert says(listing, "selesai.list_line", short_id=low.short_id, ksm="KSM Tambakboyo Rukun", days=0)
    assert [c.value for c in ch.last_choices()] == [f"o:{high.short_id}", f"o:{low.short_id}"]
    await ch.text("bukan id")
    assert "selesai.bad_pick" in keys_in(ch.last_text()) and len(ch.last_choices()) == 2
    await ch.text("K-2345")
    assert says(ch.all_text(), "selesai.unknown", short_id="K-2345") and len(ch.last_choices()) == 2
    await ch.tap(high.short_id)
    assert says(ch.last_text(), "selesai.ask_note", short_id=high.short_id, description="semen belum datang")
    await ch.photo(jpeg())
    assert says(ch.last_text(), "selesai.note_not_text", kind=catalogue.t("input.kind.photo"))
    await ch.text("ok")
    assert "selesai.bad_note" in keys_in(ch.last_text())
    world.restart()
    ch = world.channel("fasil")
    await ch.text("Semen tiba pagi ini")
    assert says(ch.last_text(), "selesai.closed", short_id=high.short_id)
    async with world.db.session() as s:
        rows = {o.short_id: o for o in (await s.execute(select(Obstacle))).scalars()}
    assert rows[high.short_id].status == ObstacleStatus.CLOSED
    assert rows[high.short_id].close_note == "Semen tiba pagi ini"
    assert rows[low.short_id].status == ObstacleStatus.OPEN
    assert rows[far.short_id].status == ObstacleStatus.OPEN

    # Only the id: the note is asked for.
    await ch.text(f"/selesai {low.short_id}")
    assert says(ch.last_text(), "selesai.ask_note", short_id=low.short_id)
    await ch.text("Sudah reda, kerja lanjut")
    await ch.text("/selesai")
    assert "selesai.none_open" in keys_in(ch.last_text())


async def test_close_refusals_scope_unknown_role(world: World) -> None:
    mariso = await report(world, "ketua-m", "dana belum cair")
    ours = await report(world, "ketua-a", "teknis molen rusak")
    fasil = world.channel("fasil")
    await fasil.text(f"/selesai {mariso.short_id} sudah cair")
    outside = {"short_id": mariso.short_id, "ksm": "KSM Mariso Jaya"}
    assert says(fasil.last_text(), "selesai.outside_scope", **outside)
    await fasil.text("/selesai K-2345 beres")
    assert says(fasil.last_text(), "selesai.unknown", short_id="K-2345")
    await fasil.text("/selesai 12345678 beres")
    assert "selesai.unknown" in keys_in(fasil.last_text())
    for user, role in (("pekerja-a", "role.worker"), ("ketua-a", "role.ketua_ksm"), ("bkm-b", "role.bkm")):
        ch = world.channel(user)
        await ch.text(f"/selesai {ours.short_id} sudah beres")
        assert says(ch.last_text(), "engine.not_allowed", role=catalogue.t(role))
    askot = world.channel("askot")
    await askot.text(f"/selesai {mariso.short_id} sudah cair")
    assert says(askot.last_text(), "selesai.outside_scope", **outside)
    assert {o.status for o in await obstacles(world)} == {ObstacleStatus.OPEN}
    assert await outbox(world, "obstacle_closed") == []

    # Managers with the KSM in scope may close; the national admin sees everything.
    await askot.text(f"/selesai {ours.short_id} molen diganti")
    admin = world.channel("admin")
    await admin.text("/selesai")
    assert mariso.short_id in admin.last_text() and ours.short_id not in admin.last_text()
    await admin.tap(mariso.short_id)
    await admin.text("Dana tahap 2 sudah cair")
    closed = {o.short_id: o for o in await obstacles(world)}
    assert closed[ours.short_id].closed_by_id == world.program["askot"]
    assert closed[mariso.short_id].closed_by_id == world.program["admin"]
    assert {r.recipient for r in await outbox(world, "obstacle_closed")} == {"ketua-a", "ketua-m"}


async def test_help_and_menu_list_the_commands(world: World) -> None:
    ketua = world.channel("ketua-a")
    await ketua.text("/bantuan")
    assert "/kendala" in ketua.last_text() and "/selesai" not in ketua.last_text()
    fasil = world.channel("fasil")
    await fasil.text("/bantuan")
    assert "/kendala" in fasil.last_text() and "/selesai" in fasil.last_text()
    await fasil.text("/kendala")
    await fasil.tap("KSM Bejalen Makmur")
    await fasil.text("/bantuan")
    assert "kendala.help.kategori" in keys_in(fasil.last_text())
