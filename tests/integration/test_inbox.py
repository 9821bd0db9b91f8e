"""The webhook inbox: stored once per external id, handled in order per conversation, a failure retried
on a later pass without overtaking, given up after the limit, and what was left is handled at start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from kotaku.db import Database
from kotaku.models import Channel, InboxMessage
from kotaku.services import inbox

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def put(db: Database, external_id: str, conversation: str, n: int = 0) -> bool:
    async with db.transaction() as s:
        return await inbox.store(
            s,
            channel=Channel.WHATSAPP,
            external_id=external_id,
            conversation=conversation,
            body={"n": n, "id": external_id},
            now=NOW,
        )


async def test_a_redelivery_is_stored_once(db: Database) -> None:
    assert await put(db, "wamid.1", "u1") is True
    assert await put(db, "wamid.1", "u1") is False
    async with db.session() as s:
        assert len((await s.execute(select(InboxMessage))).scalars().all()) == 1


async def test_order_per_conversation_and_concurrency_across(db: Database) -> None:
    for i in range(5):
        await put(db, f"a{i}", "alice", i)
        await put(db, f"b{i}", "bob", i)
    seen: dict[str, list[int]] = {"alice": [], "bob": []}
    running = {"now": 0, "max": 0}

    async def handle(row: InboxMessage) -> None:
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        await asyncio.sleep(0.01)
        seen[row.conversation].append(row.body["n"])
        running["now"] -= 1

    worker = inbox.InboxWorker(db, Channel.WHATSAPP, handle, now=lambda: NOW)
    assert await worker.drain() == 10
    assert seen == {"alice": [0, 1, 2, 3, 4], "bob": [0, 1, 2, 3, 4]}
    assert running["max"] == 2  # the two conversations ran side by side
    assert await worker.drain() == 0  # nothing left


async def test_a_failure_waits_without_being_overtaken_then_gives_up(db: Database) -> None:
    await put(db, "a0", "alice", 0)
    await put(db, "a1", "alice", 1)
    await put(db, "b0", "bob", 0)
    done: list[str] = []
    broken = {"a0"}

    async def handle(row: InboxMessage) -> None:
        if row.external_id in broken:
            raise RuntimeError("database hiccup")
        done.append(row.external_id)

    worker = inbox.InboxWorker(db, Channel.WHATSAPP, handle, max_attempts=3, now=lambda: NOW)
    assert await worker.drain() == 1
    assert done == ["b0"]  # alice's second update waits for her first
    broken.clear()
    assert await worker.drain() == 2
    assert done == ["b0", "a0", "a1"]
    async with db.session() as s:
        first = (await s.execute(select(InboxMessage).where(InboxMessage.external_id == "a0"))).scalar_one()
    assert first.attempts == 1 and first.processed_at is not None and "hiccup" in (first.last_error or "")

    await put(db, "c0", "carol", 0)

    async def always_broken(row: InboxMessage) -> None:
        raise ValueError("bad update")

    stubborn = inbox.InboxWorker(db, Channel.WHATSAPP, always_broken, max_attempts=2, now=lambda: NOW)
    assert await stubborn.drain() == 0
    assert await stubborn.drain() == 1 and stubborn.failed == 1  # set aside after 2 attempts
    assert await stubborn.drain() == 0


async def test_what_was_stored_before_a_crash_is_handled_by_the_next_worker(db: Database) -> None:
    await put(db, "x0", "u", 0)
    await put(db, "x1", "u", 1)
    handled: list[int] = []

    async def handle(row: InboxMessage) -> None:
        handled.append(row.body["n"])

    stop = asyncio.Event()
    worker = inbox.InboxWorker(db, Channel.WHATSAPP, handle, poll_seconds=0.05, now=lambda: NOW)
    task = asyncio.create_task(worker.run(stop))
    for _ in range(100):
        if len(handled) == 2:
            break
        await asyncio.sleep(0.02)
    await put(db, "x2", "u", 2)
    worker.wake()
    for _ in range(100):
        if len(handled) == 3:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert handled == [0, 1, 2]


async def test_a_slow_update_holds_back_only_its_own_conversation(db: Database) -> None:
    """A media download that takes long must not keep other people waiting, also for updates stored
    after it started."""
    await put(db, "slow0", "alice", 0)
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(row: InboxMessage) -> None:
        if row.external_id == "slow0":
            await release.wait()
        handled.append(row.external_id)

    stop = asyncio.Event()
    worker = inbox.InboxWorker(db, Channel.WHATSAPP, handle, poll_seconds=0.05, now=lambda: NOW)
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.1)  # alice's update is in hand
    await put(db, "alice1", "alice", 1)
    await put(db, "bob0", "bob", 0)
    worker.wake()
    for _ in range(100):
        if handled:
            break
        await asyncio.sleep(0.02)
    assert handled == ["bob0"]
    release.set()
    for _ in range(100):
        if len(handled) == 3:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert handled == ["bob0", "slow0", "alice1"]
