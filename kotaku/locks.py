"""One asyncio lock per key (a conversation, a chat), so work for one key runs in order while different
keys run concurrently; idle locks are dropped once there are many."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    def __init__(self, max_idle: int = 10_000) -> None:
        self._locks: dict[K, asyncio.Lock] = {}
        self._max_idle = max_idle

    def lock(self, key: K) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            if len(self._locks) > self._max_idle:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[key] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        async with self.lock(key):
            yield

    def __len__(self) -> int:
        return len(self._locks)
