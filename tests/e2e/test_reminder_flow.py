"""/pengingat: see one's reminder time, change it, pause it for today, resume, back to the default."""

from __future__ import annotations

from datetime import date, time

from kotaku import catalogue
from kotaku.models import Channel, GroupBinding, Person
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import World


async def person(world: World, code: str) -> Person:
    async with world.db.session() as s:
        p = await s.get(Person, world.program[code])
        assert p is not None
        return p


async def test_show_and_change_time_by_button_and_by_text(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/pengingat")
    assert says(ch.last_text(), "pengingat.show_report", time="15:00", zone="WIB")
    assert "pengingat.default" in keys_in(ch.last_text())
    await ch.tap("16:00")
    assert ch.last_text() == catalogue.t("pengingat.set", time="16:00", zone="WIB")
    assert (await person(world, "ketua-a")).reminder_time == time(16, 0)
    await ch.text("/pengingat 16.45")
    assert (await person(world, "ketua-a")).reminder_time == time(16, 45)
    await ch.text("/pengingat")
    assert says(ch.last_text(), "pengingat.show_report", time="16:45", zone="WIB")
    assert "pengingat.own" in keys_in(ch.last_text())
    await ch.tap("↩️ Jam bawaan")
    assert ch.last_text() == catalogue.t("pengingat.reset", time="15:00", zone="WIB")
    assert (await person(world, "ketua-a")).reminder_time is None


async def test_bad_time_is_explained_and_asked_again(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/pengingat 23:30")
    assert says(ch.last_text(), "pengingat.bad_time", text="23:30")
    await ch.text("17")
    assert (await person(world, "ketua-a")).reminder_time == time(17, 0)


async def test_pause_today_and_resume(world: World) -> None:
    ch = world.channel("ketua-m")  # Makassar: today is the local (WITA) date
    await ch.text("/pengingat libur")
    assert says(ch.last_text(), "pengingat.paused_now", date="26 November 2026")
    assert (await person(world, "ketua-m")).reminder_paused_on == date(2026, 11, 26)
    await ch.text("/pengingat")
    assert says(ch.last_text(), "pengingat.paused", date="26 November 2026")
    await ch.tap("🔔 Aktifkan lagi")
    assert (await person(world, "ketua-m")).reminder_paused_on is None


async def test_facilitator_sets_the_digest_time_and_group_note_for_ketua(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/pengingat")
    assert says(ch.last_text(), "pengingat.show_digest", time="17:30", zone="WIB")
    async with world.db.transaction() as s:
        s.add(GroupBinding(channel=Channel.TEST, chat_id="-100", ksm_id=world.program["ksm_a"]))
    ketua = world.channel("ketua-a")
    await ketua.text("/pengingat")
    assert says(ketua.last_text(), "pengingat.group_note", time="15:00", zone="WIB")


async def test_workers_cannot_change_reminders(world: World) -> None:
    ch = world.channel("pekerja-a")
    await ch.text("/pengingat 16:00")
    assert (await person(world, "pekerja-a")).reminder_time is None
