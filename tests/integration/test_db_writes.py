"""SQLite writers queue in-process; a transaction opened inside another in the same task still works."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, OperationalError

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import AuditLog, Base


async def _db(settings: Settings) -> Database:
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return db


async def test_concurrent_writers_all_commit(settings: Settings) -> None:
    db = await _db(settings)

    async def write(i: int) -> None:
        async with db.transaction() as s:
            s.add(AuditLog(action="t", entity="x", entity_id=i))
            await s.flush()
            await asyncio.sleep(0)  # give the others a chance to interleave

    await asyncio.gather(*(write(i) for i in range(50)))
    async with db.session() as s:
        assert await s.scalar(select(func.count(AuditLog.id))) == 50
    await db.dispose()


async def test_nested_transaction_in_one_task_does_not_wait_for_itself(settings: Settings) -> None:
    db = await _db(settings)
    async with db.transaction() as outer:
        outer.add(AuditLog(action="outer", entity="x"))
        # Reads in a second transaction of the same task must not deadlock on the in-process queue.
        async with db.transaction() as inner:
            assert await asyncio.wait_for(inner.scalar(select(func.count(AuditLog.id))), timeout=5) == 0
    async with db.session() as s:
        assert await s.scalar(select(func.count(AuditLog.id))) == 1
    await db.dispose()


async def test_sqlite_commits_are_durable_by_default_and_configurable(settings: Settings) -> None:
    """FULL durability by default, by group commit: the connections write the WAL without syncing it
    (NORMAL) and `WalSync` syncs it before a transaction returns; FULL syncing each commit itself with
    group commit off; NORMAL only when configured (no sync at all)."""
    from sqlalchemy import text

    def with_db(**kw: object) -> Settings:
        return settings.model_copy(update={"database": settings.database.model_copy(update=kw)})

    for cfg, pragma, grouped in (
        (settings, 1, True),
        (with_db(sqlite_group_commit=False), 2, False),
        (with_db(sqlite_synchronous="NORMAL"), 1, False),
    ):
        db = Database(cfg)
        try:
            assert (db.wal_sync is not None) is grouped
            async with db.session() as s:
                assert (await s.execute(text("PRAGMA synchronous"))).scalar_one() == pragma
                assert (await s.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        finally:
            await db.dispose()


async def test_group_commit_returns_each_transaction_after_a_sync_that_began_after_its_commit(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 writers at once: every transaction returns only after a sync of the WAL that started once its
    commit was made, and the syncs are shared (fewer syncs than commits)."""
    import os as os_module

    db = await _db(settings)
    assert db.wal_sync is not None
    commits = 0
    sync_starts: list[int] = []  # the commits made when each sync started
    real_fsync = os_module.fsync

    def fsync(fd: int) -> None:
        sync_starts.append(commits)
        time.sleep(0.02)  # a slow disk: the commits made meanwhile share the next sync
        real_fsync(fd)

    monkeypatch.setattr("kotaku.db.os.fsync", fsync)
    covered: list[bool] = []
    real_durable = db.wal_sync.durable

    async def durable() -> None:  # called by `transaction()` once committed, with the write lock free
        nonlocal commits
        commits += 1
        mine = commits
        await real_durable()
        covered.append(any(start >= mine for start in sync_starts))  # a sync began after this commit

    async def write(i: int) -> None:
        async with db.transaction() as s:
            s.add(AuditLog(action="t", entity="x", entity_id=i))
            await s.flush()
            await asyncio.sleep(0)

    monkeypatch.setattr(db.wal_sync, "durable", durable)
    await asyncio.gather(*(write(i) for i in range(50)))
    assert all(covered) and len(covered) == 50
    assert 1 <= db.wal_sync.syncs < 25  # shared
    async with db.session() as s:
        assert await s.scalar(select(func.count(AuditLog.id))) == 50
    await db.dispose()


async def test_a_long_read_neither_holds_up_nor_waits_for_writes(settings: Settings) -> None:
    """`Database.read()` on SQLite is a WAL snapshot (deferred BEGIN): while it is open (an export of the
    whole program, say) a writer commits at once, and the read goes on seeing the state it started with. A
    plain session (BEGIN IMMEDIATE) would hold the write lock: the writer then fails after the busy timeout."""
    quick = settings.model_copy(
        update={"database": settings.database.model_copy(update={"sqlite_busy_timeout_ms": 200})}
    )
    db = await _db(quick)
    other = Database(quick)  # another process's connection, as a bot next to an export would have
    try:
        async with db.read() as reader:
            assert await reader.scalar(select(func.count(AuditLog.id))) == 0
            async with other.transaction() as w:
                w.add(AuditLog(action="during", entity="x"))
            # The snapshot the read started with, though the write is committed.
            assert await reader.scalar(select(func.count(AuditLog.id))) == 0
        async with db.read() as reader:
            assert await reader.scalar(select(func.count(AuditLog.id))) == 1
        # What the read must not do: a session holding the write lock makes the writer time out.
        async with db.session() as holder:
            await holder.scalar(select(func.count(AuditLog.id)))
            with pytest.raises(OperationalError, match="locked"):
                async with other.transaction() as w:
                    w.add(AuditLog(action="blocked", entity="x"))
    finally:
        await other.dispose()
        await db.dispose()


async def test_read_session_reads_on_every_backend_and_refuses_writes_on_postgresql(db: Database) -> None:
    async with db.transaction() as s:
        s.add(AuditLog(action="before", entity="x"))
    async with db.read() as reader:
        assert await reader.scalar(select(func.count(AuditLog.id))) == 1
    if db.is_sqlite:
        return
    with pytest.raises(DBAPIError, match="read-only"):
        async with db.read() as reader:
            reader.add(AuditLog(action="in a read", entity="x"))
            await reader.flush()
