"""/pengingat: see one's reminder time, change it, pause it for today, resume, back to the default."""

from __future__ import annotations

from datetime import date, time

from kotaku.models import Channel, GroupBinding, Person
from tests.e2e.conftest import World


async def person(world: World, code: str) -> Person:
    async with world.db.session() as s:
        p = await s.get(Person, world.program[code])
        assert p is not None
        return p


async def test_show_and_change_time_by_button_and_by_text(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/pengingat")
    assert "pukul 15:00 WIB" in ch.last_text() and "(jam bawaan)" in ch.last_text()
    await ch.tap("16:00")
    assert ch.last_text() == "✅ Pengingat diubah ke pukul 16:00 WIB."
    assert (await person(world, "ketua-a")).reminder_time == time(16, 0)
    await ch.text("/pengingat 16.45")
    assert (await person(world, "ketua-a")).reminder_time == time(16, 45)
    await ch.text("/pengingat")
    assert "pukul 16:45 WIB" in ch.last_text() and "(jam pilihan Anda)" in ch.last_text()
    await ch.tap("↩️ Jam bawaan")
    assert ch.last_text() == "✅ Kembali ke jam bawaan: pukul 15:00 WIB."
    assert (await person(world, "ketua-a")).reminder_time is None


async def test_bad_time_is_explained_and_asked_again(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/pengingat 23:30")
    assert "antara 05:00 dan 21:59" in ch.last_text()
    await ch.text("17")
    assert (await person(world, "ketua-a")).reminder_time == time(17, 0)


async def test_pause_today_and_resume(world: World) -> None:
    ch = world.channel("ketua-m")  # Makassar: today is the local (WITA) date
    await ch.text("/pengingat libur")
    assert "tidak ada pengingat lagi hari ini (26 November 2026)" in ch.last_text()
    assert (await person(world, "ketua-m")).reminder_paused_on == date(2026, 11, 26)
    await ch.text("/pengingat")
    assert "🔕 Hari ini (26 November 2026) pengingat diliburkan." in ch.last_text()
    await ch.tap("🔔 Aktifkan lagi")
    assert (await person(world, "ketua-m")).reminder_paused_on is None


async def test_facilitator_sets_the_digest_time_and_group_note_for_ketua(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/pengingat")
    assert "Rekap harian untuk Anda: pukul 17:30 WIB" in ch.last_text()
    async with world.db.transaction() as s:
        s.add(GroupBinding(channel=Channel.TEST, chat_id="-100", ksm_id=world.program["ksm_a"]))
    ketua = world.channel("ketua-a")
    await ketua.text("/pengingat")
    assert "pengingat dikirim ke grup pukul 15:00 WIB" in ketua.last_text()


async def test_workers_cannot_change_reminders(world: World) -> None:
    ch = world.channel("pekerja-a")
    await ch.text("/pengingat 16:00")
    assert (await person(world, "pekerja-a")).reminder_time is None
