"""/progres end to end: activity choice, percent or volume, checks, milestone photos, summary, save,
status against the plan, corrections with audit, restarts, duplicates, roles and scope."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from kotaku import catalogue
from kotaku.models import Activity, AuditLog, Channel, ConversationState, Media, MediaKind, ProgressReport
from kotaku.services.progress import (
    AmountError,
    Doubt,
    assess_activity,
    crossed_milestone,
    doubt_about,
    last_progress,
    parse_amount,
    progress_history,
    save_progress,
)
from tests.catalogue_keys import fills, keys_in, says
from tests.e2e.conftest import World

TODAY = date(2026, 11, 26)  # the world clock's local date in WIB and WITA


def jpeg(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, 120)).save(buf, "JPEG")
    return buf.getvalue()


async def _reports(world: World, key: str) -> list[ProgressReport]:
    async with world.db.session() as s:
        stmt = select(ProgressReport).where(ProgressReport.activity_id == world.program[key])
        return list((await s.execute(stmt.order_by(ProgressReport.report_date))).scalars())


async def _seed(world: World, key: str, days_ago: int, percent: float) -> None:
    async with world.kotaku.uow() as uow:
        await save_progress(
            uow,
            activity_id=world.program[key],
            report_date=TODAY - timedelta(days=days_ago),
            percent=percent,
            volume=None,
            note=None,
            entered_by_id=world.program["ketua-a"],
            channel=Channel.TEST,
            now=world.clock(),
        )


async def _state(world: World, user: str) -> ConversationState:
    async with world.db.session() as s:
        stmt = select(ConversationState).where(ConversationState.user_id == user)
        return (await s.execute(stmt)).scalar_one()


# --- the service, without the chat ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "percent", "volume"),
    [
        ("45", 45.0, None),
        ("45%", 45.0, None),
        ("45,5", 45.5, None),
        ("45.5", 45.5, None),
        ("45,5 %", 45.5, None),
        ("50 persen", 50.0, None),
        ("120 m", 88.24, 120.0),
        ("120m", 88.24, 120.0),
        ("120 meter", 88.24, 120.0),
        ("136 M", 100.0, 136.0),
    ],
)
def test_parse_amount_forms(text: str, percent: float, volume: float | None) -> None:
    got = parse_amount(text, "m", 136.0)
    assert got.error is None
    assert (got.percent, got.volume) == (percent, volume)


def test_parse_amount_units_and_errors() -> None:
    assert parse_amount("4 unit", "unit", 4.0).percent == 100.0
    assert parse_amount("3 buah", "unit", 4.0).percent == 75.0
    assert parse_amount("empat puluh", "m", 136).error == AmountError.NOT_A_NUMBER
    assert parse_amount("150%", "m", 136).error == AmountError.OVER_100
    assert parse_amount("-5", "m", 136).error == AmountError.NEGATIVE
    assert parse_amount("200 m", "m", 136).error == AmountError.OVER_TARGET
    assert parse_amount("5 kg", "m", 136).error == AmountError.WRONG_UNIT


def test_milestones_and_doubts(world: World) -> None:
    s = world.engine.settings
    assert crossed_milestone([0, 50, 100], None, 10) == 0
    assert crossed_milestone([0, 50, 100], None, 60) == 50
    assert crossed_milestone([0, 50, 100], 40, 50) == 50
    assert crossed_milestone([0, 50, 100], 50, 70) is None
    assert crossed_milestone([0, 50, 100], 90, 100) == 100
    kw = {"start_date": TODAY - timedelta(days=20), "report_date": TODAY}
    assert (
        doubt_about(s, percent=30, previous=40, previous_date=TODAY - timedelta(days=1), **kw)
        == Doubt.BACKWARDS
    )
    assert (
        doubt_about(s, percent=45, previous=20, previous_date=TODAY - timedelta(days=1), **kw) == Doubt.JUMP
    )
    assert doubt_about(s, percent=45, previous=20, previous_date=TODAY - timedelta(days=2), **kw) is None
    assert doubt_about(s, percent=60, previous=None, previous_date=None, **kw) is None


async def test_service_upsert_history_and_assessment(world: World) -> None:
    await _seed(world, "road", 2, 10)
    await _seed(world, "road", 1, 20)
    await _seed(world, "road", 1, 22)  # a correction of the same day
    rows = await _reports(world, "road")
    assert [(r.percent, r.revision) for r in rows] == [(10, 1), (22, 2)]
    async with world.db.session() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.entity == "progress_report"))).scalar_one()
        assert audit.entity_id == rows[1].id and audit.old["percent"] == 20 and audit.new["percent"] == 22
        assert (await last_progress(s, world.program["road"], before=TODAY - timedelta(days=1))).percent == 10
        assert (await last_progress(s, world.program["road"])).percent == 22
        assert await progress_history(s, world.program["road"]) == [
            (TODAY - timedelta(days=2), 10.0),
            (TODAY - timedelta(days=1), 22.0),
        ]
        activity = await s.get(Activity, world.program["road"])
        a = await assess_activity(s, world.engine.settings, activity, TODAY)
    assert a.actual == 22 and 20 < a.planned < 35 and a.deviation == round(22 - a.planned, 2)


# --- the chat ------------------------------------------------------------------------------------


async def test_single_activity_first_report_needs_photo_then_saves(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/progres")
    # one activity: no choice
    assert "MCK komunal" in ch.last_text()
    assert says(ch.last_text(), "progres.ask_amount", previous=catalogue.t("progres.not_reported"))
    await ch.text("45,5")
    # first report: photo required
    assert says(ch.last_text(), "progres.ask_photo_required", milestone=0) and not ch.last().choices
    await ch.text("lewati")
    assert says(ch.last_text(), "progres.photo_required_hint", milestone=0)
    assert (await _state(world, "ketua-b")).state == "foto"
    await ch.photo(jpeg(1), caption="pondasi")
    summary = ch.last_text()
    assert "45,5%" in summary and "26 November 2026" in summary
    photo = catalogue.t("progres.photo_yes_milestone", milestone=0)
    assert says(summary, "progres.summary_body", photo=photo)
    await ch.tap("Simpan")
    saved = ch.last_text()
    assert {"progres.saved", "progres.status.lebih_cepat"} <= keys_in(saved)
    [row] = await _reports(world, "mck")
    assert row.percent == 45.5 and row.volume is None and row.report_date == TODAY
    assert row.entered_by_id == world.program["ketua-b"] and row.revision == 1
    async with world.db.session() as s:
        [media] = (await s.execute(select(Media))).scalars().all()
    assert media.kind == MediaKind.PHOTO and media.milestone == 0 and media.caption == "pondasi"
    assert media.activity_id == world.program["mck"] and media.ksm_id == world.program["ksm_b"]
    assert media.report_date == TODAY and (await _state(world, "ketua-b")).flow is None


async def test_choose_activity_volume_and_milestone_50(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/progres")
    labels = [c.label for c in ch.last_choices()]
    assert len(labels) == 2 and all("progres.not_reported" in keys_in(label) for label in labels)
    await ch.tap("Saluran drainase")
    assert says(ch.last_text(), "progres.ask_amount", target=136, unit="m")
    await ch.text("120 m")
    assert says(ch.last_text(), "progres.ask_photo_required", milestone=50)
    await ch.photo(jpeg(2))
    assert says(ch.last_text(), "progres.volume_of", pct="88,24%", volume=120, target=136, unit="m")
    await ch.tap("Simpan")
    [row] = await _reports(world, "drain")
    assert (row.percent, row.volume) == (88.24, 120.0)
    async with world.db.session() as s:
        assert (await s.execute(select(Media.milestone))).scalar_one() == 50
    await ch.text("/progres")
    assert any("88,24%" in c.label for c in ch.last_choices())


async def test_quick_forms(world: World) -> None:
    b = world.channel("ketua-b")
    await b.text("/progres 30")
    assert says(b.last_text(), "progres.ask_photo_required", milestone=0)
    a = world.channel("ketua-a")
    await a.text("/progres ACT-BJL-01 30")
    assert says(a.last_text(), "progres.ask_photo_required", milestone=0)
    await a.photo(jpeg(3))
    assert "Rabat beton" in a.last_text() and "30%" in a.last_text()
    await a.text("/progres drainase 68 m")  # starts over: the unsaved road draft is dropped
    await a.photo(jpeg(4))
    assert says(a.last_text(), "progres.volume_of", pct="50%", volume=68, target=136, unit="m")
    await a.tap("Simpan")
    assert [r.percent for r in await _reports(world, "drain")] == [50.0]
    assert await _reports(world, "road") == []
    await a.text("/progres 40")  # two activities: the figure waits for the choice
    await a.tap("Rabat beton")
    assert says(a.last_text(), "progres.ask_photo_required", milestone=0)


async def test_bad_amounts_keep_the_draft(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/progres drainase")
    cases: list[tuple[str, str, dict[str, object]]] = [
        ("empat puluh", "progres.bad.not_a_number", {"text": "empat puluh"}),
        ("150%", "progres.bad.over_100", {}),
        ("-5", "progres.bad.negative", {}),
        ("200 m", "progres.bad.over_target", {"volume": 200, "target": 136, "unit": "m"}),
        ("5 kg", "progres.bad.wrong_unit", {"unit": "m"}),
    ]
    for text, key, figures in cases:
        await ch.text(text)
        assert says(ch.last_text(), key, **figures), (text, ch.last_text())
        conv = await _state(world, "ketua-a")
        assert conv.state == "jumlah" and conv.data["activity_id"] == world.program["drain"]
    await ch.photo(jpeg(5))
    assert says(ch.last_text(), "progres.bad.kind", kind=catalogue.t("input.kind.photo"))
    await ch.location(-7.26, 110.41)
    assert says(ch.last_text(), "progres.bad.kind", kind=catalogue.t("input.kind.location"))
    assert (await _state(world, "ketua-a")).state == "jumlah"
    await ch.text("10")
    assert says(ch.last_text(), "progres.ask_photo_required", milestone=0)
    assert await _reports(world, "drain") == []


async def test_backwards_asks_yakin_and_can_change(world: World) -> None:
    await _seed(world, "road", 1, 60)
    await _seed(world, "road", 3, 55)
    ch = world.channel("ketua-a")
    await ch.text("/progres ACT-BJL-01 50")
    assert says(ch.last_text(), "progres.doubt.backwards", new="50%", previous="60%")
    await ch.tap("Ubah angka")
    assert (await _state(world, "ketua-a")).state == "jumlah"
    await ch.text("65")
    assert "progres.ask_photo_optional" in keys_in(ch.last_text())  # 60 -> 65 crosses no milestone
    await ch.tap("Lewati")
    assert says(ch.last_text(), "progres.summary_body", photo=catalogue.t("progres.photo_no"))
    await ch.tap("Simpan")
    assert [r.percent for r in await _reports(world, "road")][-1] == 65
    await ch.text("/progres ACT-BJL-01 58")  # a correction that goes below yesterday, confirmed
    await ch.tap("Ya")
    await ch.tap("Lewati")
    assert says(ch.last_text(), "progres.replaces", pct="65%")
    await ch.tap("Simpan")
    rows = await _reports(world, "road")
    assert (rows[-1].percent, rows[-1].revision) == (58, 2)


async def test_big_jump_asks_yakin(world: World) -> None:
    await _seed(world, "road", 1, 10)
    ch = world.channel("ketua-a")
    await ch.text("/progres ACT-BJL-01 45")
    assert says(ch.last_text(), "progres.doubt.jump", jump=35, previous="10%", new="45%")
    await ch.text("hmm")
    assert "progres.confirm_hint" in keys_in(ch.last_text())
    await ch.text("ya")
    assert "progres.ask_photo_optional" in keys_in(ch.last_text())
    await ch.tap("Lewati")
    await ch.tap("Simpan")
    assert [r.percent for r in await _reports(world, "road")] == [10, 45]


async def test_correction_writes_audit_and_revision(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/progres 30")
    await ch.photo(jpeg(6))
    await ch.tap("Simpan")
    await ch.text("/progres 35")
    assert "progres.ask_photo_optional" in keys_in(ch.last_text())  # the 0% photo is already there
    await ch.tap("Lewati")
    assert says(ch.last_text(), "progres.replaces", pct="30%", revision=1)
    await ch.tap("Simpan")
    assert says(ch.last_text(), "progres.saved", revision=catalogue.t("progres.saved_revision", n=2))
    [row] = await _reports(world, "mck")
    assert (row.percent, row.revision) == (35, 2)
    async with world.db.session() as s:
        [audit] = (await s.execute(select(AuditLog).where(AuditLog.entity == "progress_report"))).scalars()
    assert audit.old["percent"] == 30 and audit.actor_id == world.program["ketua-b"]


async def test_photo_errors_not_image_and_too_large(world: World) -> None:
    world.engine.settings.media.max_bytes = 4096
    ch = world.channel("ketua-b")
    await ch.text("/progres 20")
    await ch.document(b"%PDF-1.4 not an image", "laporan.pdf", "application/pdf")
    assert "progres.photo_not_image" in keys_in(ch.last_text())
    await ch.photo(jpeg(7, size=(800, 600)) + b"\0" * 5000)
    assert says(ch.last_text(), "progres.photo_too_large", limit="4 KB")
    assert (await _state(world, "ketua-b")).state == "foto"
    await ch.photo(jpeg(8))
    await ch.tap("Simpan")
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(Media.id)))).scalar_one() == 1
    assert len(await _reports(world, "mck")) == 1


async def test_restart_between_amount_and_photo(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/progres")
    await ch.tap("Saluran drainase")
    await ch.text("34 m")
    assert says(ch.last_text(), "progres.ask_photo_required", milestone=0)
    world.restart()
    ch2 = world.channel("ketua-a")
    await ch2.photo(jpeg(9))
    assert says(ch2.last_text(), "progres.volume_of", pct="25%", volume=34, target=136, unit="m")
    await ch2.tap("Simpan")
    [row] = await _reports(world, "drain")
    assert (row.percent, row.volume) == (25.0, 34.0)


async def test_duplicate_save_message_stores_once(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/progres 12")
    await ch.photo(jpeg(10))
    first = await ch.text("simpan", message_id="dup-simpan")
    again = await ch.resend("dup-simpan", "simpan")
    assert first and again == []
    assert len(await _reports(world, "mck")) == 1
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(Media.id)))).scalar_one() == 1


async def test_roles_and_other_ksm_refused_with_reason(world: World) -> None:
    worker = world.channel("pekerja-a")
    await worker.text("/progres 40")
    assert says(worker.last_text(), "engine.not_allowed", role=catalogue.t("role.worker"))
    askot = world.channel("askot")
    await askot.text("/progres")
    assert says(askot.last_text(), "engine.not_allowed", role=catalogue.t("role.askot"))
    ketua = world.channel("ketua-a")
    await ketua.text("/progres ACT-BJL-03 50")
    other = {"code": "ACT-BJL-03", "owner": "KSM Bejalen Guyub", "ksm": "KSM Bejalen Makmur"}
    assert says(ketua.all_text(), "progres.other_ksm_activity", **other)
    typed = await ketua.text("ACT-BJL-03")  # typed at the activity step too
    assert any(says(o.text, "progres.other_ksm_activity", **other) for o in typed)
    assert (await _state(world, "ketua-a")).state == "pilih_kegiatan"
    assert await _reports(world, "mck") == []


async def test_facilitator_reports_for_chosen_ksm(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/progres 55")
    assert "flow.choose_ksm" in keys_in(ch.last_text())
    await ch.tap("KSM Bejalen Guyub")
    assert says(ch.last_text(), "progres.ask_photo_required", milestone=50)
    await ch.photo(jpeg(11))
    await ch.tap("Simpan")
    [row] = await _reports(world, "mck")
    assert row.percent == 55 and row.entered_by_id == world.program["fasil"]


async def test_critical_status_and_english(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/progres 5")
    await ch.photo(jpeg(12))
    await ch.tap("Simpan")
    assert "progres.status.kritis" in keys_in(ch.last_text())
    [saved] = fills(ch.last_text(), "progres.saved")
    assert saved["deviation"].startswith("−")
    en = world.channel("ketua-a")
    await en.text("/bahasa en")
    await en.text("/progress rabat 45.5")
    assert says(en.last_text(), "progres.ask_photo_required", "en", milestone=0)
    await en.photo(jpeg(13))
    assert says(en.last_text(), "progres.summary_body", "en", new="45.5%")
    assert "November 26, 2026" in en.last_text()
    await en.tap("Save")
    assert {"progres.saved", "progres.status.lebih_cepat"} <= keys_in(en.last_text(), "en")


async def test_wita_site_reports_on_its_local_date(world: World) -> None:
    world.clock.advance(hours=7, minutes=30)  # 23:30 WIB Thursday = 00:30 WITA Friday
    ch = world.channel("ketua-m")
    await ch.text("/progres 10")
    await ch.photo(jpeg(14))
    assert "27 November 2026" in ch.last_text()
    await ch.tap("Simpan")
    [row] = await _reports(world, "cart")
    assert row.report_date == TODAY + timedelta(days=1)
