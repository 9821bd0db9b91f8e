"""Writing notifications to the outbox, in the caller's transaction, once per dedup key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import (
    Channel,
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    Person,
)

PRIORITY_HIGH = 1
PRIORITY_NORMAL = 5
PRIORITY_LOW = 9


async def enqueue(
    session: AsyncSession,
    *,
    identity: ChannelIdentity,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str,
    now: datetime,
    priority: int = PRIORITY_NORMAL,
) -> OutboxMessage | None:
    """Queue one message for one chat identity; a second call with the same key is a no-op."""
    return await _enqueue_once(
        session,
        key=f"{dedup_key}:{identity.channel.value}:{identity.external_id}",
        channel=identity.channel,
        recipient=identity.chat_id or identity.external_id,
        person_id=identity.person_id,
        kind=kind,
        payload=payload,
        now=now,
        priority=priority,
    )


async def notify_people(
    session: AsyncSession,
    people: Sequence[Person],
    *,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str,
    now: datetime,
    priority: int = PRIORITY_NORMAL,
) -> int:
    """Queue a message to every reachable identity of each person; returns how many were queued."""
    count = 0
    for person in people:
        identities = (
            await session.execute(
                select(ChannelIdentity).where(
                    ChannelIdentity.person_id == person.id, ChannelIdentity.unreachable_at.is_(None)
                )
            )
        ).scalars()
        for identity in identities:
            if await enqueue(
                session,
                identity=identity,
                kind=kind,
                payload=payload,
                dedup_key=dedup_key,
                now=now,
                priority=priority,
            ):
                count += 1
    return count


async def enqueue_to_chat(
    session: AsyncSession,
    *,
    channel: Channel,
    chat_id: str,
    kind: str,
    payload: dict[str, Any],
    dedup_key: str,
    now: datetime,
    priority: int = PRIORITY_NORMAL,
    person_id: int | None = None,
) -> OutboxMessage | None:
    """Queue one message for a chat that is not a person's identity (a KSM's bound group); once per key."""
    return await _enqueue_once(
        session,
        key=f"{dedup_key}:{channel.value}:{chat_id}",
        channel=channel,
        recipient=chat_id,
        person_id=person_id,
        kind=kind,
        payload=payload,
        now=now,
        priority=priority,
    )


async def _enqueue_once(
    session: AsyncSession,
    *,
    key: str,
    channel: Channel,
    recipient: str,
    person_id: int | None,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    priority: int,
) -> OutboxMessage | None:
    """Add a pending message under its full dedup key, unless one with that key exists already."""
    exists = (await session.execute(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key))).first()
    if exists is not None:
        return None
    msg = OutboxMessage(
        dedup_key=key,
        channel=channel,
        recipient=recipient,
        person_id=person_id,
        kind=kind,
        payload=payload,
        priority=priority,
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(msg)
    return msg


async def release_held(session: AsyncSession, channel: Channel, chat_id: str, now: datetime) -> int:
    """The recipient wrote again (the WhatsApp window is open): their held messages go out now."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.recipient == chat_id,
            OutboxMessage.status == OutboxStatus.HELD,
        )
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Delivery statuses a channel reports, in the order they happen; a late "sent" never overwrites "read".
DELIVERY_ORDER = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


async def record_delivery(
    session: AsyncSession,
    *,
    outbox_id: int | None,
    external_id: str | None,
    status: str,
    at: datetime,
    error: str | None = None,
    hold: bool = False,
) -> OutboxMessage | None:
    """Store a delivery status reported by the channel on its outbox entry (found by id, else by the
    channel's message id). `hold`: the channel refused it for now (WhatsApp 131047 outside the window),
    so the entry waits for the recipient as a held message. Returns the entry, None when unknown."""
    msg = await session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
    if msg is None and external_id:
        msg = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.external_id == external_id))
        ).scalar_one_or_none()
    if msg is None:
        return None
    if DELIVERY_ORDER.get(status, 0) >= DELIVERY_ORDER.get(msg.delivery_status or "", 0):
        msg.delivery_status, msg.delivery_status_at = status, at
    if error:
        msg.delivery_error = error[:1000]
    if external_id and not msg.external_id:
        msg.external_id = external_id[:128]
    if hold:
        msg.status, msg.last_error = OutboxStatus.HELD, error or "held"
    return msg
