"""The webhook inbox: an update is stored before the webhook is answered, then handled by a worker in
arrival order per conversation (different conversations at once). A crash after the answer loses
nothing: what was not handled yet is handled at the next start. A redelivered update (same external
id) is stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.db import Database
from kotaku.models import Channel, InboxMessage

log = structlog.get_logger(__name__)

Handler = Callable[[InboxMessage], Awaitable[None]]


async def store(
    session: AsyncSession,
    *,
    channel: Channel,
    external_id: str,
    conversation: str,
    body: dict[str, Any],
    now: datetime,
    kind: str = "message",
) -> bool:
    """Store one update; False when this external id was stored before (a redelivery)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(InboxMessage)
        .values(
            channel=channel,
            external_id=external_id[:200],
            conversation=conversation[:200],
            kind=kind,
            body=body,
            received_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        .returning(InboxMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def pending(
    session: AsyncSession, channel: Channel, limit: int = 500, skip: set[str] | None = None
) -> list[InboxMessage]:
    """Updates not handled yet, oldest first (without those of the conversations in `skip`)."""
    stmt = select(InboxMessage).where(InboxMessage.channel == channel, InboxMessage.processed_at.is_(None))
    if skip:
        stmt = stmt.where(InboxMessage.conversation.not_in(skip))
    return list((await session.execute(stmt.order_by(InboxMessage.id).limit(limit))).scalars())


class InboxWorker:
    """Handles a channel's stored updates: `wake()` after storing one, `run(stop)` in the background,
    `drain()` to handle everything now (tests, start-up recovery). A handler that raises is retried on
    later passes, up to `max_attempts`; then the update is set aside with its error."""

    def __init__(
        self,
        db: Database,
        channel: Channel,
        handle: Handler,
        *,
        concurrency: int = 16,
        poll_seconds: float = 1.0,
        max_attempts: int = 5,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handle = handle
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.now = now
        self._wake = asyncio.Event()
        self._retry_later: set[str] = set()
        self.handled = 0
        self.failed = 0

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Handle every pending update once; returns how many were handled (successfully or given up).
        An update that fails is tried again on a later pass, not in this one, and the later updates of its
        conversation wait for it."""
        total = 0
        self._retry_later = set()
        while True:
            async with self.db.session() as session:
                batch = await pending(session, self.channel, skip=self._retry_later)
            if not batch:
                return total
            before = self.handled + self.failed
            await self._handle_batch(batch)
            total += self.handled + self.failed - before

    async def _handle_batch(self, batch: list[InboxMessage]) -> None:
        by_conversation: dict[str, list[InboxMessage]] = {}
        for row in batch:
            by_conversation.setdefault(row.conversation, []).append(row)
        gate = asyncio.Semaphore(self.concurrency)

        async def one_conversation(rows: list[InboxMessage]) -> None:
            async with gate:
                for row in rows:
                    if not await self._handle_one(row):
                        return  # keep the order: later updates of this conversation wait for this one

        await asyncio.gather(*(one_conversation(rows) for rows in by_conversation.values()))

    async def _handle_one(self, row: InboxMessage) -> bool:
        try:
            await self.handle(row)
        except Exception as exc:
            attempts = row.attempts + 1
            give_up = attempts >= self.max_attempts
            log.exception("inbox_update_failed", channel=self.channel.value, id=row.id, attempts=attempts)
            async with self.db.transaction() as session:
                await session.execute(
                    update(InboxMessage)
                    .where(InboxMessage.id == row.id)
                    .values(
                        attempts=attempts,
                        last_error=f"{type(exc).__name__}: {exc}"[:1000],
                        processed_at=self.now() if give_up else None,
                    )
                )
            if give_up:
                self.failed += 1
            else:
                self._retry_later.add(row.conversation)
            return give_up
        async with self.db.transaction() as session:
            await session.execute(
                update(InboxMessage).where(InboxMessage.id == row.id).values(processed_at=self.now())
            )
        self.handled += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Handle updates as they are stored (and those left from before) until `stop` is set."""
        while not stop.is_set():
            try:
                await self.drain()
            except Exception:
                log.exception("inbox_drain_failed", channel=self.channel.value)
            self._wake.clear()
            waiter = asyncio.create_task(self._wake.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait(
                {waiter, stopper}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            stopper.cancel()
