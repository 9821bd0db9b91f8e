"""Issue 11, the chat dialog: a new worker is part of the /hadir draft until it is saved; /ubah pages through
every report of the correction window; views leave no draft behind and leave an open draft alone; /kurva
examples and area words; the reminder time as people say it; the console header names the role."""

from __future__ import annotations

import io
from datetime import date, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.console import ConsoleChat
from kotaku import catalogue
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    AuditLog,
    Channel,
    ConversationState,
    Gender,
    Person,
    ProgressReport,
    Skill,
    Worker,
)
from kotaku.schemas import OutboundKind
from tests.catalogue_keys import fills, keys_in, says
from tests.channel import TestChannel
from tests.e2e.conftest import World
from tests.e2e.test_alerts_flow import add_alert

TODAY = date(2026, 11, 26)
NEW_NIK = "3322051201900001"
OTHER_NIK = "3322051201900002"


async def _roster(world: World, ksm: str) -> dict[str, Worker]:
    async with world.db.session() as s:
        stmt = select(Worker).where(Worker.ksm_id == world.program[ksm])
        return {w.name: w for w in (await s.execute(stmt)).scalars()}


async def _worker_audits(world: World) -> int:
    async with world.db.session() as s:
        stmt = select(func.count(AuditLog.id)).where(AuditLog.action == "worker_added")
        return int((await s.execute(stmt)).scalar_one())


async def _sheets(world: World, ksm: str) -> list[AttendanceDay]:
    async with world.db.session() as s:
        stmt = select(AttendanceDay).where(AttendanceDay.ksm_id == world.program[ksm])
        return list((await s.execute(stmt)).scalars())


async def _conversation(world: World, user: str) -> tuple[str | None, str | None]:
    async with world.db.session() as s:
        stmt = select(ConversationState.flow, ConversationState.state).where(
            ConversationState.user_id == user
        )
        row = (await s.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else (None, None)


async def _open_checklist(ch: TestChannel) -> None:
    await ch.text("/hadir")
    await ch.tap("Hari ini")


async def _add_new_worker(ch: TestChannel, name: str = "Rudi Hermawan", nik: str = NEW_NIK) -> None:
    await ch.tap("Pekerja baru")
    await ch.text(name)
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text(nik)
    await ch.text("90000")


# --- 1. a new worker is part of the /hadir draft --------------------------------------------------------


async def test_new_worker_then_batal_leaves_the_roster_unchanged(world: World) -> None:
    before = await _roster(world, "ksm_a")
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    await _add_new_worker(ch)
    assert says(ch.last_text(), "hadir.worker_added", name="Rudi Hermawan", rate="Rp90.000")
    assert says(ch.last_text(), "hadir.checklist", n=1, total=len(before) + 1)
    await ch.text("/batal")
    assert "engine.cancelled" in keys_in(ch.last_text())

    assert set(await _roster(world, "ksm_a")) == set(before)
    assert await _worker_audits(world) == 0 and await _sheets(world, "ksm_a") == []
    await _open_checklist(ch)  # the next sheet does not list the cancelled worker
    assert says(ch.last_text(), "hadir.checklist", n=0, total=len(before))


async def test_new_worker_saved_with_the_sheet(world: World) -> None:
    before = await _roster(world, "ksm_a")
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    await _add_new_worker(ch)
    assert set(await _roster(world, "ksm_a")) == set(before)  # not yet: only in the draft
    await ch.tap("Selesai")
    assert says(ch.last_text(), "hadir.line_new_workers", names="Rudi Hermawan")
    await ch.tap("Simpan · belum")
    assert says(ch.last_text(), "hadir.saved", n=1)
    assert says(ch.last_text(), "hadir.saved_new_workers", names="Rudi Hermawan")

    roster = await _roster(world, "ksm_a")
    rudi = roster["Rudi Hermawan"]
    assert set(roster) == set(before) | {"Rudi Hermawan"} and rudi.active
    assert rudi.daily_rate == 90_000 and rudi.skill == Skill.PEKERJA and rudi.gender == Gender.L
    assert rudi.nik_hash == world.vault.hash(NEW_NIK)
    [day] = await _sheets(world, "ksm_a")
    async with world.db.session() as s:
        records = (
            (await s.execute(select(AttendanceRecord).where(AttendanceRecord.attendance_day_id == day.id)))
            .scalars()
            .all()
        )
    assert [(r.worker_id, r.wage) for r in records] == [(rudi.id, 90_000)]
    assert await _worker_audits(world) == 1
    await ch.text("/hadir")  # now on the roster like everyone else
    await ch.tap("Kemarin")
    assert says(ch.last_text(), "hadir.checklist", n=0, total=len(before) + 1)


async def test_new_worker_of_a_replaced_or_expired_draft_is_not_written(world: World) -> None:
    before = set(await _roster(world, "ksm_a"))
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    await _add_new_worker(ch)
    await ch.text("/progres")
    assert says(ch.all_text(), "engine.draft_replaced", flow="hadir")
    assert set(await _roster(world, "ksm_a")) == before

    await ch.text("/batal")
    await _open_checklist(ch)
    await _add_new_worker(ch)
    world.clock.advance(hours=world.db.settings.dialog.draft_ttl_hours + 1)
    await ch.text("Selesai")
    assert says(ch.all_text(), "engine.draft_expired", flow="hadir")
    assert set(await _roster(world, "ksm_a")) == before and await _worker_audits(world) == 0


async def test_duplicate_nik_checked_against_the_draft_and_again_at_save(world: World) -> None:
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    await _add_new_worker(ch)
    await ch.tap("Pekerja baru")
    await ch.text("Rudi Kedua")
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text(NEW_NIK)  # the NIK of the new worker already in the draft
    assert says(ch.last_text(), "hadir.duplicate_nik", name="Rudi Hermawan")
    await ch.text(OTHER_NIK)
    await ch.text("85000")
    assert says(ch.last_text(), "hadir.checklist", n=2)

    # Meanwhile the importer puts someone with Rudi's NIK on the roster.
    async with world.db.transaction() as s:
        enc, h = world.vault.protect(NEW_NIK)
        s.add(
            Worker(
                ksm_id=world.program["ksm_a"],
                name="Rudy Hermawan",
                gender=Gender.L,
                skill=Skill.PEKERJA,
                nik_encrypted=enc,
                nik_hash=h,
                daily_rate=85_000,
            )
        )
    await ch.tap("Selesai")
    await ch.tap("Simpan · belum")
    assert says(ch.last_text(), "hadir.duplicate_nik", name="Rudy Hermawan")
    assert await _sheets(world, "ksm_a") == [] and await _worker_audits(world) == 0  # nothing half-written
    await ch.tap("Selesai")
    await ch.tap("Simpan · belum")
    assert says(ch.last_text(), "hadir.saved_new_workers", names="Rudi Kedua")
    roster = await _roster(world, "ksm_a")
    assert "Rudi Kedua" in roster and "Rudi Hermawan" not in roster


# --- 2. /ubah pages through every report of the window --------------------------------------------------


async def test_ubah_lists_every_report_of_the_window_with_paging(world: World) -> None:
    days = world.db.settings.dialog.correction_days
    async with world.db.transaction() as s:
        for back in range(1, days + 1):
            for activity in ("road", "drain"):
                s.add(
                    ProgressReport(
                        activity_id=world.program[activity],
                        report_date=TODAY - timedelta(days=back),
                        percent=float(back),
                        entered_by_id=world.program["ketua-a"],
                        channel=Channel.TEST,
                    )
                )
        s.add(  # outside the window: never offered
            ProgressReport(
                activity_id=world.program["road"], report_date=TODAY - timedelta(days=days + 3), percent=1.0
            )
        )
        s.add(
            AttendanceDay(
                ksm_id=world.program["ksm_a"],
                work_date=TODAY - timedelta(days=1),
                mode=AttendanceMode.COUNT,
                count_male=4,
                hok=4,
                total_wages=4 * 85_000,
            )
        )
    total = 2 * days + 1
    assert total > 10
    ch = world.channel("ketua-a")
    await ch.text("/ubah")
    first = ch.last()
    next_label, prev_label = catalogue.t("ubah.next"), catalogue.t("ubah.prev")
    assert says(first.text, "ubah.page", page=1, pages=2, n=total)
    items = [c for c in first.choices if not c.value.startswith("pg:")]
    assert [c.label for c in first.choices][-1] == next_label and prev_label not in {
        c.label for c in first.choices
    }
    await ch.tap(next_label)
    second = ch.last()
    assert says(second.text, "ubah.page", page=2, pages=2, n=total)
    assert [c.label for c in second.choices][-1] == prev_label
    items += [c for c in second.choices if not c.value.startswith("pg:")]
    assert len(items) == total and len({c.value for c in items}) == total
    assert sum(c.value.startswith("a:") for c in items) == 1

    oldest = second.choices[-2]  # the last report of the window, on page 2
    await ch.tap(oldest.value)
    assert says(ch.last_text(), "ubah.ask_value", old="7%")
    await ch.text("/ubah")
    await ch.text("berikutnya")  # typed, the label counts as the button
    assert says(ch.last_text(), "ubah.page", page=2, pages=2)


# --- 3. views leave no draft behind, and leave an open draft alone -------------------------------------


async def test_a_views_leftover_is_not_a_draft(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kurva")  # a list to pick from
    assert await _conversation(world, "ketua-a") == ("kurva", "pilih")
    await ch.text("/hadir")
    assert "engine.draft_replaced" not in keys_in(ch.all_text())
    assert says(ch.last_text(), "hadir.ask_date")

    await ch.text("/batal")
    await ch.text("/pengingat")  # shows the time, offers others
    await ch.text("/rekap XYZ-999")  # asks for a scope again
    assert says(ch.last_text(), "rekap.ask_scope")
    await ch.text("/kurva")
    await ch.text("/batal")
    assert "engine.nothing_to_cancel" in keys_in(ch.last_text())
    assert "engine.draft_replaced" not in keys_in(ch.all_text())


async def test_a_view_during_a_draft_is_shown_and_the_draft_kept(world: World) -> None:
    ch = world.channel("ketua-a")
    await _open_checklist(ch)
    await ch.text("1 2")
    assert says(ch.last_text(), "hadir.checklist", n=2)

    await ch.text("/kurva")
    view = ch.outbox[-2]
    assert says(view.text, "kurva.choose") and view.choices
    assert all(c.value.startswith("/kurva a:") for c in view.choices)  # work without the view's state
    assert says(ch.last_text(), "engine.draft_kept", flow="hadir")
    assert "engine.draft_replaced" not in keys_in(ch.all_text())
    assert await _conversation(world, "ketua-a") == ("hadir", "daftar")

    await ch.tap(view.choices[0].value)  # the curve, still beside the draft
    curve = ch.outbox[-2]
    assert curve.kind == OutboundKind.IMAGE and fills(curve.text, "kurva.caption")
    assert says(ch.last_text(), "engine.draft_kept", flow="hadir")
    await ch.text("/pengingat 16:30")  # a setting applied at once, also beside it
    assert says(ch.outbox[-2].text, "pengingat.set", time="16:30")

    await ch.text("selesai")  # the checklist goes on with its two ticks
    await ch.tap("Simpan · belum")
    assert says(ch.last_text(), "hadir.saved", n=2)
    assert "engine.draft_replaced" not in keys_in(ch.all_text())


async def test_an_alert_acknowledged_during_a_draft_takes_its_place(world: World) -> None:
    alert_id = await add_alert(world, "ksm_a", 1000)
    ch = world.channel("fasil")
    await ch.text("/hadir")
    await ch.tap("KSM Bejalen Makmur")
    await ch.tap("Hari ini")
    await ch.text("/peringatan")
    listed = ch.outbox[-2]
    assert says(listed.text, "peringatan.title", n=1)
    assert [c.value for c in listed.choices] == [f"/peringatan ack:{alert_id}"]
    assert says(ch.last_text(), "engine.draft_kept", flow="hadir")

    await ch.tap(f"/peringatan ack:{alert_id}")  # an action that needs its note: the draft goes
    assert says(ch.all_text(), "engine.draft_replaced", flow="hadir")
    assert says(ch.last_text(), "peringatan.ask_note", id=alert_id)
    assert await _conversation(world, "fasil") == ("peringatan", "catatan")


# --- 4. /kurva: real examples, area words -------------------------------------------------------------


async def test_kurva_ksm_code_and_real_examples(world: World) -> None:
    askot = world.channel("askot")
    await askot.text("/kurva KSM-BJL-01")  # a KSM code: that KSM's activities
    assert says(askot.last_text(), "kurva.choose_in", what="KSM Bejalen Makmur", n=2)
    assert len(askot.last().choices) == 2
    await askot.text("/kurva KSM-TMB-01")  # one activity: drawn at once
    assert askot.last().kind == OutboundKind.IMAGE and "(ACT-TMB-01)" in askot.last().text

    ketua = world.channel("ketua-a")
    await ketua.text("/kurva KSM-TMB-01")
    assert says(ketua.last_text(), "kurva.outside_scope", what="KSM Tambakboyo Rukun")
    await ketua.text("/kurva jembatan")
    async with world.db.session() as s:
        own = set(
            (await s.execute(select(Activity.code).where(Activity.ksm_id == world.program["ksm_a"])))
            .scalars()
            .all()
        )
    [found] = fills(ketua.last_text(), "kurva.not_found")
    assert found["text"] == "jembatan" and found["example"] in own  # a code of the person's own KSM
    await ketua.text("/kurva")  # a KSM's list keeps working
    assert says(ketua.last_text(), "kurva.choose", n=len(own))
    fasil_m = world.channel("fasil-m")
    await fasil_m.text("/kurva kota 99.99")
    assert says(fasil_m.last_text(), "kurva.unknown_area", code="99.99", example="73.71.01.1001")
    for text in catalogue.t("kurva.help"), catalogue.t("kurva.help", "en"):
        assert "ACT-" not in text and "33." not in text


async def test_kurva_area_word_alone_is_the_own_area(world: World) -> None:
    askot = world.channel("askot")
    await askot.text("/kurva kota")
    assert askot.last().kind == OutboundKind.IMAGE
    assert fills(askot.last().text, "kurva.caption")[0]["title"] == "Kabupaten Semarang"
    await askot.text("/kurva kelurahan")  # a lower level: which of those in the kabupaten
    assert says(askot.last_text(), "kurva.choose_area", n=2)
    assert [c.value for c in askot.last().choices] == ["33.22.05.1001", "33.22.05.1002"]
    await askot.tap("33.22.05.1002")
    assert fills(askot.last().text, "kurva.caption")[0]["title"] == "Kelurahan Tambakboyo"

    fasil = world.channel("fasil")
    await fasil.text("/kurva wilayah")
    assert fills(fasil.last().text, "kurva.caption")[0]["title"] == "Kecamatan Ambarawa"
    ketua = world.channel("ketua-a")  # a KSM's own "area" is its activities
    await ketua.text("/kurva kelurahan")
    assert says(ketua.last_text(), "kurva.choose", n=2)


# --- 5. wording -------------------------------------------------------------------------------------------


async def _reminder_time(world: World, code: str) -> time | None:
    async with world.db.session() as s:
        stmt = select(Person.reminder_time).where(Person.code == code)
        return (await s.execute(stmt)).scalar_one()


async def test_reminder_time_as_people_say_it(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/pengingat jam 4 sore")
    assert says(ch.last_text(), "pengingat.set", time="16:00")
    assert await _reminder_time(world, "ketua-a") == time(16, 0)
    await ch.text("/pengingat jam 11 malam")
    text = ch.last_text()
    assert says(text, "pengingat.bad_time", text="jam 11 malam")
    assert "Jam jam" not in text and not text.lower().startswith("jam jam")
    await ch.text("pukul 16.30")
    assert await _reminder_time(world, "ketua-a") == time(16, 30)


async def test_console_header_names_the_role_in_words(world: World, tmp_path: Path) -> None:
    chat = ConsoleChat(
        world.engine,
        "ketua-a",
        stdin=io.StringIO("/as askot\n"),
        stdout=io.StringIO(),
        out_dir=tmp_path / "console-out",
    )
    assert await chat.run() == 0
    assert isinstance(chat.stdout, io.StringIO)
    text = chat.stdout.getvalue()
    ketua = catalogue.t("role.ketua_ksm")
    assert says(text, "console.banner", who=f"Pak Darto (ketua-a, {ketua}, KSM Bejalen Makmur)")
    assert says(
        text, "console.switched", who=f"Pak Hendra (askot, {catalogue.t('role.askot')}, Kabupaten Semarang)"
    )
    assert "ketua_ksm" not in text
