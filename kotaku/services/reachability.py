"""Whether a person can be reached on a channel: a user who blocked the bot is marked unreachable, so
notifications stop going there (the outbox skips identities with `unreachable_at`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import Channel, ChannelIdentity


async def mark_unreachable(
    session: AsyncSession, channel: Channel, chat_id: str, reason: str, now: datetime
) -> int:
    """Mark the identities whose chat (or account) is `chat_id` on `channel`; returns how many changed."""
    result = await session.execute(
        update(ChannelIdentity)
        .where(
            ChannelIdentity.channel == channel,
            or_(ChannelIdentity.chat_id == chat_id, ChannelIdentity.external_id == chat_id),
            ChannelIdentity.unreachable_at.is_(None),
        )
        .values(unreachable_at=now, unreachable_reason=reason[:200])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_reachable(session: AsyncSession, channel: Channel, external_id: str) -> int:
    """The user wrote again (unblocked the bot): notifications may go there again."""
    result = await session.execute(
        update(ChannelIdentity)
        .where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.external_id == external_id,
            ChannelIdentity.unreachable_at.is_not(None),
        )
        .values(unreachable_at=None, unreachable_reason=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
