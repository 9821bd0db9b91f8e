"""/hadir end to end: roster checklist, count mode, quick forms, dates, corrections, scope, bad input."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from kotaku import catalogue
from kotaku.models import (
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    AuditLog,
    Channel,
    ConversationState,
    Gender,
    Skill,
    Worker,
)
from tests.catalogue_keys import keys_in, says
from tests.channel import TestChannel
from tests.e2e.conftest import World
from tests.factories import WORKER_NAMES, nik_for

TODAY = date(2026, 11, 26)
PHOTO = b"\xff\xd8\xff\xe0not-really-a-jpeg"
# ksm_a: 12 pekerja at Rp85.000 and 3 tukang at Rp120.000.
KSM_A_WAGES = 12 * 85_000 + 3 * 120_000


async def _days(world: World, ksm: str) -> list[AttendanceDay]:
    async with world.db.session() as s:
        stmt = select(AttendanceDay).where(AttendanceDay.ksm_id == world.program[ksm])
        return list((await s.execute(stmt.order_by(AttendanceDay.work_date))).scalars())


async def _records(world: World, day_id: int) -> list[AttendanceRecord]:
    async with world.db.session() as s:
        stmt = select(AttendanceRecord).where(AttendanceRecord.attendance_day_id == day_id)
        return list((await s.execute(stmt)).scalars())


async def _audits(world: World) -> list[AuditLog]:
    async with world.db.session() as s:
        stmt = select(AuditLog).where(AuditLog.entity == "attendance_day").order_by(AuditLog.id)
        return list((await s.execute(stmt)).scalars())


async def _workers(world: World, ksm: str) -> dict[str, Worker]:
    async with world.db.session() as s:
        stmt = select(Worker).where(Worker.ksm_id == world.program[ksm])
        return {w.name: w for w in (await s.execute(stmt)).scalars()}


async def _state(world: World, user: str) -> str | None:
    async with world.db.session() as s:
        stmt = select(ConversationState.state).where(ConversationState.user_id == user)
        return (await s.execute(stmt)).scalar_one_or_none()


def _ticked(ch: TestChannel) -> list[str]:
    return [c.label[2:] for c in ch.last_choices() if c.value.startswith("t:") and c.label.startswith("✅")]


# --- the main paths and their cost in taps ---------------------------------------------------------


async def test_all_present_by_buttons_15_workers(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    assert "hadir.ask_date" in keys_in(ch.last_text())
    assert [c.label for c in ch.last_choices()] == [
        catalogue.t("hadir.today", day="Kamis, 26 Nov"),
        catalogue.t("hadir.yesterday", day="Rabu, 25 Nov"),
    ]
    await ch.tap("Hari ini")
    first = ch.last()
    assert first.edit_key == "hadir-roster"
    page = catalogue.t("hadir.page", page=1, pages=2)
    assert says(first.text, "hadir.checklist", n=0, total=15, page=page)
    assert len([c for c in first.choices if c.value.startswith("t:")]) == 10
    await ch.tap("Semua hadir")
    assert ch.last().edit_key == "hadir-roster"
    assert says(ch.last_text(), "hadir.checklist", n=15, total=15)
    await ch.tap("Selesai")
    summary = ch.last_text()  # the confirmation at once: the save buttons say paid or not
    assert [c.value for c in ch.last_choices()][:2] == ["save:1", "save:0"]
    assert "Kamis, 26 November 2026" in summary
    assert says(summary, "hadir.line_workers", n=15, male=9, female=6)
    skills = f"{catalogue.t('hadir.skill.pekerja')} 12, {catalogue.t('hadir.skill.tukang')} 3"
    assert says(summary, "hadir.line_skills", skills=skills)
    assert says(summary, "hadir.line_hok", hok=15)
    assert says(summary, "hadir.line_wages_due", wages="Rp1.380.000")
    await ch.tap("Simpan · sudah")
    assert says(ch.last_text(), "hadir.saved", n=15)
    print(
        f"\n[tap count] /hadir by buttons, 15 workers all present: {ch.taps} taps, {ch.messages_sent} message"
    )
    assert ch.taps <= 6 and ch.messages_sent == 1

    [day] = await _days(world, "ksm_a")
    assert day.work_date == TODAY and day.mode == AttendanceMode.ROSTER
    assert (day.count_male, day.count_female, day.hok) == (9, 6, 15.0)
    assert day.total_wages == KSM_A_WAGES == 1_380_000 and day.wages_paid
    assert day.entered_by_id == world.program["ketua-a"] and day.channel == Channel.TEST
    assert day.revision == 1 and day.late_reason is None
    records = await _records(world, day.id)
    assert len(records) == 15
    assert all(r.paid and r.hok == 1.0 and r.nik_hash and r.work_date == TODAY for r in records)
    assert {r.ksm_id for r in records} == {world.program["ksm_a"]}
    assert sum(r.wage for r in records) == KSM_A_WAGES
    assert await _audits(world) == []
    assert await _state(world, "ketua-a") is None


async def test_quick_semua_is_one_message_and_one_tap(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir semua")
    assert says(ch.last_text(), "hadir.line_workers", n=15)
    assert says(ch.last_text(), "hadir.line_wages_due", wages="Rp1.380.000")
    await ch.tap("Simpan · belum")
    print(f"\n[tap count] /hadir semua, 15 workers: {ch.taps} tap, {ch.messages_sent} message")
    assert (ch.taps, ch.messages_sent) == (1, 1)
    [day] = await _days(world, "ksm_a")
    assert len(await _records(world, day.id)) == 15 and not day.wages_paid


async def test_quick_names_tolerant(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir budi, SARY, Jokoo dan slamet riyadi")
    assert says(ch.last_text(), "hadir.line_workers", n=4, male=3, female=1)
    await ch.tap("Simpan · sudah")
    [day] = await _days(world, "ksm_a")
    workers = await _workers(world, "ksm_a")
    ids = {r.worker_id for r in await _records(world, day.id)}
    expected = {"Budi Santoso", "Sari Wulandari", "Joko Susilo", "Slamet Riyadi"}
    assert ids == {workers[n].id for n in expected}
    assert day.total_wages == 2 * 120_000 + 2 * 85_000 and day.wages_paid


async def test_quick_names_ambiguous_and_unknown(world: World) -> None:
    async with world.db.transaction() as s:
        enc, h = world.vault.protect(nik_for(77))
        s.add(
            Worker(
                ksm_id=world.program["ksm_a"],
                name="Budi Hartono",
                gender=Gender.L,
                skill=Skill.PEKERJA,
                nik_encrypted=enc,
                nik_hash=h,
                daily_rate=90_000,
            )
        )
    ch = world.channel("ketua-a")
    await ch.text("/hadir Budi, Xavier, Sari")
    assert says(ch.last_text(), "hadir.ambiguous", query="Budi")
    assert {c.label for c in ch.last_choices()} >= {"Budi Hartono", "Budi Santoso"}
    await ch.tap("Budi Hartono")
    assert says(ch.last_text(), "hadir.unknown_name", query="Xavier", ksm="KSM Bejalen Makmur")
    await ch.text("Zzzz")  # still unknown: asked again, nothing lost
    assert says(ch.last_text(), "hadir.unknown_name", query="Zzzz")
    await ch.tap("Lewati")
    assert says(ch.last_text(), "hadir.line_workers", n=2)
    await ch.tap("Simpan")
    [day] = await _days(world, "ksm_a")
    workers = await _workers(world, "ksm_a")
    assert {r.worker_id for r in await _records(world, day.id)} == {
        workers["Budi Hartono"].id,
        workers["Sari Wulandari"].id,
    }
    assert day.total_wages == 90_000 + 85_000


async def test_roster_ksm_number_opens_checklist(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir 12")
    assert says(ch.last_text(), "hadir.target", n=12)
    assert ch.last().edit_key == "hadir-roster"
    assert await _state(world, "ketua-a") == "daftar"


# --- count mode --------------------------------------------------------------------------------------


async def test_count_quick_18l_5p(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir 18L 5P")
    text = ch.last_text()
    assert says(text, "hadir.line_workers", n=23, male=18, female=5)
    assert says(text, "hadir.line_hok", hok=23) and "Rp1.955.000" in text
    await ch.tap("Simpan")
    print(f"\n[tap count] /hadir 18L 5P (count mode): {ch.taps} tap, {ch.messages_sent} message")
    [day] = await _days(world, "ksm_b")
    assert day.mode == AttendanceMode.COUNT
    assert (day.count_male, day.count_female, day.hok, day.total_wages) == (18, 5, 23.0, 1_955_000)
    assert await _records(world, day.id) == []


async def test_count_by_buttons_split_by_one_tap_and_typed(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    assert "hadir.ask_count" in keys_in(ch.last_text())
    await ch.text("23")
    assert says(ch.last_text(), "hadir.ask_split", n=23)
    await ch.text("lewati")  # never stored as men unasked: the split is asked again, with its reason
    assert "hadir.split_needed" in keys_in(ch.last_text()) and await _state(world, "ketua-b") == "rincian_lp"
    await ch.tap("Semua laki-laki")
    await ch.tap("Rp90.000 per orang")
    assert says(ch.last_text(), "hadir.line_workers", n=23, male=23, female=0)
    await ch.tap("Simpan · sudah")
    [day] = await _days(world, "ksm_b")
    assert (day.count_male, day.count_female, day.total_wages, day.wages_paid) == (23, 0, 2_070_000, True)

    await ch.text("/hadir")
    await ch.tap("Kemarin")
    await ch.text("23")
    await ch.text("5 P")  # the rest are men
    await ch.text("total 2.000.000")
    assert says(ch.last_text(), "hadir.line_workers", n=23, male=18, female=5)
    assert "Rp2.000.000" in ch.last_text()
    await ch.tap("Simpan · belum")
    days = await _days(world, "ksm_b")
    assert [d.work_date for d in days] == [date(2026, 11, 25), TODAY]
    assert (days[0].count_male, days[0].count_female, days[0].total_wages) == (18, 5, 2_000_000)
    assert not days[0].wages_paid and days[0].late_reason is None


async def test_count_bad_inputs_keep_the_step(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    for bad, key in [
        ("dua puluh", "hadir.count_format"),
        ("-5", "hadir.count_negative"),
        ("1500 L", "hadir.too_many"),
        ("150 L 400 P", "hadir.too_many"),
        ("18 L -5 P", "hadir.count_negative"),
    ]:
        await ch.text(bad)
        assert key in keys_in(ch.last_text()), bad
        assert await _state(world, "ketua-b") == "jumlah"
    await ch.photo(PHOTO)
    photo = catalogue.t("input.kind.photo")
    assert says(ch.last_text(), "hadir.wrong_kind", kind=photo, help=catalogue.t("hadir.help.jumlah"))
    assert await _state(world, "ketua-b") == "jumlah"
    await ch.text("18 L 5 P")
    await ch.text("delapan puluh ribu")
    assert "hadir.bad_amount" in keys_in(ch.last_text())
    await ch.text("-85000")
    assert "hadir.bad_rate" in keys_in(ch.last_text())
    assert await _state(world, "ketua-b") == "upah"
    await ch.text("Rp 80.000")
    await ch.text("hmm")
    assert (
        "hadir.help.konfirmasi" in keys_in(ch.last_text()) and await _state(world, "ketua-b") == "konfirmasi"
    )
    await ch.text("belum dibayar")
    [day] = await _days(world, "ksm_b")
    assert (day.count_male, day.count_female, day.total_wages) == (18, 5, 23 * 80_000)
    assert await _audits(world) == []


# --- dates ---------------------------------------------------------------------------------------------


async def test_future_date_refused_and_week_old_needs_reason(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.text("27/11/2026")
    assert "hadir.future_date" in keys_in(ch.last_text())
    await ch.text("31/02")
    assert "hadir.bad_date" in keys_in(ch.last_text())
    assert await _state(world, "ketua-a") == "tanggal"
    await ch.text("19/11")
    assert "hadir.ask_reason" in keys_in(ch.last_text())
    await ch.text("ok")
    assert "hadir.short_reason" in keys_in(ch.last_text())
    await ch.photo(PHOTO)
    assert says(ch.last_text(), "hadir.wrong_kind", kind=catalogue.t("input.kind.photo"))
    assert await _state(world, "ketua-a") == "alasan_terlambat"
    await ch.text("Sinyal hilang seminggu di lokasi")
    assert "Kamis, 19 November 2026" in ch.last_text()
    await ch.tap("Semua hadir")
    await ch.tap("Selesai")
    assert says(ch.last_text(), "hadir.line_late", reason="Sinyal hilang seminggu di lokasi")
    await ch.tap("Simpan · belum")
    [day] = await _days(world, "ksm_a")
    assert day.work_date == date(2026, 11, 19) and day.late_reason == "Sinyal hilang seminggu di lokasi"


async def test_local_date_in_wita(world: World) -> None:
    world.clock.advance(hours=7, minutes=30)  # 16:30 UTC: 23:30 in Java, already Friday in Makassar
    ch = world.channel("ketua-m")
    await ch.text("/hadir 4L 2P")
    assert "Jumat, 27 November 2026" in ch.last_text()
    await ch.tap("Simpan")
    [day] = await _days(world, "ksm_m")
    assert day.work_date == date(2026, 11, 27) and day.count_male + day.count_female == 6


# --- corrections, duplicates, restart ------------------------------------------------------------------


async def test_second_sheet_is_audited_correction_and_resend_changes_nothing(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir 20")
    await ch.tap("Semua laki-laki")
    await ch.tap("Simpan")
    await ch.text("/hadir 18L 5P")
    assert says(ch.last_text(), "hadir.exists", revision=1, workers=20)
    await ch.tap("Ganti")
    assert says(ch.last_text(), "hadir.line_correction", revision=1)
    await ch.tap("Simpan", message_id="save-correction")
    assert says(ch.last_text(), "hadir.saved_correction", revision=2)
    assert await ch.resend("save-correction", "save") == []

    [day] = await _days(world, "ksm_b")
    assert (day.revision, day.count_male, day.count_female, day.total_wages) == (2, 18, 5, 1_955_000)
    [audit] = await _audits(world)
    assert audit.action == "attendance_corrected" and audit.entity_id == day.id
    assert audit.actor_id == world.program["ketua-b"]
    assert audit.old is not None
    assert (audit.old["workers"], audit.old["hok"], audit.old["total_wages"]) == (20, 20.0, 1_700_000)
    assert audit.old["revision"] == 1


async def test_roster_correction_starts_from_saved_ticks(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir semua")
    await ch.tap("Simpan")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    assert "hadir.exists" in keys_in(ch.last_text())
    await ch.tap("Ganti")
    assert says(ch.last_text(), "hadir.checklist", n=15, total=15)
    await ch.tap("✅ Budi Santoso")
    assert says(ch.last_text(), "hadir.checklist", n=14, total=15)
    assert "⬜ Budi Santoso" in [c.label for c in ch.last_choices()]
    await ch.tap("Selesai")
    await ch.tap("Simpan", message_id="fix-1")
    await ch.resend("fix-1", "save")
    [day] = await _days(world, "ksm_a")
    assert day.revision == 2 and len(await _records(world, day.id)) == 14
    assert day.total_wages == KSM_A_WAGES - 120_000
    [audit] = await _audits(world)
    assert audit.old is not None and audit.old["workers"] == 15 and len(audit.old["worker_ids"]) == 15


async def test_restart_keeps_ticks_and_photo_keeps_checklist(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    for name in ("Budi Santoso", "Dewi Lestari", "Agus Salim"):
        await ch.tap(f"⬜ {name}")
    world.restart()
    ch2 = world.channel("ketua-a")
    await ch2.photo(PHOTO)
    hint, checklist = ch2.outbox[-2:]
    photo, help_ = catalogue.t("input.kind.photo"), catalogue.t("hadir.help.daftar")
    assert says(hint.text, "hadir.wrong_kind", kind=photo, help=help_)
    assert checklist.edit_key == "hadir-roster" and says(checklist.text, "hadir.checklist", n=3, total=15)
    assert set(_ticked(ch2)) == {"Agus Salim", "Budi Santoso", "Dewi Lestari"}
    await ch2.text("Dewi")  # typing a ticked name keeps it ticked
    assert says(ch2.last_text(), "hadir.checklist", n=3, total=15)
    await ch2.tap("Selesai")
    await ch2.tap("Simpan · belum")
    [day] = await _days(world, "ksm_a")
    workers = await _workers(world, "ksm_a")
    assert {r.worker_id for r in await _records(world, day.id)} == {
        workers[n].id for n in ("Budi Santoso", "Dewi Lestari", "Agus Salim")
    }


async def test_edit_from_confirmation_and_cancel(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir semua")
    await ch.tap("Ubah")
    assert says(ch.last_text(), "hadir.checklist", n=15, total=15)
    await ch.tap("Kosongkan")
    await ch.text("Sari, Siti")
    assert says(ch.last_text(), "hadir.names_ticked", names="Sari Wulandari, Siti Aminah")
    await ch.tap("Selesai")
    assert says(ch.last_text(), "hadir.line_workers", n=2, male=0, female=2)
    await ch.tap("Batal")
    assert "engine.cancelled" in keys_in(ch.last_text())
    await ch.text("/hadir 3")
    await ch.text("/bantuan")
    assert "hadir.help.daftar" in keys_in(ch.last_text()) and await _state(world, "ketua-a") == "daftar"
    await ch.text("batal")
    assert "engine.cancelled" in keys_in(ch.last_text()) and await _state(world, "ketua-a") is None
    assert await _days(world, "ksm_a") == []


# --- roles and scope ---------------------------------------------------------------------------------


async def test_roles_refused_with_reason(world: World) -> None:
    for user, role in (("pekerja-a", "role.worker"), ("askot", "role.askot")):
        ch = world.channel(user)
        await ch.text("/hadir 10")
        assert says(ch.last_text(), "engine.not_allowed", role=catalogue.t(role))
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(AttendanceDay.id)))).scalar_one() == 0


async def test_facilitator_chooses_ksm_and_is_recorded(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/hadir 10")
    assert "flow.choose_ksm" in keys_in(ch.last_text())
    assert {c.label for c in ch.last_choices()} == {
        "KSM Bejalen Makmur",
        "KSM Bejalen Guyub",
        "KSM Tambakboyo Rukun",
    }
    await ch.tap("KSM Bejalen Guyub")
    assert says(ch.last_text(), "hadir.ask_split", n=10)
    await ch.tap("Semua perempuan")
    assert says(ch.last_text(), "hadir.line_workers", n=10, male=0, female=10)
    await ch.tap("Simpan · belum")
    [day] = await _days(world, "ksm_b")
    assert day.entered_by_id == world.program["fasil"]

    ketua = world.channel("ketua-a")
    await ketua.text("/hadir")
    assert "flow.choose_ksm" not in keys_in(ketua.all_text())
    assert "KSM Bejalen Makmur" in ketua.last_text()


async def test_ketua_c_cannot_see_or_tick_ksm_a_workers(world: World) -> None:
    ksm_a_workers = await _workers(world, "ksm_a")
    ch = world.channel("ketua-c")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    labels = [c.label for c in ch.last_choices() if c.value.startswith("t:")]
    assert len(labels) == 5 and all(label.endswith(" Jr") for label in labels)
    await ch.text(f"t:{ksm_a_workers['Agus Salim'].id}")
    assert "hadir.not_on_roster" in keys_in(ch.last_text())
    assert says(ch.last_text(), "hadir.checklist", n=0, total=5)
    await ch.text("/hadir Agus Salim")
    assert says(ch.last_text(), "hadir.unknown_name", query="Agus Salim", ksm="KSM Tambakboyo Rukun")
    assert not any("Agus" in c.label for c in ch.last_choices())
    await ch.text(f"n:{ksm_a_workers['Agus Salim'].id}")
    assert "hadir.not_on_roster" in keys_in(ch.all_text())
    await ch.text("/hadir semua")
    assert says(ch.last_text(), "hadir.line_workers", n=5)
    await ch.tap("Simpan")
    assert await _days(world, "ksm_a") == []
    [day] = await _days(world, "ksm_c")
    assert len(await _records(world, day.id)) == 5


# --- a new worker from the checklist -----------------------------------------------------------------


async def test_new_worker_added_and_ticked(world: World) -> None:
    nik = "3322051201900001"
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.tap("Pekerja baru")
    await ch.text("12345")
    assert "hadir.bad_name" in keys_in(ch.last_text())
    await ch.text("Rudi Hermawan")
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text("12345")
    assert "hadir.bad_nik" in keys_in(ch.last_text())
    await ch.photo(PHOTO)
    photo, help_ = catalogue.t("input.kind.photo"), catalogue.t("hadir.help.nik_baru")
    assert says(ch.last_text(), "hadir.wrong_kind", kind=photo, help=help_)
    await ch.text(nik_for(1))  # Budi Santoso's NIK
    assert says(ch.last_text(), "hadir.duplicate_nik", name="Budi Santoso")
    assert "3322••••••••0001" in ch.last_text()
    await ch.text(nik)
    pekerja = catalogue.t("hadir.skill.pekerja")
    assert says(ch.last_text(), "hadir.ask_rate", rate="Rp85.000", skill=pekerja)
    await ch.text("-5")
    assert "hadir.bad_rate" in keys_in(ch.last_text()) and await _state(world, "ketua-a") == "upah_baru"
    await ch.text("Rp 90.000")
    added = {"name": "Rudi Hermawan", "nik": "3322••••••••0001", "skill": pekerja, "rate": "Rp90.000"}
    assert says(ch.last_text(), "hadir.worker_added", **added)
    assert says(ch.last_text(), "hadir.checklist", n=1, total=16)
    assert all(nik not in o.text and nik_for(1) not in o.text for o in ch.outbox)
    await ch.tap("Selesai")
    await ch.tap("Simpan · belum")

    rudi = (await _workers(world, "ksm_a"))["Rudi Hermawan"]
    assert rudi.daily_rate == 90_000 and rudi.skill == Skill.PEKERJA and rudi.gender == Gender.L
    assert rudi.nik_hash == world.vault.hash(nik) and world.vault.decrypt(rudi.nik_encrypted or b"") == nik
    [day] = await _days(world, "ksm_a")
    [record] = await _records(world, day.id)
    assert record.worker_id == rudi.id and record.wage == 90_000 and record.nik_hash == rudi.nik_hash
    async with world.db.session() as s:
        drafts = (await s.execute(select(ConversationState.data))).scalars().all()
    assert all(nik not in str(d) for d in drafts)


async def test_english(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/bahasa en")
    await ch.text("/attendance 18L 5P")
    assert says(ch.last_text(), "hadir.line_workers", "en", n=23, male=18, female=5)
    assert "Thursday, November 26, 2026" in ch.last_text()
    await ch.tap("Save")
    assert "hadir.saved" in keys_in(ch.last_text(), "en")


# --- the checklist typed in one message (WhatsApp: no edits, at most 10 rows, 3 buttons) ---------------

# The checklist numbers ksm_a's roster by name, 1..15, the same on every page.
ROSTER_A = sorted(name for name, _, _ in WORKER_NAMES)


def _numbered(text: str) -> dict[int, tuple[bool, str]]:
    """The numbered roster in a checklist text: number -> (ticked, name)."""
    return {
        int(m[1]): (m[2] == "✅", m[3]) for m in re.finditer(r"^(\d+)\. (✅|⬜) (.+)$", text, re.MULTILINE)
    }


def _ticked_numbers(text: str) -> set[int]:
    return {n for n, (ticked, _) in _numbered(text).items() if ticked}


def _names(*numbers: int) -> str:
    return ", ".join(ROSTER_A[n - 1] for n in numbers)


async def _open_checklist(ch: TestChannel) -> None:
    await ch.text("/hadir")
    await ch.tap("Hari ini")


async def test_typed_numbers_range_names_untick_and_unknown(world: World) -> None:
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    text = ch.last_text()
    assert "hadir.type_hint" in keys_in(text)
    assert _numbered(text) == {i: (False, name) for i, name in enumerate(ROSTER_A, 1)}

    await ch.text("1 3 7")
    assert says(ch.last_text(), "hadir.names_ticked", names=_names(1, 3, 7))
    assert says(ch.last_text(), "hadir.checklist", n=3, total=15)
    assert ch.last().edit_key == "hadir-roster"
    await ch.text("10 sampai 12")
    assert says(ch.last_text(), "hadir.names_ticked", names=_names(10, 11, 12))
    await ch.text("dewi, eko")
    assert says(ch.last_text(), "hadir.names_ticked", names="Dewi Lestari, Eko Prasetyo")
    assert _ticked_numbers(ch.last_text()) == {1, 3, 4, 5, 7, 10, 11, 12}
    await ch.text("-3 7")
    assert says(ch.last_text(), "hadir.names_unticked", names=_names(3, 7))
    assert says(ch.last_text(), "hadir.checklist", n=6, total=15)

    # Not understood: nothing of the message is applied (not even 2), the ticks stay.
    await ch.text("2 99 xavier")
    text = ch.last_text()
    assert says(text, "hadir.typed_unknown", items="99, xavier", total=15)
    assert "hadir.typed_kept" in keys_in(text) and says(text, "hadir.checklist", n=6, total=15)
    assert _ticked_numbers(text) == {1, 4, 5, 10, 11, 12}
    assert set(_ticked(ch)) == {ROSTER_A[n - 1] for n in (1, 4, 5, 10)}  # the buttons of page 1
    assert await _state(world, "ketua-a") == "daftar"

    await ch.tap("Selesai")
    assert says(ch.last_text(), "hadir.line_workers", n=6, male=4, female=2)
    assert says(ch.last_text(), "hadir.line_hok", hok=6)
    await ch.tap("Simpan · belum")
    [day] = await _days(world, "ksm_a")
    workers = await _workers(world, "ksm_a")
    expected = {ROSTER_A[n - 1] for n in (1, 4, 5, 10, 11, 12)}
    assert expected == {
        "Agus Salim",
        "Dewi Lestari",
        "Eko Prasetyo",
        "Siti Aminah",
        "Slamet Riyadi",
        "Sugeng Raharjo",
    }
    records = await _records(world, day.id)
    assert {r.worker_id for r in records} == {workers[n].id for n in expected}
    assert all(r.hok == 1.0 and r.work_date == TODAY for r in records)
    assert (day.count_male, day.count_female, day.hok) == (4, 2, 6.0)
    assert sum(r.wage for r in records) == day.total_wages == 5 * 85_000 + 120_000
    assert not day.wages_paid


async def test_typed_everyone_but_across_pages_without_a_tap(world: World) -> None:
    """The whole sheet by typing only, as on WhatsApp: numbers are the roster's, not the page's."""
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.text("hari ini")
    await ch.text("semua kecuali 3 7")
    first = ch.last_text()
    assert says(first, "hadir.typed_all_except", names=_names(3, 7))
    assert says(first, "hadir.checklist", n=13, total=15)
    await ch.text("halaman berikut")
    second = ch.last_text()
    assert says(second, "hadir.page", page=2, pages=2)
    assert _numbered(second) == _numbered(first)  # the same numbers on page 2
    assert [c.label[2:] for c in ch.last_choices() if c.value.startswith("t:")] == ROSTER_A[10:]
    await ch.text("-12")  # the roster's 12, not the second button of page 2
    assert says(ch.last_text(), "hadir.names_unticked", names=_names(12))
    await ch.text("12")
    assert says(ch.last_text(), "hadir.names_ticked", names=_names(12))
    assert says(ch.last_text(), "hadir.checklist", n=13, total=15)
    await ch.text("selesai")
    await ch.text("sudah dibayar")  # on the confirmation: saved, wages paid
    assert says(ch.last_text(), "hadir.saved", n=13)
    print(f"\n[tap count] /hadir typed only, 13 of 15 workers: {ch.taps} taps, {ch.messages_sent} messages")
    assert ch.taps == 0 and ch.messages_sent == 8  # 5 without the detour to page 2 and back

    [day] = await _days(world, "ksm_a")
    workers = await _workers(world, "ksm_a")
    absent = {ROSTER_A[2], ROSTER_A[6]}
    assert absent == {"Budi Santoso", "Joko Susilo"}
    records = await _records(world, day.id)
    assert {r.worker_id for r in records} == {w.id for name, w in workers.items() if name not in absent}
    assert len(records) == 13 and day.hok == 13.0 and all(r.paid for r in records)
    assert day.total_wages == KSM_A_WAGES - 120_000 - 85_000 and day.wages_paid


async def test_typed_all_clear_and_untick_words(world: World) -> None:
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    steps = [
        ("semua", "hadir.typed_all", {"n": 15}, 15),
        ("semua kecuali agus", "hadir.typed_all_except", {"names": "Agus Salim"}, 14),
        ("batal centang 2", "hadir.names_unticked", {"names": _names(2)}, 13),
        ("hapus budi", "hadir.names_unticked", {"names": "Budi Santoso"}, 12),
        ("hapus 2", "hadir.typed_no_change", {}, 12),
        ("agus", "hadir.names_ticked", {"names": "Agus Salim"}, 13),
        ("Agus Salim", "hadir.typed_no_change", {}, 13),  # a typed full name ticks, never toggles
        ("tidak ada", "hadir.typed_none", {}, 0),
        ("1-3", "hadir.names_ticked", {"names": _names(1, 2, 3)}, 3),
        ("kosong", "hadir.typed_none", {}, 0),
    ]
    for typed, key, figures, n in steps:
        await ch.text(typed)
        assert says(ch.last_text(), key, **figures), typed
        assert says(ch.last_text(), "hadir.checklist", n=n, total=15), typed
    await ch.text("???")
    assert "hadir.help.daftar" in keys_in(ch.last_text())
    # The buttons still work as before, without a line about typing.
    await ch.tap("Semua hadir")
    assert says(ch.last_text(), "hadir.checklist", n=15, total=15)
    assert "hadir.typed_all" not in keys_in(ch.last_text())
    await ch.tap("✅ Agus Salim")
    assert says(ch.last_text(), "hadir.checklist", n=14, total=15)
    assert not {"hadir.names_unticked", "hadir.typed_no_change"} & keys_in(ch.last_text())


async def test_typed_ambiguous_name_lists_numbers(world: World) -> None:
    async with world.db.transaction() as s:
        enc, h = world.vault.protect(nik_for(77))
        s.add(
            Worker(
                ksm_id=world.program["ksm_a"],
                name="Budi Hartono",
                gender=Gender.L,
                skill=Skill.PEKERJA,
                nik_encrypted=enc,
                nik_hash=h,
                daily_rate=90_000,
            )
        )
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    assert _numbered(ch.last_text())[3] == (False, "Budi Hartono")
    await ch.text("1, budi")
    text = ch.last_text()
    assert says(text, "hadir.typed_ambiguous", query="budi", options="Budi Hartono (3), Budi Santoso (4)")
    assert says(text, "hadir.checklist", n=0, total=16)
    await ch.text("1 4")
    assert says(ch.last_text(), "hadir.names_ticked", names="Agus Salim, Budi Santoso")


async def test_typed_numbers_refused_when_the_roster_changed(world: World) -> None:
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    assert _numbered(ch.last_text())[1] == (False, "Agus Salim")
    async with world.db.transaction() as s:  # added meanwhile (another phone, the importer)
        enc, h = world.vault.protect(nik_for(78))
        s.add(
            Worker(
                ksm_id=world.program["ksm_a"],
                name="Aang Kurnia",
                gender=Gender.L,
                skill=Skill.PEKERJA,
                nik_encrypted=enc,
                nik_hash=h,
                daily_rate=85_000,
            )
        )
    await ch.text("1")
    text = ch.last_text()
    assert "hadir.list_changed" in keys_in(text) and says(text, "hadir.checklist", n=0, total=16)
    assert _numbered(text)[1] == (False, "Aang Kurnia") and _numbered(text)[2] == (False, "Agus Salim")
    await ch.text("2")  # against the numbering now shown
    assert says(ch.last_text(), "hadir.names_ticked", names="Agus Salim")


async def test_typed_checklist_in_english(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/bahasa en")
    await ch.text("/attendance")
    await ch.tap("Today")
    assert "hadir.type_hint" in keys_in(ch.last_text(), "en")
    await ch.text("all except 3 7")
    assert says(ch.last_text(), "hadir.typed_all_except", "en", names=_names(3, 7))
    await ch.text("3 99")
    assert says(ch.last_text(), "hadir.typed_unknown", "en", items="99", total=15)
    assert says(ch.last_text(), "hadir.checklist", "en", n=13, total=15)
    await ch.text("done")
    await ch.tap("Save · not paid")
    [day] = await _days(world, "ksm_a")
    assert len(await _records(world, day.id)) == 13 and day.hok == 13.0
