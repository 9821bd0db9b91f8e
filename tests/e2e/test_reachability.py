"""A person marked unreachable (they blocked the bot) becomes reachable again by writing to it."""

from __future__ import annotations

from sqlalchemy import select

from kotaku.models import Channel, ChannelIdentity
from tests.e2e.conftest import World


async def _identity(world: World, code: str) -> ChannelIdentity:
    async with world.db.session() as s:
        stmt = select(ChannelIdentity).where(
            ChannelIdentity.channel == Channel.TEST, ChannelIdentity.external_id == code
        )
        return (await s.execute(stmt)).scalar_one()


async def test_writing_again_clears_the_unreachable_mark(world: World) -> None:
    async with world.db.transaction() as s:
        stmt = select(ChannelIdentity).where(ChannelIdentity.external_id.in_(["ketua-a", "fasil"]))
        for identity in (await s.execute(stmt)).scalars():
            identity.unreachable_at, identity.unreachable_reason = world.clock(), "403 Forbidden: blocked"
    await world.channel("ketua-a").text("/bantuan")
    assert (await _identity(world, "ketua-a")).unreachable_at is None
    still = await _identity(world, "fasil")
    assert still.unreachable_at is not None and still.unreachable_reason == "403 Forbidden: blocked"
