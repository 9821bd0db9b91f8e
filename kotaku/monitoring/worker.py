"""The monitoring worker: the KSMs that reports marked (`monitoring_mark`) are evaluated in the background of
a process that handles updates, many KSMs per transaction, so that a save never waits for its evaluation
and a national program's reports cost a set-based evaluation per batch, not one per report."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import MonitoringMark
from kotaku.monitoring import evaluate as evaluation

log = structlog.get_logger(__name__)

# A KSM whose evaluation failed is tried again after `batch_seconds` (at least MIN_BACKOFF_S), then after
# twice as long each time, at most MAX_BACKOFF_S; the hourly sweep evaluates it meanwhile too.
MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 600.0

# What the worker reports after each batch: its seconds, the lag (seconds from mark to evaluation) of
# each KSM it evaluated, and whether it succeeded (kotaku.metrics.Metrics.monitoring_batch).
OnBatch = Callable[[float, Sequence[float], bool], None]


@dataclass(frozen=True)
class Mark:
    ksm_id: int
    marked_at: datetime


async def claim(
    session: AsyncSession,
    *,
    due_by: datetime,
    limit: int,
    exclude: Collection[int] = (),
    only: Collection[int] | None = None,
) -> list[Mark]:
    """Up to `limit` marks made at or before `due_by`, oldest first, held for this transaction: on
    PostgreSQL `FOR UPDATE SKIP LOCKED`, so a KSM another process is evaluating is left to it (SQLite has
    one writer at a time, and this transaction is it)."""
    stmt = select(MonitoringMark.ksm_id, MonitoringMark.marked_at).where(MonitoringMark.marked_at <= due_by)
    if exclude:
        stmt = stmt.where(MonitoringMark.ksm_id.not_in(sorted(exclude)))
    if only is not None:
        stmt = stmt.where(MonitoringMark.ksm_id.in_(sorted(only)))
    stmt = stmt.order_by(MonitoringMark.marked_at, MonitoringMark.ksm_id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return [Mark(ksm_id, marked_at) for ksm_id, marked_at in await session.execute(stmt)]


async def evaluate_marked(
    session: AsyncSession, settings: Settings, at: datetime, ksm_ids: list[int]
) -> None:
    """Evaluate these KSMs together as of `at` (one `evaluate`, one `apply_findings`), then clear their
    marks made at or before `at`: a mark renewed meanwhile stays for the next batch."""
    await evaluation.evaluate_in(session, settings, at, ksm_ids)
    await session.execute(
        delete(MonitoringMark).where(MonitoringMark.ksm_id.in_(ksm_ids), MonitoringMark.marked_at <= at)
    )


class MonitoringWorker:
    """Evaluates marked KSMs in batches, in a task of its own (`start()`, `await stop()`).

    A round starts `batch_seconds` after the previous one ended (so marks written by another process or
    left by a crash are found), or `batch_seconds` after the first `poke()` made during the previous one,
    whichever comes first; the first round runs at start. A round evaluates every KSM marked when it
    began, oldest mark first, `batch_ksms` per transaction. A failed batch is logged and tried again KSM
    by KSM, so one KSM that cannot be evaluated holds up no other; that KSM stays marked and is tried
    again in later rounds, less and less often. The worker logs every failure and never ends on one."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        now: Callable[[], datetime] = clock.now,
        on_batch: OnBatch | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.now = now
        self.on_batch = on_batch
        self.batch_seconds = settings.monitoring.batch_seconds
        self.batch_ksms = settings.monitoring.batch_ksms
        self.rounds = 0  # rounds done since the worker was made
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        self._first_poke: float | None = None
        self._idle_since = 0.0
        self._failures: dict[int, tuple[int, float]] = {}  # ksm_id -> (failures in a row, retry after)

    @property
    def accepting(self) -> bool:
        """True while the worker runs and is not stopping: a poke will be followed by a round."""
        return (
            self._task is not None
            and not self._task.done()
            and self._stopping is not None
            and not self._stopping.is_set()
        )

    def poke(self) -> None:
        """A KSM was marked (its report committed): a round starts at most `batch_seconds` from now."""
        if self._first_poke is None:
            self._first_poke = time.monotonic()

    def start(self) -> None:
        """Run the worker in the running event loop (its first round at once)."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(self._stopping), name="monitoring-worker")

    async def stop(self, grace: float = 10.0) -> None:
        """Evaluate what is still marked, then end; after `grace` seconds the round in progress is
        cancelled (its transaction rolled back) and what is left stays marked for another process or the
        next start."""
        task, stopping = self._task, self._stopping
        if task is None or stopping is None:
            return
        stopping.set()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            log.warning("monitoring_drain_timeout", grace_s=grace)
        self._task = None

    async def run_once(self) -> int:
        """One round: evaluate every KSM marked at or before now (except those waiting to be tried again
        after a failure), oldest mark first, `batch_ksms` per transaction; returns how many were evaluated."""
        due_by = self.now()
        skip = {ksm_id for ksm_id, (_, retry) in self._failures.items() if retry > time.monotonic()}
        evaluated = 0
        while True:
            claimed, ok = await self._batch(due_by, skip)
            if ok:
                evaluated += len(claimed)
            elif claimed:
                for mark in claimed:
                    one, one_ok = await self._batch(due_by, skip, only=[mark.ksm_id])
                    evaluated += len(one) if one_ok else 0
                # Those that failed alone are still marked: not again in this round.
                skip.update(m.ksm_id for m in claimed)
            if len(claimed) < self.batch_ksms:
                return evaluated

    async def _run(self, stopping: asyncio.Event) -> None:
        await self._round()
        while not stopping.is_set():
            await self._wait(stopping)
            if not stopping.is_set():
                await self._round()
        await self._round()  # the drain: what the last updates marked

    async def _wait(self, stopping: asyncio.Event) -> None:
        start = self._idle_since if self._first_poke is None else min(self._idle_since, self._first_poke)
        remaining = start + self.batch_seconds - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), remaining)

    async def _round(self) -> None:
        # Marks committed before this point are found by this round; a poke after it asks for the next.
        self._first_poke = None
        try:
            await self.run_once()
        except Exception:
            log.exception("monitoring_round_failed")
        finally:
            self.rounds += 1
            self._idle_since = time.monotonic()

    async def _batch(
        self, due_by: datetime, skip: Collection[int], only: list[int] | None = None
    ) -> tuple[list[Mark], bool]:
        """Claim, evaluate and clear one batch in one transaction: (the marks claimed, succeeded)."""
        claimed: list[Mark] = []
        started = time.perf_counter()
        at = max(self.now(), due_by)  # a clock set back must not leave claimed marks uncleared
        try:
            async with self.db.transaction() as session:
                claimed = await claim(session, due_by=due_by, limit=self.batch_ksms, exclude=skip, only=only)
                if claimed:
                    await evaluate_marked(session, self.settings, at, [m.ksm_id for m in claimed])
        except Exception:
            seconds = time.perf_counter() - started
            if only is None:
                log.exception("monitoring_batch_failed", ksms=len(claimed), seconds=round(seconds, 3))
            else:
                self._failed(only[0])
            if self.on_batch is not None:
                self.on_batch(seconds, [], False)
            return claimed, False
        if not claimed:
            return claimed, True
        seconds = time.perf_counter() - started
        lags = [max((at - m.marked_at).total_seconds(), 0.0) for m in claimed]
        for m in claimed:
            self._failures.pop(m.ksm_id, None)
        if max(lags) > self.settings.monitoring.alert_within_seconds:
            log.warning(
                "monitoring_behind",
                lag_s=round(max(lags), 1),
                alert_within_s=self.settings.monitoring.alert_within_seconds,
                ksms=len(claimed),
            )
        if self.on_batch is not None:
            self.on_batch(seconds, lags, True)
        return claimed, True

    def _failed(self, ksm_id: int) -> None:
        failures = self._failures.get(ksm_id, (0, 0.0))[0] + 1
        retry_in = min(max(self.batch_seconds, MIN_BACKOFF_S) * 2 ** (failures - 1), MAX_BACKOFF_S)
        self._failures[ksm_id] = (failures, time.monotonic() + retry_in)
        log.exception("monitoring_ksm_failed", ksm_id=ksm_id, failures=failures, retry_in_s=retry_in)
