"""SQLite writers queue in-process; a transaction opened inside another in the same task still works."""

from __future__ import annotations

import asyncio

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
    """synchronous=FULL: a commit returns once the write-ahead log is on disk, so what the bot acknowledged
    survives a power cut; NORMAL only when configured."""
    from sqlalchemy import text

    for configured, expected in ((None, 2), ("NORMAL", 1)):
        cfg = (
            settings
            if configured is None
            else settings.model_copy(
                update={"database": settings.database.model_copy(update={"sqlite_synchronous": configured})}
            )
        )
        db = Database(cfg)
        try:
            async with db.session() as s:
                assert (await s.execute(text("PRAGMA synchronous"))).scalar_one() == expected
                assert (await s.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        finally:
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
