"""Whether a person can be reached on a channel: a user who blocked the bot is marked unreachable when a
send says so, and notifications stop going there (the outbox skips identities with `unreachable_at`);
writing to the bot again clears the mark (the engine does, on every message)."""

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
