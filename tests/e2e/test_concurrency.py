"""Updates of one conversation are applied in order; different conversations run side by side."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from kotaku.models import ConversationState, Worker
from kotaku.schemas import InboundKind
from tests.catalogue_keys import keys_of, says
from tests.e2e.conftest import World


async def test_concurrent_taps_in_one_conversation_are_not_lost(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await ch.tap("Hari ini")
    async with world.db.session() as s:
        ids = list(
            (
                await s.execute(select(Worker.id).where(Worker.ksm_id == world.program["ksm_a"]).limit(10))
            ).scalars()
        )
    taps = [ch._inbound(kind=InboundKind.CHOICE, choice=f"t:{wid}") for wid in ids]
    await asyncio.gather(*(world.engine.handle(t) for t in taps))
    async with world.db.session() as s:
        conv = (
            await s.execute(select(ConversationState).where(ConversationState.user_id == "ketua-a"))
        ).scalar_one()
    assert sorted(conv.data["present"]) == sorted(ids)


async def test_different_conversations_progress_together(world: World) -> None:
    a, b = world.channel("ketua-a"), world.channel("ketua-b")
    await asyncio.gather(a.text("/hadir semua"), b.text("/hadir 7 L 3 P"))
    assert "hadir.save_paid" in keys_of(a.last_choices())
    assert says(b.all_text(), "hadir.line_workers", n=10, male=7, female=3)
