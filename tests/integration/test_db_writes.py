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
