"""Writing notifications to the outbox, in the caller's transaction, once per dedup key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import (
    Bkm,
    Channel,
    ChannelIdentity,
    Ksm,
    OutboxMessage,
    OutboxStatus,
    Person,
    Region,
    Role,
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
    key = f"{dedup_key}:{identity.channel.value}:{identity.external_id}"
    exists = (await session.execute(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key))).first()
    if exists is not None:
        return None
    msg = OutboxMessage(
        dedup_key=key,
        channel=identity.channel,
        recipient=identity.chat_id or identity.external_id,
        person_id=identity.person_id,
        kind=kind,
        payload=payload,
        priority=priority,
        status=OutboxStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(msg)
    return msg


async def people_in_scope_of_ksm(session: AsyncSession, ksm_id: int, roles: Sequence[Role]) -> list[Person]:
    """Active people with one of `roles` whose scope contains the KSM: the KSM itself, its BKM, one of
    the regions above it (by the region path), or the whole program. One query."""
    place = (
        await session.execute(
            select(Ksm.bkm_id, Region.path)
            .join(Bkm, Bkm.id == Ksm.bkm_id)
            .join(Region, Region.id == Bkm.kelurahan_id)
            .where(Ksm.id == ksm_id)
        )
    ).one_or_none()
    if place is None:
        return []
    bkm_id, path = place
    regions_above = select(Region.id).where(Region.code.in_(path.split("/")))
    national = and_(
        Person.scope_ksm_id.is_(None), Person.scope_bkm_id.is_(None), Person.scope_region_id.is_(None)
    )
    stmt = (
        select(Person)
        .where(
            Person.role.in_(list(roles)),
            Person.active.is_(True),
            or_(
                Person.scope_ksm_id == ksm_id,
                Person.scope_bkm_id == bkm_id,
                Person.scope_region_id.in_(regions_above),
                national,
            ),
        )
        .order_by(Person.id)
    )
    return list((await session.execute(stmt)).scalars())


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
    key = f"{dedup_key}:{channel.value}:{chat_id}"
    exists = (await session.execute(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key))).first()
    if exists is not None:
        return None
    msg = OutboxMessage(
        dedup_key=key,
        channel=channel,
        recipient=chat_id,
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
