"""The webhook inbox: stored once per external id, handled in order per conversation, a failure retried
on a later pass without overtaking, given up after the limit, and what was left is handled at start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from kotaku.db import Database
from kotaku.models import Channel, InboxLease, InboxMessage
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


# --- several processes: conversations by lease ------------------------------------------------------


async def test_two_processes_share_the_inbox_each_update_once_in_order(db: Database) -> None:
    """Two workers with their own owner names (two processes) drain one inbox at once: every update is
    handled once, each conversation in order, and both did some of the work."""
    for i in range(6):
        for who in ("alice", "bob", "carol", "dewi"):
            await put(db, f"{who}{i}", who, i)
    seen: dict[str, list[tuple[str, int]]] = {}

    def handler(name: str) -> inbox.Handler:
        async def handle(row: InboxMessage) -> None:
            await asyncio.sleep(0.005)
            seen.setdefault(row.conversation, []).append((name, row.body["n"]))

        return handle

    a, b = (
        inbox.InboxWorker(db, Channel.WHATSAPP, handler(n), now=lambda: NOW, shared=True, owner=n)
        for n in ("a", "b")
    )
    handled = await asyncio.gather(a.drain(), b.drain())
    for _ in range(3):  # a conversation the other held when looked at: taken at the next pass
        handled.extend(await asyncio.gather(a.drain(), b.drain()))
    assert sum(handled) == 24
    assert {who: [n for _, n in rows] for who, rows in seen.items()} == {
        who: list(range(6)) for who in ("alice", "bob", "carol", "dewi")
    }
    async with db.session() as s:
        assert (await s.execute(select(InboxLease))).scalars().all() == []  # all released
        left = (await s.execute(select(InboxMessage).where(InboxMessage.processed_at.is_(None)))).all()
    assert left == []


async def test_a_dead_processs_lease_is_respected_until_it_expires(db: Database) -> None:
    await put(db, "a0", "alice", 0)
    await put(db, "b0", "bob", 0)
    async with db.transaction() as s:  # a process that died while it held alice
        assert await inbox.take_lease(s, Channel.WHATSAPP, "alice", "dead", NOW, 30)
    handled: list[str] = []

    async def handle(row: InboxMessage) -> None:
        handled.append(row.external_id)

    clock = {"now": NOW + timedelta(seconds=29)}
    worker = inbox.InboxWorker(
        db, Channel.WHATSAPP, handle, now=lambda: clock["now"], shared=True, owner="live"
    )
    await worker.drain()
    assert handled == ["b0"]  # alice waits for the lease
    async with db.transaction() as s:
        assert not await inbox.take_lease(s, Channel.WHATSAPP, "alice", "other", clock["now"], 30)

    clock["now"] = NOW + timedelta(seconds=31)
    worker._elsewhere.clear()  # what the next poll does
    await worker.drain()
    assert handled == ["b0", "a0"]


async def test_leases_are_renewed_and_handled_updates_pruned(db: Database) -> None:
    async with db.transaction() as s:
        assert await inbox.take_lease(s, Channel.WHATSAPP, "alice", "me", NOW, 30)
        assert await inbox.take_lease(s, Channel.WHATSAPP, "alice", "me", NOW, 30)  # its own: extended
        assert await inbox.renew_leases(s, "me", NOW + timedelta(seconds=20), 30) == 1
    async with db.transaction() as s:  # renewed to NOW + 50: still held at NOW + 40
        assert not await inbox.take_lease(
            s, Channel.WHATSAPP, "alice", "you", NOW + timedelta(seconds=40), 30
        )

    await put(db, "old", "u", 0)
    await put(db, "open", "u", 1)
    async with db.transaction() as s:
        await s.execute(
            update(InboxMessage).where(InboxMessage.external_id == "old").values(processed_at=NOW)
        )
    async with db.transaction() as s:
        assert await inbox.prune(s, NOW + timedelta(days=1)) == 1
    async with db.session() as s:
        ids = (await s.execute(select(InboxMessage.external_id))).scalars().all()
        leases = (await s.execute(select(InboxLease))).scalars().all()
    assert ids == ["open"]  # the one not handled stays, whatever its age
    assert leases == []  # the lease expired before the cut-off went too
