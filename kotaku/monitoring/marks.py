"""Monitoring after a report: the report's transaction marks its KSM (a `monitoring_mark` row, so the
mark survives a crash), and once the report is committed the process's monitoring worker is poked
(kotaku.monitoring.worker: the KSM is evaluated within `batch_seconds`, in a batch); with
`batch_seconds = 0`, or in a process that runs no worker, the marked KSMs are evaluated right away, each
in its own transaction. A monitoring failure is logged and never undoes or blocks a report; a KSM still
marked is picked up at start, by a worker, and by the next full sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.events import Event, ObstacleClosed, ObstacleOpened, ReportSaved, WorkerAdded
from kotaku.models import MonitoringMark
from kotaku.monitoring.worker import MonitoringWorker, evaluate_marked
from kotaku.uow import UnitOfWork

log = structlog.get_logger(__name__)

# The events after which a KSM's figures may have changed.
MARKING_EVENTS: tuple[type[Event], ...] = (ReportSaved, ObstacleOpened, ObstacleClosed, WorkerAdded)


async def mark(session: AsyncSession, ksm_id: int, at: datetime) -> None:
    """Mark a KSM for evaluation (one row per KSM; a later mark moves its time forward)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(MonitoringMark).values(ksm_id=ksm_id, marked_at=at)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["ksm_id"], set_={"marked_at": stmt.excluded.marked_at})
    )


async def on_event(uow: UnitOfWork, event: Event) -> None:
    """In-transaction handler: mark the event's KSM."""
    ksm_id = getattr(event, "ksm_id", None)
    if ksm_id is not None:
        await mark(uow.session, ksm_id, event.at)


async def evaluate_ksm(db: Database, settings: Settings, ksm_id: int, at: datetime) -> None:
    """Evaluate one KSM and apply its findings, then clear its mark if no newer report came meanwhile."""
    async with db.transaction() as session:
        await evaluate_marked(session, settings, at, [ksm_id])


class AfterReport:
    """After-commit handler: poke the worker, which evaluates the marked KSMs in its next batch; when no
    worker takes pokes (`batch_seconds = 0`, a process without one, a worker stopping), evaluate the KSMs
    the committed events marked, each once, in the update's task."""

    def __init__(self, db: Database, settings: Settings, worker: MonitoringWorker | None = None) -> None:
        self.db = db
        self.settings = settings
        self.worker = worker

    async def __call__(self, events: Sequence[Event]) -> None:
        if self.worker is not None and self.worker.accepting:
            self.worker.poke()
            return
        latest: dict[int, datetime] = {}
        for event in events:
            ksm_id = getattr(event, "ksm_id", None)
            if ksm_id is not None:
                latest[ksm_id] = max(latest.get(ksm_id, event.at), event.at)
        for ksm_id, at in latest.items():
            try:
                await evaluate_ksm(self.db, self.settings, ksm_id, at)
            except Exception:
                log.exception("monitoring_after_report_failed", ksm_id=ksm_id)


async def evaluate_pending(db: Database, settings: Settings, at: datetime) -> int:
    """Evaluate every KSM still marked (after a crash or a failed evaluation) as of `at`, in batches of
    `batch_ksms` (a failed batch KSM by KSM, each failure logged); returns how many were evaluated."""
    return await MonitoringWorker(db, settings, now=lambda: at).run_once()
