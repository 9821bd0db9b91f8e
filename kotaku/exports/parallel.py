"""Parts of a large export in worker processes: how many, the pool, and what a worker is given.

A worker is a fresh process (`spawn`: never a fork of a process with an event loop and open connections)
that opens the database itself and gets the scope's KSMs and the export's moment from the process asking,
so every part computes "today" alike. It reads in its own read-only transaction (`Database.read()`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.exports import ExportRequest
from kotaku.exports.data import BATCH_KSMS, ExportData, KsmInfo, RingkasanKsm


def parallel_processes(settings: Settings, db: Database, ksms: int, batch: int = BATCH_KSMS) -> int:
    """How many worker processes write an export of `ksms` KSMs: 1 (this process) below
    `exports.parallel_min_ksms` or for a database other processes cannot open (SQLite in memory)."""
    cfg = settings.exports
    if ksms < cfg.parallel_min_ksms or ":memory:" in db.url or "mode=memory" in db.url:
        return 1
    wanted = cfg.processes or min(os.cpu_count() or 1, 4)
    return max(1, min(wanted, -(-ksms // batch)))  # at least a batch of the reading each


@contextmanager
def spawned_pool(
    processes: int, initializer: Any = None, initargs: tuple[Any, ...] = ()
) -> Iterator[ProcessPoolExecutor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        processes, mp_context=context, initializer=initializer, initargs=initargs
    ) as pool:
        yield pool


@dataclass(frozen=True)
class PartJob:
    """What a worker process needs to read its part of an export (pickled to it)."""

    settings: Settings
    url: str
    connect_args: dict[str, Any] | None
    request: ExportRequest
    ksms: list[KsmInfo]
    now: datetime  # the export's moment
    batch: int

    @classmethod
    def of(cls, db: Database, data: ExportData, request: ExportRequest) -> PartJob:
        return cls(
            settings=data.settings,
            url=db.url,
            connect_args=db.connect_args,
            request=request,
            ksms=data.ksms,
            now=data.now,
            batch=data.batch_size,
        )

    def with_ksms(self, ksms: list[KsmInfo]) -> PartJob:
        return replace(self, ksms=ksms)


@asynccontextmanager
async def part_data(job: PartJob) -> AsyncIterator[ExportData]:
    """The export's data for the job's KSMs, on a database connection of this process."""
    db = Database(job.settings, url=job.url, connect_args=job.connect_args)
    try:
        async with db.read() as session:
            yield await ExportData.load(
                session, job.settings, job.request, now=job.now, batch_size=job.batch, ksms=job.ksms
            )
    finally:
        await db.dispose()


def ringkasan_in_worker(job: PartJob) -> list[RingkasanKsm]:
    """In a worker process: Ringkasan's entries of the job's KSMs, worst first."""

    async def run() -> list[RingkasanKsm]:
        async with part_data(job) as data:
            return await data.ringkasan()

    return asyncio.run(run())
