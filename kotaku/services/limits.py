"""Sliding-window counters in the database, so a limit holds across every bot process: each key counts
its events in buckets of a twelfth of the window, and the window's count is the sum of its buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import RateCounter

BUCKETS_PER_WINDOW = 12
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """A sliding window of `length`, counted in buckets of `length / 12` (so it is exact to one bucket)."""

    length: timedelta

    @property
    def bucket(self) -> timedelta:
        return self.length / BUCKETS_PER_WINDOW

    def bucket_start(self, at: datetime) -> datetime:
        return at - (at - _EPOCH) % self.bucket

    def index(self, at: datetime) -> int:
        """Which fixed window `at` falls in: for "once per window" keys."""
        return (at - _EPOCH) // self.length

    def since(self, at: datetime) -> datetime:
        """The start of the oldest bucket still in the window at `at`."""
        return self.bucket_start(at) - self.bucket * (BUCKETS_PER_WINDOW - 1)


async def count(session: AsyncSession, key: str, window: Window, at: datetime) -> int:
    """Events of `key` in the window that ends at `at`."""
    stmt = select(func.coalesce(func.sum(RateCounter.count), 0)).where(
        RateCounter.key == key, RateCounter.bucket_start >= window.since(at)
    )
    return int((await session.execute(stmt)).scalar_one())


async def hit(session: AsyncSession, keys: list[str], window: Window, at: datetime) -> None:
    """Count one event for each key (an atomic upsert: concurrent processes add up), and drop the
    buckets that left every window of this length."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    start = window.bucket_start(at)
    for key in keys:
        stmt = insert(RateCounter).values(key=key, bucket_start=start, count=1)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["key", "bucket_start"], set_={"count": RateCounter.count + 1}
            )
        )
    await session.execute(
        delete(RateCounter).where(RateCounter.key.in_(keys), RateCounter.bucket_start < window.since(at))
    )
