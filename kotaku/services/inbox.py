"""The webhook inbox: an update is stored before the webhook is answered, then handled by a worker in
arrival order per conversation (different conversations at once). A crash after the answer loses
nothing: what was not handled yet is handled at the next start. A redelivered update (same external
id) is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
    `drain()` to handle everything now (tests, start-up recovery). Each conversation with pending updates
    gets a task of its own (at most `concurrency` handle at once), so a slow update (a media download)
    holds back only the later updates of its own conversation. A handler that raises is retried on later
    passes, up to `max_attempts`; then the update is set aside with its error."""

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
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._gate: asyncio.Semaphore | None = None
        self.handled = 0
        self.failed = 0

    def wake(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Handle every pending update, also those stored meanwhile; returns how many were handled
        (successfully or given up). An update that fails is tried again on a later pass, not in this one,
        and the later updates of its conversation wait for it."""
        before = self.handled + self.failed
        self._retry_later = set()
        while True:
            self._wake.clear()  # before looking: a wake while we look means look again
            if not await self._dispatch() and not self._busy:
                return self.handled + self.failed - before
            await self._wake.wait()  # a conversation is done, or an update was stored

    async def _dispatch(self) -> int:
        """Start a task for each conversation with pending updates that none is handling now (nor
        waiting for a retry); returns how many started. A few conversations wait ahead of the
        `concurrency` that run, no more (the others stay in the table)."""
        if len(self._busy) >= 4 * self.concurrency:
            return 0
        async with self.db.session() as session:
            skip = self._retry_later | set(self._busy)
            batch = await pending(session, self.channel, skip=skip)
        by_conversation: dict[str, list[InboxMessage]] = {}
        for row in batch:
            by_conversation.setdefault(row.conversation, []).append(row)
        for conversation, rows in by_conversation.items():
            task = asyncio.create_task(self._one_conversation(rows), name=f"inbox-{self.channel.value}")
            self._busy[conversation] = task
            task.add_done_callback(functools.partial(self._done, conversation))
        return len(by_conversation)

    def _done(self, conversation: str, task: asyncio.Task[None]) -> None:
        self._busy.pop(conversation, None)
        self._wake.set()

    async def _one_conversation(self, rows: list[InboxMessage]) -> None:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.concurrency)
        async with self._gate:
            try:
                for row in rows:
                    if not await self._handle_one(row):
                        return  # keep the order: later updates of this conversation wait for this one
            except Exception:  # the database failed while marking: the rest is tried on a later pass
                log.exception("inbox_conversation_failed", channel=self.channel.value)
                self._retry_later.add(rows[0].conversation)

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
        """Handle updates as they are stored (and those left from before) until `stop` is set; then wait
        for the updates in hand (cancelled with the task: those are handled at the next start)."""
        loop = asyncio.get_running_loop()
        retried_at = loop.time()
        try:
            while not stop.is_set():
                self._wake.clear()
                if loop.time() - retried_at >= self.poll_seconds:  # failed updates: tried again each poll
                    self._retry_later, retried_at = set(), loop.time()
                try:
                    await self._dispatch()
                except Exception:
                    log.exception("inbox_drain_failed", channel=self.channel.value)
                waiter = asyncio.create_task(self._wake.wait())
                stopper = asyncio.create_task(stop.wait())
                await asyncio.wait(
                    {waiter, stopper}, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                stopper.cancel()
            if self._busy:
                await asyncio.gather(*self._busy.values(), return_exceptions=True)
        finally:
            for task in list(self._busy.values()):
                task.cancel()


STOP_TIMEOUT = 10.0  # seconds an inbox worker gets to finish the update in hand at shutdown


async def stop_worker(
    task: asyncio.Task[Any], worker: InboxWorker | None, stop: asyncio.Event, grace: float = STOP_TIMEOUT
) -> None:
    """Stop a channel's inbox worker task: ask it to stop, wake it, and give it `grace` seconds to finish
    the update in hand; an update still in hand then is not marked handled and is handled at the next start."""
    stop.set()
    if worker is not None:
        worker.wake()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
