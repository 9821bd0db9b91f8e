"""Forged or stale button data and huge typed numbers (issue 12, finding 2): each is answered with "that is
not a valid ..." in the person's language, and the conversation goes on where it was (the draft kept)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from kotaku.models import Alert, AlertSeverity, AlertStatus, AttendanceDay, ConversationState, Person
from kotaku.models.base import MAX_ID
from kotaku.monitoring.lifecycle import (
    MESSAGE_FIELD,
    AlertNotFound,
    acknowledge,
    acknowledgeable,
    resolve_by_hand,
)
from tests.catalogue_keys import keys_in, says
from tests.channel import TestChannel
from tests.e2e.conftest import World

NINES = "9" * 5_000
# Button data that no button carries: unicode digits (`str.isdigit` is True, `int` fails or reads them),
# more digits than `int()` takes, an id past PostgreSQL's INTEGER, nothing, a sign.
FORGED_NUMBERS = ["²", "٣", "３", NINES, str(MAX_ID + 1), "", "-0", " 1", "1e3"]


async def _conversation(world: World, user: str) -> tuple[str | None, str | None, dict[str, Any]]:
    async with world.db.session() as s:
        stmt = select(ConversationState).where(ConversationState.user_id == user)
        conv = (await s.execute(stmt)).scalar_one()
        return conv.flow, conv.state, dict(conv.data or {})


async def _refused(ch: TestChannel, key: str, lang: str = "id") -> None:
    """The last message says `key` (in `lang`), and is not the engine's apology for a crash."""
    keys = keys_in(ch.all_text(), lang)
    assert "engine.error" not in keys, ch.all_text()[-300:]
    assert key in keys_in(ch.last_text(), lang), ch.last_text()[-300:]


async def _attendance_days(world: World) -> int:
    async with world.db.session() as s:
        return (await s.execute(select(func.count(AttendanceDay.id)))).scalar_one()


# --- /hadir ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["t:", "pg:"])
async def test_forged_checklist_buttons_keep_the_checklist(world: World, prefix: str) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.tap("Budi Santoso")
    before = await _conversation(world, "ketua-a")
    for rest in FORGED_NUMBERS:
        ch.pop_all()
        await ch.press(prefix + rest)
        await _refused(ch, "input.bad_choice")
        assert await _conversation(world, "ketua-a") == before, rest
    await ch.tap("Selesai")
    await ch.tap("Simpan · belum")
    assert await _attendance_days(world) == 1  # the draft went on to be saved, Budi ticked


async def test_a_new_workers_button_unticks_them(world: World) -> None:
    """New workers are drafted with keys -1, -2...: their checklist button (`t:-1`) toggles them."""
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.tap("Pekerja baru")
    await ch.text("Rudi Hermawan")
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text("3322051201900001")
    await ch.text("Rp 90.000")
    assert (await _conversation(world, "ketua-a"))[2]["present"] == [-1]
    button = next(c for c in ch.last_choices() if "Rudi Hermawan" in c.label)
    assert button.value == "t:-1"
    await ch.tap(button.value)
    assert "hadir.not_on_roster" not in keys_in(ch.last_text())
    assert (await _conversation(world, "ketua-a"))[2]["present"] == []


async def test_forged_name_button_keeps_the_question(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir Budi, Zulkifli")
    assert "hadir.unknown_name" in keys_in(ch.last_text())
    before = await _conversation(world, "ketua-a")
    for rest in FORGED_NUMBERS:
        ch.pop_all()
        await ch.press("n:" + rest)
        await _refused(ch, "hadir.unknown_name")
        assert "input.bad_choice" in keys_in(ch.all_text())
        assert await _conversation(world, "ketua-a") == before, rest


async def test_huge_or_forged_wages_keep_the_wages_step(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.text("18 L 5 P")
    before = await _conversation(world, "ketua-b")
    assert before[1] == "upah"
    for bad, key in [
        ("r:²", "hadir.bad_amount"),
        ("r:" + "9" * 400, "hadir.bad_amount"),
        ("r:", "hadir.bad_amount"),
        ("total 999.999.999.999", "hadir.bad_total"),  # more than 23 workers at the highest daily rate
        ("9" * 12, "hadir.bad_total"),
        ("total 23.000.001", "hadir.bad_total"),
    ]:
        ch.pop_all()
        await ch.press(bad) if bad.startswith("r:") else await ch.text(bad)
        await _refused(ch, key)
        assert await _conversation(world, "ketua-b") == before, bad
    await ch.text("total 23.000.000")
    await ch.tap("Simpan · belum")
    [day] = await _all_days(world)
    assert day.total_wages == 23_000_000


async def test_400_nines_typed_as_a_wage(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.text("18 L 5 P")
    before = await _conversation(world, "ketua-b")
    for bad in ["9" * 400, "total " + "9" * 400]:
        ch.pop_all()
        await ch.text(bad)
        await _refused(ch, "hadir.bad_amount")
        assert await _conversation(world, "ketua-b") == before, bad


async def test_forged_rate_button_for_a_new_worker(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    await ch.tap("Pekerja baru")
    await ch.text("Rudi Hermawan")
    await ch.tap("Laki-laki")
    await ch.tap("pekerja")
    await ch.text("3322051201900001")
    before = await _conversation(world, "ketua-a")
    for rest in FORGED_NUMBERS:
        ch.pop_all()
        await ch.press("r:" + rest)
        await _refused(ch, "hadir.bad_amount")
        assert await _conversation(world, "ketua-a") == before, rest


async def _all_days(world: World) -> list[AttendanceDay]:
    async with world.db.session() as s:
        return list((await s.execute(select(AttendanceDay))).scalars())


# --- choosing a KSM, /ubah, /kurva, /progres, /kendala, /selesai ----------------------------------------


async def test_forged_ksm_button(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/hadir")
    assert all(c.value.startswith("ksm:") for c in ch.last_choices())
    before = await _conversation(world, "fasil")
    for rest in FORGED_NUMBERS:
        ch.pop_all()
        await ch.press("ksm:" + rest)
        await _refused(ch, "input.bad_choice")
        assert await _conversation(world, "fasil") == before, rest
    await ch.press(f"ksm:{world.program['ksm_m']}")  # a KSM outside the facilitator's kecamatan
    await _refused(ch, "flow.bad_ksm")


async def test_forged_correction_buttons(world: World) -> None:
    ch = world.channel("ketua-b")
    await ch.text("/hadir 18L 5P")
    await ch.tap("Simpan")
    await ch.text("/ubah")
    before = await _conversation(world, "ketua-b")
    for prefix in ["pg:", "a:", "p:"]:
        for rest in FORGED_NUMBERS:
            ch.pop_all()
            await ch.press(prefix + rest)
            await _refused(ch, "input.bad_choice")
            assert await _conversation(world, "ketua-b") == before, prefix + rest


async def test_forged_curve_button(world: World) -> None:
    ch = world.channel("fasil")
    await ch.text("/kurva")
    assert "kurva.choose" in keys_in(ch.last_text())
    before = await _conversation(world, "fasil")
    for rest in FORGED_NUMBERS:
        ch.pop_all()
        await ch.press("a:" + rest)
        await _refused(ch, "input.bad_choice")
        assert await _conversation(world, "fasil") == before, rest


async def test_odd_numbers_typed_for_an_activity(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/progres")
    before = await _conversation(world, "ketua-a")
    for bad in ["²", "٣", NINES, "a:²", "a:" + NINES]:
        ch.pop_all()
        await (ch.press(bad) if bad.startswith("a:") else ch.text(bad))
        assert "progres.bad_activity_choice" in keys_in(ch.all_text())
        await _refused(ch, "progres.ask_activity")
        assert await _conversation(world, "ketua-a") == before, bad


async def test_odd_numbers_typed_for_a_category(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/kendala")
    before = await _conversation(world, "ketua-a")
    for bad in ["²", "٣", NINES]:
        ch.pop_all()
        await ch.text(bad)
        assert "engine.error" not in keys_in(ch.all_text())
        assert await _conversation(world, "ketua-a") == before, bad


async def test_odd_numbers_typed_for_an_obstacle(world: World) -> None:
    ketua = world.channel("ketua-a")
    await ketua.text("/kendala material semen belum datang")
    await ketua.tap("Sedang")
    await ketua.tap("Simpan")
    ch = world.channel("fasil")
    await ch.text("/selesai")
    assert says(ch.last_text(), "selesai.list_title", n=1)
    before = await _conversation(world, "fasil")
    for bad in ["²", "¹²", "٣", "0", "2", NINES]:
        ch.pop_all()
        await ch.text(bad)
        await _refused(ch, "selesai.bad_pick")
        assert await _conversation(world, "fasil") == before, bad


# --- /peringatan ---------------------------------------------------------------------------------------


async def _add_alert(world: World, ksm: str) -> int:
    at = world.clock() - timedelta(hours=1)
    async with world.db.transaction() as s:
        a = Alert(
            kind="behind_streak",
            subject_type="activity",
            subject_id=1,
            ksm_id=world.program[ksm],
            severity=AlertSeverity.WARNING,
            status=AlertStatus.OPEN,
            dedup_key=f"behind_streak:activity:{ksm}",
            figures={MESSAGE_FIELD: {"key": "peringatan.none", "params": {}}},
            message="-",
            opened_at=at,
            updated_at=at,
        )
        s.add(a)
        await s.flush()
        return a.id


HUGE_IDS = ["99999999999999999999", str(MAX_ID + 1), NINES]


@pytest.mark.parametrize("lang", ["id", "en"])
async def test_huge_alert_ids_typed(world: World, lang: str) -> None:
    await _add_alert(world, "ksm_a")
    ch = world.channel("fasil")
    if lang == "en":
        await ch.text("/bahasa en")
    for huge in HUGE_IDS:
        for command in [f"/peringatan {huge}", f"/peringatan ack:{huge}", f"/peringatan tutup {huge} sudah"]:
            ch.pop_all()
            await ch.text(command)
            await _refused(ch, "peringatan.bad_id", lang)
            assert "peringatan.not_found" not in keys_in(ch.all_text(), lang)
        ch.pop_all()
        await ch.text(f"/peringatan hal:{huge}")
        await _refused(ch, "peringatan.title", lang)


async def test_huge_alert_id_typed_on_the_list_and_pressed_for_the_note(world: World) -> None:
    alert_id = await _add_alert(world, "ksm_a")
    ch = world.channel("fasil")
    await ch.text("/peringatan")
    ch.pop_all()
    await ch.text("99999999999999999999")
    keys = keys_in(ch.all_text())
    assert {"peringatan.bad_id", "peringatan.title"} <= keys and "engine.error" not in keys
    await ch.tap(f"ack:{alert_id}")
    assert says(ch.last_text(), "peringatan.ask_note", id=alert_id)
    before = await _conversation(world, "fasil")
    for pressed in ["ack:99999999999999999999", "ack:²", "zzz", "hal:" + NINES]:
        ch.pop_all()
        await ch.press(pressed)
        assert "engine.error" not in keys_in(ch.all_text())
        assert await _conversation(world, "fasil") == before, pressed
    await ch.text("dicek besok")
    async with world.db.session() as s:
        alert = await s.get(Alert, alert_id)
        assert alert is not None and alert.status == AlertStatus.ACKNOWLEDGED
        assert alert.ack_note == "dicek besok"  # the forged presses were not taken as the note


async def test_alert_ids_no_integer_key_holds_are_not_found(world: World) -> None:
    """The service refuses them before a query: SQLite overflows past 2^63, PostgreSQL past 2^31."""
    async with world.db.transaction() as s:
        person = await s.get(Person, world.program["fasil"])
        assert person is not None
        for bad in (0, -1, MAX_ID + 1, 10**20):
            with pytest.raises(AlertNotFound):
                await acknowledgeable(s, bad, person)
            with pytest.raises(AlertNotFound):
                await acknowledge(s, bad, person, None, world.clock())
            with pytest.raises(AlertNotFound):
                await resolve_by_hand(s, bad, person, "sudah beres", world.clock())
