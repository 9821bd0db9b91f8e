"""Monitoring after a report: the report's transaction marks its KSM (a `monitoring_mark` row, so the
mark survives a crash), and once the report is committed the marked KSMs are evaluated, each in its own
transaction. A monitoring failure is logged and never undoes or blocks a report; a KSM still marked is
picked up at start and by the next full sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.events import Event, ObstacleClosed, ObstacleOpened, ReportSaved, WorkerAdded
from kotaku.models import MonitoringMark
from kotaku.monitoring import checks, lifecycle
from kotaku.monitoring import evaluate as evaluation
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
        findings = await evaluation.evaluate(session, settings, at, [ksm_id])
        await lifecycle.apply_findings(
            session,
            settings,
            findings,
            kinds=checks.enabled_kinds(settings.monitoring),
            now=at,
            ksm_ids=[ksm_id],
        )
        await session.execute(
            delete(MonitoringMark).where(MonitoringMark.ksm_id == ksm_id, MonitoringMark.marked_at <= at)
        )


class AfterReport:
    """After-commit handler: evaluate the KSMs the committed events marked, each once."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def __call__(self, events: Sequence[Event]) -> None:
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
    """Evaluate every KSM still marked (after a crash or a failed evaluation); returns how many."""
    async with db.session() as session:
        ksm_ids = list((await session.execute(select(MonitoringMark.ksm_id))).scalars())
    for ksm_id in ksm_ids:
        try:
            await evaluate_ksm(db, settings, ksm_id, at)
        except Exception:
            log.exception("monitoring_pending_failed", ksm_id=ksm_id)
    return len(ksm_ids)
