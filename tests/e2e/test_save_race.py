"""A KSM coordinator saving the first sheet of the day from several chats at once (phones, a retry on a
bad network): every save is answered as saved, never with the apology, and the day keeps one sheet. One
message delivered to two processes at once is handled by one of them."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from kotaku.bootstrap import bootstrap
from kotaku.models import AttendanceDay, ProcessedInbound
from tests.catalogue_keys import keys_in
from tests.channel import TestChannel
from tests.e2e.conftest import World

CHATS = 10


async def test_first_sheet_saved_from_many_chats_at_once(world: World) -> None:
    channels = [world.channel().as_user("ketua-b", f"hp-{i}") for i in range(CHATS)]
    for i, ch in enumerate(channels):
        await ch.text(f"/hadir {i + 1} L 0 P")
    await asyncio.gather(*(ch.tap("save:0") for ch in channels))

    answers = [keys_in(ch.all_text()) for ch in channels]
    assert not [a for a in answers if "engine.error" in a]
    assert sum("hadir.saved" in a for a in answers) == 1
    assert sum("hadir.saved_correction" in a for a in answers) == CHATS - 1
    async with world.db.session() as s:
        days = list(
            (
                await s.execute(select(AttendanceDay).where(AttendanceDay.ksm_id == world.program["ksm_b"]))
            ).scalars()
        )
    assert len(days) == 1
    assert days[0].revision == CHATS


async def test_one_message_delivered_to_two_processes_at_once_is_handled_once(world: World) -> None:
    other = bootstrap(world.db.settings, db=world.db, now=world.clock).engine
    first, second = world.channel("ketua-b"), TestChannel(other).as_user("ketua-b")
    replies = await asyncio.gather(
        first.text("/hadir 4 L 2 P", message_id="dup-1"), second.text("/hadir 4 L 2 P", message_id="dup-1")
    )

    answered = [r for r in replies if r]
    assert len(answered) == 1
    assert "hadir.confirm_title" in keys_in("\n".join(o.text or "" for o in answered[0]))
    async with world.db.session() as s:
        marks = await s.scalar(
            select(func.count()).select_from(ProcessedInbound).where(ProcessedInbound.message_id == "dup-1")
        )
    assert marks == 1
