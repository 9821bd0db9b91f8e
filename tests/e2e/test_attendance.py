"""/hadir end to end: roster checklist, count mode, quick forms, dates, corrections, scope, bad input."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tests.channel import TestChannel
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
from tests.e2e.conftest import World
from tests.factories import nik_for

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
    assert "untuk tanggal berapa" in ch.last_text()
    assert [c.label for c in ch.last_choices()] == ["Hari ini (Kamis, 26 Nov)", "Kemarin (Rabu, 25 Nov)"]
    await ch.tap("Hari ini")
    first = ch.last()
    assert first.edit_key == "hadir-roster"
    assert "✅ 0 dari 15 orang" in first.text and "hal. 1/2" in first.text
    assert len([c for c in first.choices if c.value.startswith("t:")]) == 10
    await ch.tap("Semua hadir")
    assert ch.last().edit_key == "hadir-roster"
    assert "✅ 15 dari 15" in ch.last_text()
    await ch.tap("Selesai")
    assert "Rp1.380.000" in ch.last_text() and "Sudah dibayar?" in ch.last_text()
    await ch.tap("Ya, sudah")
    summary = ch.last_text()
    assert "Kamis, 26 November 2026" in summary
    assert "Hadir: 15 orang (L 9, P 6)" in summary
    assert "pekerja 12, tukang 3" in summary
    assert "HOK: 15" in summary and "Rp1.380.000 — sudah dibayar" in summary
    await ch.tap("Simpan")
    assert "tersimpan" in ch.last_text() and "15 orang" in ch.last_text()
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
    assert "Hadir: 15 orang" in ch.last_text() and "belum dibayar" in ch.last_text()
    await ch.tap("Simpan")
    print(f"\n[tap count] /hadir semua, 15 workers: {ch.taps} tap, {ch.messages_sent} message")
    assert (ch.taps, ch.messages_sent) == (1, 1)
    [day] = await _days(world, "ksm_a")
    assert len(await _records(world, day.id)) == 15 and not day.wages_paid


async def test_quick_names_tolerant(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir budi, SARY, Jokoo dan slamet riyadi")
    assert "Hadir: 4 orang (L 3, P 1)" in ch.last_text()
    await ch.tap("Tandai sudah dibayar")
    assert "sudah dibayar" in ch.last_text()
    await ch.tap("Simpan")
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
    assert "'Budi' bisa berarti" in ch.last_text()
    assert {c.label for c in ch.last_choices()} >= {"Budi Hartono", "Budi Santoso"}
    await ch.tap("Budi Hartono")
    assert "'Xavier' tidak ada di daftar pekerja KSM Bejalen Makmur" in ch.last_text()
    await ch.text("Zzzz")  # still unknown: asked again, nothing lost
    assert "'Zzzz' tidak ada" in ch.last_text()
    await ch.tap("Lewati")
    assert "Hadir: 2 orang" in ch.last_text()
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
    assert "Anda menyebut 12 orang" in ch.last_text()
    assert ch.last().edit_key == "hadir-roster"
    assert await _state(world, "ketua-a") == "daftar"


# --- count mode --------------------------------------------------------------------------------------


async def test_count_quick_18l_5p(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir 18L 5P")
    text = ch.last_text()
    assert "Hadir: 23 orang (L 18, P 5)" in text and "HOK: 23" in text and "Rp1.955.000" in text
    await ch.tap("Simpan")
    print(f"\n[tap count] /hadir 18L 5P (count mode): {ch.taps} tap, {ch.messages_sent} message")
    [day] = await _days(world, "ksm_b")
    assert day.mode == AttendanceMode.COUNT
    assert (day.count_male, day.count_female, day.hok, day.total_wages) == (18, 5, 23.0, 1_955_000)
    assert await _records(world, day.id) == []


async def test_count_by_buttons_split_skipped_and_given(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    assert "Berapa pekerja hadir?" in ch.last_text()
    await ch.text("23")
    assert "Berapa laki-laki dan perempuan" in ch.last_text()
    await ch.tap("Lewati")
    await ch.tap("Rp90.000 per orang")
    await ch.tap("Ya, sudah")
    assert "semua dicatat sebagai laki-laki" in ch.last_text()
    await ch.tap("Simpan")
    [day] = await _days(world, "ksm_b")
    assert (day.count_male, day.count_female, day.total_wages, day.wages_paid) == (23, 0, 2_070_000, True)

    await ch.text("/hadir")
    await ch.tap("Kemarin")
    await ch.text("23")
    await ch.text("5 P")  # the rest are men
    await ch.text("total 2.000.000")
    await ch.tap("Belum")
    assert "Hadir: 23 orang (L 18, P 5)" in ch.last_text() and "Rp2.000.000" in ch.last_text()
    await ch.tap("Simpan")
    days = await _days(world, "ksm_b")
    assert [d.work_date for d in days] == [date(2026, 11, 25), TODAY]
    assert (days[0].count_male, days[0].count_female, days[0].total_wages) == (18, 5, 2_000_000)
    assert not days[0].wages_paid and days[0].late_reason is None


async def test_count_bad_inputs_keep_the_step(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    for bad, hint in [
        ("dua puluh", "tidak terbaca"),
        ("-5", "tidak boleh negatif"),
        ("1500 L", "terlalu banyak"),
        ("150 L 400 P", "terlalu banyak"),
        ("18 L -5 P", "tidak boleh negatif"),
    ]:
        await ch.text(bad)
        assert hint in ch.last_text(), bad
        assert await _state(world, "ketua-b") == "jumlah"
    await ch.photo(PHOTO)
    assert "Itu foto" in ch.last_text() and "18 L 5 P" in ch.last_text()
    assert await _state(world, "ketua-b") == "jumlah"
    await ch.text("18 L 5 P")
    await ch.text("delapan puluh ribu")
    assert "tidak terbaca" in ch.last_text()
    await ch.text("-85000")
    assert "lebih dari Rp0" in ch.last_text()
    assert await _state(world, "ketua-b") == "upah"
    await ch.text("Rp 80.000")
    await ch.text("hmm")
    assert "Ya" in ch.last_text() and await _state(world, "ketua-b") == "dibayar"
    await ch.text("belum")
    await ch.tap("Simpan")
    [day] = await _days(world, "ksm_b")
    assert (day.count_male, day.count_female, day.total_wages) == (18, 5, 23 * 80_000)
    assert await _audits(world) == []


# --- dates ---------------------------------------------------------------------------------------------


async def test_future_date_refused_and_week_old_needs_reason(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.text("27/11/2026")
    assert "belum terjadi" in ch.last_text()
    await ch.text("31/02")
    assert "tidak terbaca" in ch.last_text()
    assert await _state(world, "ketua-a") == "tanggal"
    await ch.text("19/11")
    assert "Mengapa" in ch.last_text()
    await ch.text("ok")
    assert "terlalu singkat" in ch.last_text()
    await ch.photo(PHOTO)
    assert "Itu foto" in ch.last_text() and await _state(world, "ketua-a") == "alasan_terlambat"
    await ch.text("Sinyal hilang seminggu di lokasi")
    assert "Kamis, 19 November 2026" in ch.last_text()
    await ch.tap("Semua hadir")
    await ch.tap("Selesai")
    await ch.tap("Belum")
    assert "Alasan terlambat: Sinyal hilang" in ch.last_text()
    await ch.tap("Simpan")
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
    await ch.tap("Simpan")
    await ch.text("/hadir 18L 5P")
    assert "sudah ada (revisi 1): 20 orang" in ch.last_text()
    await ch.tap("Ganti")
    assert "Koreksi: menggantikan daftar hadir revisi 1" in ch.last_text()
    await ch.tap("Simpan", message_id="save-correction")
    assert "Koreksi tersimpan (revisi 2)" in ch.last_text()
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
    assert "sudah ada" in ch.last_text()
    await ch.tap("Ganti")
    assert "✅ 15 dari 15" in ch.last_text()
    await ch.tap("✅ Budi Santoso")
    assert "✅ 14 dari 15" in ch.last_text() and "⬜ Budi Santoso" in [c.label for c in ch.last_choices()]
    await ch.tap("Selesai")
    await ch.tap("Belum")
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
    assert "Itu foto" in hint.text and "Ketuk nama" in hint.text
    assert checklist.edit_key == "hadir-roster" and "✅ 3 dari 15" in checklist.text
    assert set(_ticked(ch2)) == {"Agus Salim", "Budi Santoso", "Dewi Lestari"}
    await ch2.text("Dewi")  # typing a ticked name keeps it ticked
    assert "✅ 3 dari 15" in ch2.last_text()
    await ch2.tap("Selesai")
    await ch2.tap("Belum")
    await ch2.tap("Simpan")
    [day] = await _days(world, "ksm_a")
    workers = await _workers(world, "ksm_a")
    assert {r.worker_id for r in await _records(world, day.id)} == {
        workers[n].id for n in ("Budi Santoso", "Dewi Lestari", "Agus Salim")
    }


async def test_edit_from_confirmation_and_cancel(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir semua")
    await ch.tap("Ubah")
    assert "✅ 15 dari 15" in ch.last_text()
    await ch.tap("Kosongkan")
    await ch.text("Sari, Siti")
    assert "Dicentang: Sari Wulandari, Siti Aminah" in ch.last_text()
    await ch.tap("Selesai")
    await ch.tap("Belum")
    assert "Hadir: 2 orang (L 0, P 2)" in ch.last_text()
    await ch.tap("Batal")
    assert "Dibatalkan" in ch.last_text()
    await ch.text("/hadir 3")
    await ch.text("/bantuan")
    assert "Ketuk nama untuk mencentang" in ch.last_text() and await _state(world, "ketua-a") == "daftar"
    await ch.text("batal")
    assert "Dibatalkan" in ch.last_text() and await _state(world, "ketua-a") is None
    assert await _days(world, "ksm_a") == []


# --- roles and scope ---------------------------------------------------------------------------------


async def test_roles_refused_with_reason(world: World) -> None:
    for user, role in (("pekerja-a", "pekerja"), ("askot", "Askot")):
        ch = world.channel(user)
        await ch.text("/hadir 10")
        assert f"tidak tersedia untuk peran {role}" in ch.last_text()
    async with world.db.session() as s:
        assert (await s.execute(select(func.count(AttendanceDay.id)))).scalar_one() == 0


async def test_facilitator_chooses_ksm_and_is_recorded(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/hadir 10")
    assert "Untuk KSM mana?" in ch.last_text()
    assert {c.label for c in ch.last_choices()} == {
        "KSM Bejalen Makmur",
        "KSM Bejalen Guyub",
        "KSM Tambakboyo Rukun",
    }
    await ch.tap("KSM Bejalen Guyub")
    assert "Hadir: 10 orang" in ch.last_text()
    await ch.tap("Simpan")
    [day] = await _days(world, "ksm_b")
    assert day.entered_by_id == world.program["fasil"]

    ketua = world.channel("ketua-a")
    await ketua.text("/hadir")
    assert "Untuk KSM mana?" not in ketua.all_text()
    assert "KSM Bejalen Makmur" in ketua.last_text()


async def test_ketua_c_cannot_see_or_tick_ksm_a_workers(world: World) -> None:
    ksm_a_workers = await _workers(world, "ksm_a")
    ch = world.channel("ketua-c")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    labels = [c.label for c in ch.last_choices() if c.value.startswith("t:")]
    assert len(labels) == 5 and all(label.endswith(" Jr") for label in labels)
    await ch.text(f"t:{ksm_a_workers['Agus Salim'].id}")
    assert "tidak ada di daftar pekerja KSM ini" in ch.last_text()
    assert "✅ 0 dari 5" in ch.last_text()
    await ch.text("/hadir Agus Salim")
    assert "'Agus Salim' tidak ada di daftar pekerja KSM Tambakboyo Rukun" in ch.last_text()
    assert not any("Agus" in c.label for c in ch.last_choices())
    await ch.text(f"n:{ksm_a_workers['Agus Salim'].id}")
    assert "tidak ada di daftar pekerja KSM ini" in ch.all_text()
    await ch.text("/hadir semua")
    assert "Hadir: 5 orang" in ch.last_text()
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
    assert "huruf" in ch.last_text()
    await ch.text("Rudi Hermawan")
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text("12345")
    assert "NIK tidak valid" in ch.last_text()
    await ch.photo(PHOTO)
    assert "Itu foto" in ch.last_text() and "16 angka" in ch.last_text()
    await ch.text(nik_for(1))  # Budi Santoso's NIK
    assert "sudah terdaftar di KSM ini atas nama Budi Santoso" in ch.last_text()
    assert "3322••••••••0001" in ch.last_text()
    await ch.text(nik)
    assert "Biasanya Rp85.000 untuk pekerja" in ch.last_text()
    await ch.text("-5")
    assert "lebih dari Rp0" in ch.last_text() and await _state(world, "ketua-a") == "upah_baru"
    await ch.text("Rp 90.000")
    assert "Rudi Hermawan (NIK 3322••••••••0001, pekerja, Rp90.000)" in ch.last_text()
    assert "✅ 1 dari 16" in ch.last_text()
    assert all(nik not in o.text and nik_for(1) not in o.text for o in ch.outbox)
    await ch.tap("Selesai")
    await ch.tap("Belum")
    await ch.tap("Simpan")

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
    assert (
        "Present: 23 workers (M 18, F 5)" in ch.last_text()
        and "Thursday, November 26, 2026" in ch.last_text()
    )
    await ch.tap("Save")
    assert "Attendance saved" in ch.last_text()
