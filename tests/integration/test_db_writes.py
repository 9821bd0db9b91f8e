"""SQLite writers queue in-process; a transaction opened inside another in the same task still works."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

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
