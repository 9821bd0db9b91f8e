"""Numbers typed in the chat (issue 12, findings 1, 3 and 11): digits other than 0-9 are not read as
numbers, a number of thousands of digits or a list of thousands of names gets a clear answer (not the
apology of a crash), and a NIK in full-width digits cannot slip past the duplicate check."""

from __future__ import annotations

from sqlalchemy import select

from kotaku.dialog.quick import name_limit
from kotaku.models import AttendanceDay, ConversationState, ProgressReport, Worker
from kotaku.schemas import Outbound
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import World
from tests.factories import nik_for

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


async def _state(world: World, user: str) -> str | None:
    async with world.db.session() as s:
        stmt = select(ConversationState.state).where(ConversationState.user_id == user)
        return (await s.execute(stmt)).scalar_one_or_none()


def _said(replies: list[Outbound]) -> str:
    return "\n".join(o.text for o in replies)


async def _count(world: World, model: type) -> int:
    async with world.db.session() as s:
        return len((await s.execute(select(model))).scalars().all())


async def test_a_count_of_thousands_of_digits_is_answered_clearly(world: World) -> None:
    ch = world.channel("ketua-b")  # a KSM that records head counts
    assert "hadir.count_too_big" in keys_in(_said(await ch.text("/hadir " + "9" * 4_000)))
    assert "engine.error" not in keys_in(ch.all_text())
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.text("9" * 4_000)
    assert "hadir.count_too_big" in keys_in(ch.last_text()) and await _state(world, "ketua-b") == "jumlah"
    await ch.text("18 L 5 P")  # the conversation goes on
    assert "hadir.ask_wages" in keys_in(ch.last_text())


async def test_counts_in_other_digits_are_not_read_as_numbers(world: World) -> None:
    ch = world.channel("ketua-b")
    for table in (FULLWIDTH, ARABIC_INDIC):
        said = _said(await ch.text("/hadir " + "18L 5P".translate(table)))
        assert "hadir.count_format" in keys_in(said)
        assert not says(said, "hadir.line_workers", n=23, male=18, female=5)
    said = _said(await ch.text("/laporan hadir " + "15 orang".translate(ARABIC_INDIC)))
    assert "laporan.att_count_format" in keys_in(said)
    assert await _count(world, AttendanceDay) == 0


async def test_a_progress_figure_in_other_digits_is_not_saved(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/progres")
    await ch.text("45".translate(FULLWIDTH))
    assert "progres.bad.not_a_number" in keys_in(ch.last_text())
    assert "engine.error" not in keys_in(ch.all_text())
    assert await _count(world, ProgressReport) == 0


async def test_thousands_of_names_are_refused_with_the_limit(world: World) -> None:
    ch = world.channel("ketua-a")
    async with world.db.session() as s:
        roster = (await s.execute(select(Worker).where(Worker.ksm_id == world.program["ksm_a"]))).scalars()
        limit = name_limit(len([w for w in roster if w.active]))
    names = ",".join(chr(97 + i % 26) for i in range(2_048))
    said = _said(await ch.text("/hadir " + names))
    assert says(said, "hadir.too_many_names", max=limit)
    await ch.text("/batal")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    said = _said(await ch.text(names))  # typed on the checklist
    assert says(said, "hadir.too_many_names", max=limit)
    assert await _state(world, "ketua-a") == "daftar"
    await ch.text("/batal")
    said = _said(await ch.text("/laporan hadir " + names[:3_999]))  # 2,000 names in the daily report
    assert says(said, "laporan.att_too_many_names", max=limit)
    assert await _count(world, AttendanceDay) == 0


async def test_a_full_width_nik_cannot_pass_the_duplicate_check(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.tap("Pekerja baru")
    await ch.text("Rudi Hermawan")
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text(nik_for(1).translate(FULLWIDTH))  # Budi Santoso's NIK in full-width digits
    assert "hadir.bad_nik" in keys_in(ch.last_text())
    assert not says(ch.last_text(), "hadir.ask_rate")
    await ch.text(nik_for(1))  # the same in ASCII digits: the duplicate it is
    assert says(ch.last_text(), "hadir.duplicate_nik", name="Budi Santoso")
    async with world.db.session() as s:
        hashes = [w.nik_hash for w in (await s.execute(select(Worker))).scalars()]
    assert len(hashes) == len(set(hashes))
