"""Looking after the outbox from the CLI: list, retry what failed, purge what is done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import OutboxMessage, OutboxStatus


async def list_messages(
    session: AsyncSession, *, status: OutboxStatus | None = None, kind: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """Newest first."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return list((await session.execute(stmt)).scalars())


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    found = {s.value: 0 for s in OutboxStatus}
    found.update({status.value: int(n) for status, n in rows.all()})
    return found


async def retry(session: AsyncSession, now: datetime, ids: Sequence[int] = ()) -> int:
    """Put failed messages (all, or those in `ids`) back in the queue with a fresh attempt count."""
    stmt = update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if ids:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    result = await session.execute(
        stmt.values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, claimed_by=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def purge(session: AsyncSession, now: datetime, older_than_days: int) -> int:
    """Delete sent and failed messages created more than `older_than_days` ago (pending ones stay)."""
    cutoff = now - timedelta(days=older_than_days)
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.FAILED]),
            OutboxMessage.created_at < cutoff,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
