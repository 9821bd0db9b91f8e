"""The webhook inbox: an update is stored before the webhook is answered, then handled by a worker in
arrival order per conversation (different conversations at once). A crash after the answer loses
nothing: what was not handled yet is handled at the next start. A redelivered update (same external
id) is stored once.

Several processes on one PostgreSQL: any process may store any update, and a conversation is handled by
one process at a time, the one holding its lease (`inbox_lease`, renewed while it works, released when
it is done). A process that dies leaves leases that expire after `server.inbox_lease_s`; then another
process takes those conversations over, from the first update not marked handled (the dialog's
processed-id record makes an update handled but not yet marked a no-op). Handled updates are deleted
after `server.inbox_keep_days`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Channel, InboxLease, InboxMessage

log = structlog.get_logger(__name__)

Handler = Callable[[InboxMessage], Awaitable[None]]
PRUNE_EVERY_S = 3600.0  # how often a running worker deletes handled updates older than `keep_days`


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
    session: AsyncSession,
    channel: Channel,
    limit: int = 500,
    skip: set[str] | None = None,
    conversation: str | None = None,
) -> list[InboxMessage]:
    """Updates not handled yet, oldest first (without those of the conversations in `skip`; only those
    of `conversation` when given)."""
    stmt = select(InboxMessage).where(InboxMessage.channel == channel, InboxMessage.processed_at.is_(None))
    if conversation is not None:
        stmt = stmt.where(InboxMessage.conversation == conversation)
    if skip:
        stmt = stmt.where(InboxMessage.conversation.not_in(skip))
    return list((await session.execute(stmt.order_by(InboxMessage.id).limit(limit))).scalars())


def worker_options(settings: Settings) -> dict[str, Any]:
    """The InboxWorker keywords `kotaku run` takes from the configuration (`server.inbox_*`)."""
    return {"lease_seconds": settings.server.inbox_lease_s, "keep_days": settings.server.inbox_keep_days}


def process_owner() -> str:
    """This process's name on its leases: host, process id and a random part (a restart is a new owner)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def take_lease(
    session: AsyncSession, channel: Channel, conversation: str, owner: str, now: datetime, seconds: float
) -> bool:
    """Take (or extend) the lease of one conversation: True when nobody else holds an unexpired one."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    until = now + timedelta(seconds=seconds)
    values = insert(InboxLease).values(
        channel=channel, conversation=conversation, owner=owner, expires_at=until
    )
    stmt = values.on_conflict_do_update(
        index_elements=["channel", "conversation"],
        set_={"owner": owner, "expires_at": until},
        where=(InboxLease.expires_at < now) | (InboxLease.owner == owner),
    ).returning(InboxLease.owner)
    return (await session.execute(stmt)).scalar_one_or_none() == owner


async def release_lease(session: AsyncSession, channel: Channel, conversation: str, owner: str) -> None:
    await session.execute(
        delete(InboxLease).where(
            InboxLease.channel == channel, InboxLease.conversation == conversation, InboxLease.owner == owner
        )
    )


async def renew_leases(session: AsyncSession, owner: str, now: datetime, seconds: float) -> int:
    """Extend every lease `owner` holds; returns how many."""
    result = await session.execute(
        update(InboxLease)
        .where(InboxLease.owner == owner)
        .values(expires_at=now + timedelta(seconds=seconds))
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def prune(session: AsyncSession, before: datetime) -> int:
    """Delete updates handled before `before` (and leases expired then); returns how many updates."""
    result = await session.execute(
        delete(InboxMessage).where(InboxMessage.processed_at.is_not(None), InboxMessage.processed_at < before)
    )
    await session.execute(delete(InboxLease).where(InboxLease.expires_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


class InboxWorker:
    """Handles a channel's stored updates: `wake()` after storing one, `run(stop)` in the background,
    `drain()` to handle everything now (tests, start-up recovery). Each conversation with pending updates
    gets a task of its own (at most `concurrency` handle at once), so a slow update (a media download)
    holds back only the later updates of its own conversation. A handler that raises is retried on later
    passes, up to `max_attempts`; then the update is set aside with its error.

    `shared` (the default on PostgreSQL): other processes handle this channel's inbox too, so a
    conversation is taken by lease first (`lease_seconds`, renewed every third of it while in hand);
    one held by another process is left to it and looked at again at the next poll."""

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
        shared: bool | None = None,
        lease_seconds: float = 30.0,
        keep_days: int = 14,
        owner: str | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handle = handle
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        self.now = now
        self.shared = (not db.is_sqlite) if shared is None else shared
        self.lease_seconds = lease_seconds
        self.keep_days = keep_days
        self.owner = owner or process_owner()
        self._wake = asyncio.Event()
        self._retry_later: set[str] = set()
        self._elsewhere: set[str] = set()  # conversations another process holds the lease of
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
        async with self.db.read() as session:
            skip = self._retry_later | self._elsewhere | set(self._busy)
            batch = await pending(session, self.channel, skip=skip)
        by_conversation: dict[str, list[InboxMessage]] = {}
        for row in batch:
            by_conversation.setdefault(row.conversation, []).append(row)
        for conversation, rows in by_conversation.items():
            task = asyncio.create_task(
                self._one_conversation(conversation, rows), name=f"inbox-{self.channel.value}"
            )
            self._busy[conversation] = task
            task.add_done_callback(functools.partial(self._done, conversation))
        return len(by_conversation)

    def _done(self, conversation: str, task: asyncio.Task[None]) -> None:
        self._busy.pop(conversation, None)
        self._wake.set()

    async def _one_conversation(self, conversation: str, rows: list[InboxMessage]) -> None:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.concurrency)
        async with self._gate:
            leased = False
            try:
                if self.shared:
                    async with self.db.transaction() as session:
                        leased = await take_lease(
                            session, self.channel, conversation, self.owner, self.now(), self.lease_seconds
                        )
                    if not leased:
                        self._elsewhere.add(conversation)
                        return
                    # Read again under the lease: the process that held it may have handled some.
                    async with self.db.read() as session:
                        rows = await pending(session, self.channel, conversation=conversation)
                for row in rows:
                    if not await self._handle_one(row):
                        return  # keep the order: later updates of this conversation wait for this one
            except Exception:  # the database failed while marking: the rest is tried on a later pass
                log.exception("inbox_conversation_failed", channel=self.channel.value)
                self._retry_later.add(conversation)
            finally:
                if leased:
                    with contextlib.suppress(Exception):  # else it expires
                        async with self.db.transaction() as session:
                            await release_lease(session, self.channel, conversation, self.owner)

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
        retried_at = renewed_at = loop.time()
        pruned_at: float | None = None
        try:
            while not stop.is_set():
                self._wake.clear()
                if loop.time() - retried_at >= self.poll_seconds:  # failed updates: tried again each poll
                    self._retry_later, self._elsewhere, retried_at = set(), set(), loop.time()
                try:
                    if self.shared and self._busy and loop.time() - renewed_at >= self.lease_seconds / 3:
                        async with self.db.transaction() as session:
                            await renew_leases(session, self.owner, self.now(), self.lease_seconds)
                        renewed_at = loop.time()
                    if pruned_at is None or loop.time() - pruned_at >= PRUNE_EVERY_S:
                        pruned_at = loop.time()
                        async with self.db.transaction() as session:
                            await prune(session, self.now() - timedelta(days=self.keep_days))
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
