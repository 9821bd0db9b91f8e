"""The composition root: the one place that wires settings, database, clock, catalogue, flows, event
handlers and senders. The CLI, every channel, the tests and the benches call `bootstrap()`; nothing else
wires. Tests pass fakes (a clock, a database on another URL, senders, another list of flows)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import structlog

from kotaku import catalogue as catalogue_module
from kotaku import clock
from kotaku.catalogue import Catalogue
from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.dialog.engine import Engine
from kotaku.dialog.flow import Flow, FlowRegistry
from kotaku.dialog.flows import default_flows
from kotaku.dialog.flows.download.delivery import ExportDelivery
from kotaku.events import EventBus, ExportRequested
from kotaku.metrics import Metrics
from kotaku.models import Channel
from kotaku.monitoring import marks
from kotaku.monitoring.worker import MonitoringWorker
from kotaku.notify.ports import Sender
from kotaku.reminders.scheduler import Background, start_background
from kotaku.uow import UnitOfWork

log = structlog.get_logger(__name__)


@dataclass
class Kotaku:
    """The wired program: what a channel, a CLI command, a test or a bench works with."""

    settings: Settings
    db: Database
    now: Callable[[], datetime]
    catalogue: Catalogue
    flows: FlowRegistry
    bus: EventBus
    senders: dict[Channel, Sender] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    # Evaluates the KSMs that reports marked, in batches, once `start_background` started it (None with
    # `monitoring.batch_seconds = 0` or `evaluate_after_report = false`).
    monitoring: MonitoringWorker | None = None
    _engine: Engine | None = field(default=None, init=False)

    def uow(self) -> UnitOfWork:
        """A unit of work: one transaction whose domain events reach the registered handlers."""
        return UnitOfWork(self.db, self.bus)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine(
                settings=self.settings, db=self.db, flows=self.flows, unit_of_work=self.uow, now=self.now
            )
        return self._engine

    def new_engine(self) -> Engine:
        """A fresh engine on the same database (what a process restart gives)."""
        self._engine = None
        return self.engine

    def add_sender(self, channel: Channel, sender: Sender) -> None:
        self.senders[channel] = sender

    async def start_background(self) -> Background:
        """What a process that handles updates runs beside them: the monitoring worker (its first round
        evaluates the KSMs still marked from before: a crash, a failed evaluation, another process), or
        with `batch_seconds = 0` those KSMs evaluated now; then the reminder scheduler and the outbox
        dispatcher for the senders added so far (all reporting to `metrics`)."""
        if self.settings.monitoring.evaluate_after_report and self.monitoring is None:
            pending = await marks.evaluate_pending(self.db, self.settings, self.now())
            if pending:
                log.info("monitoring_pending_evaluated", ksms=pending)
        background = await start_background(
            self.db, self.settings, self.senders, now=self.now, on_send=self.metrics.on_send
        )
        scheduler = background.scheduler
        self.metrics.watch_leader(lambda: scheduler is not None and scheduler.is_leader)
        if self.monitoring is None:
            return background
        self.monitoring.start()
        return WithMonitoring(background, self.monitoring)

    async def close(self) -> None:
        if self.monitoring is not None:  # a caller that never stopped its background
            await self.monitoring.stop(grace=self.settings.server.shutdown_s / 4)
        await self.db.dispose()

    async def __aenter__(self) -> Kotaku:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class WithMonitoring(Background):
    """The background of a process that handles updates: the reminder scheduler and the outbox dispatcher
    (`parts`) and the monitoring worker. `stop(grace)` gives the worker up to half of `grace` to evaluate
    what is still marked (the dispatcher still runs, so the alerts it queues can go out), then stops the
    dispatcher and the scheduler with the rest."""

    def __init__(self, parts: Background, worker: MonitoringWorker) -> None:
        super().__init__(parts.scheduler, parts.dispatcher, None)
        self.parts = parts
        self.worker = worker

    async def stop(self, grace: float = 10.0) -> None:
        started = time.monotonic()
        await self.worker.stop(grace=grace / 2)
        await self.parts.stop(grace=max(grace - (time.monotonic() - started), grace / 2))


def monitoring_worker(
    settings: Settings, db: Database, now: Callable[[], datetime], metrics: Metrics
) -> MonitoringWorker | None:
    """The batching worker when reports are evaluated in the background (`batch_seconds` > 0)."""
    cfg = settings.monitoring
    if not cfg.evaluate_after_report or cfg.batch_seconds == 0:
        return None
    return MonitoringWorker(db, settings, now=now, on_batch=metrics.monitoring_batch)


def event_bus(settings: Settings, db: Database, worker: MonitoringWorker | None = None) -> EventBus:
    """The domain events' handlers: monitoring marks a KSM in the report's transaction and, once the
    report is committed, pokes `worker` (or evaluates the KSM, when no worker runs); a requested export
    is built in the background after commit and sent to the requester's chat."""
    bus = EventBus()
    if settings.monitoring.evaluate_after_report:
        for event_type in marks.MARKING_EVENTS:
            bus.on(event_type, marks.on_event)
        bus.after_commit(marks.MARKING_EVENTS, marks.AfterReport(db, settings, worker))
    bus.after_commit((ExportRequested,), ExportDelivery(db, settings))
    return bus


def bootstrap(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    now: Callable[[], datetime] | None = None,
    flows: Iterable[Flow[Any]] | None = None,
    senders: dict[Channel, Sender] | None = None,
) -> Kotaku:
    """Wire the program. Everything has a default: settings from config.toml and the environment, the
    configured database, the real clock, every flow, no senders (channels add theirs)."""
    settings = settings or load_settings()
    db = db or Database(settings)
    now = now or clock.now
    metrics = Metrics()
    worker = monitoring_worker(settings, db, now, metrics)
    return Kotaku(
        settings=settings,
        db=db,
        now=now,
        catalogue=catalogue_module.default(),
        flows=FlowRegistry(default_flows() if flows is None else flows),
        bus=event_bus(settings, db, worker),
        senders=dict(senders or {}),
        metrics=metrics,
        monitoring=worker,
    )
