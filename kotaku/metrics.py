"""Prometheus metrics of one `kotaku run` process (prometheus-client), in a registry of their own per
`Metrics` object, so two programs in one process (the tests) never share a counter.

Counters and histograms move where things happen (the webhook routes, the update handlers, the outbox
dispatcher through `on_send`, the monitoring worker through `monitoring_batch`); the figures that live in
the database (inbox backlog, outbox depth, open alerts, KSMs marked for monitoring) are read when /metrics
is scraped, with a timeout, and cached for `health.cache_s` seconds so a scrape storm reads the database
once. docs/operations.md lists every metric.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from kotaku import clock
from kotaku.db import Database
from kotaku.models import (
    Alert,
    AlertStatus,
    Channel,
    InboxMessage,
    MonitoringMark,
    OutboxMessage,
    OutboxStatus,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Outbox kinds the reminder scheduler queues (kotaku.reminders.service): a delivered one is a reminder sent.
REMINDER_KINDS = frozenset({"reminder", "escalation", "digest", "weekly_summary"})
# Statuses a message waits in; sent and failed are final (and kept for `outbox purge`).
WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD)
CHANNELS = tuple(c.value for c in Channel if c != Channel.TEST)
# One handled update: from a few milliseconds (a button) to seconds (a photo downloaded and checked).
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# One monitoring batch (up to `monitoring.batch_ksms` KSMs): tens of milliseconds to seconds.
BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# From a KSM's mark to its evaluation: about `monitoring.batch_seconds`; beyond
# `monitoring.alert_within_seconds` (60 s by default) the promise is broken.
LAG_BUCKETS = (0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


@dataclass
class DatabaseFigures:
    """What the last database read found; `ok` False when it failed or timed out."""

    ok: bool = False
    read_at: float = 0.0
    inbox: dict[str, tuple[int, float]] = field(default_factory=dict)  # channel -> (backlog, oldest age s)
    outbox: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)  # (channel, status)
    alerts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (kind, severity, status)
    marks: tuple[int, float] = (0, 0.0)  # KSMs marked for monitoring, age s of the oldest mark

    @property
    def inbox_backlog(self) -> int:
        return sum(count for count, _ in self.inbox.values())


def _age(now: datetime, oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite gives naive UTC
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max((now - oldest).total_seconds(), 0.0)


async def read_figures(db: Database, now: datetime) -> DatabaseFigures:
    """Inbox backlog, outbox depth and open alerts in three grouped queries on the indexed columns, and
    the monitoring marks in one more (a small table: one row per KSM waiting for its evaluation)."""
    figures = DatabaseFigures(ok=True, read_at=time.monotonic())
    inbox, outbox = InboxMessage, OutboxMessage
    async with db.session() as s:
        inbox_rows = await s.execute(
            select(inbox.channel, func.count(), func.min(inbox.received_at))
            .where(inbox.processed_at.is_(None))
            .group_by(inbox.channel)
        )
        for channel, count, oldest in inbox_rows.all():
            figures.inbox[Channel(channel).value] = (int(count), _age(now, oldest))
        outbox_rows = await s.execute(
            select(outbox.channel, outbox.status, func.count(), func.min(outbox.created_at))
            .where(outbox.status.in_(WAITING))
            .group_by(outbox.channel, outbox.status)
        )
        for channel, status, count, oldest in outbox_rows.all():
            key = (Channel(channel).value, OutboxStatus(status).value)
            figures.outbox[key] = (int(count), _age(now, oldest))
        alert_rows = await s.execute(
            select(Alert.kind, Alert.severity, Alert.status, func.count())
            .where(Alert.status != AlertStatus.RESOLVED)
            .group_by(Alert.kind, Alert.severity, Alert.status)
        )
        for kind, severity, alert_status, count in alert_rows.all():
            figures.alerts[(str(kind), _label(severity), _label(alert_status))] = int(count)
        marks, oldest_mark = (
            await s.execute(
                select(func.count(), func.min(MonitoringMark.marked_at)).select_from(MonitoringMark)
            )
        ).one()
        figures.marks = (int(marks), _age(now, oldest_mark))
    return figures


class DatabaseGauges(Collector):
    """The database's figures as gauges, read at scrape time: `refresh()` (awaited by the /metrics route
    and /readyz) reads them at most every `cache_s` seconds within `timeout_s`; `collect()` (called by
    prometheus-client) gives the cached ones, and the pool use, which needs no query."""

    def __init__(
        self,
        db: Database,
        *,
        now: Callable[[], datetime] = clock.now,
        cache_s: float = 5.0,
        timeout_s: float = 2.0,
    ) -> None:
        self.db = db
        self.now = now
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self.figures = DatabaseFigures()
        self._lock = asyncio.Lock()

    def fresh(self) -> bool:
        return self.figures.read_at > 0 and time.monotonic() - self.figures.read_at < self.cache_s

    async def refresh(self) -> DatabaseFigures:
        """The figures, read again when older than `cache_s`; one read at a time (concurrent scrapes wait
        for it and share it). A failed or slow read gives figures with `ok` False."""
        if self.fresh():
            return self.figures
        async with self._lock:
            if self.fresh():
                return self.figures
            try:
                async with asyncio.timeout(self.timeout_s):
                    self.figures = await read_figures(self.db, self.now())
            except Exception:  # database down or slow: kotaku_db_up 0, the figures absent until it answers
                self.figures = DatabaseFigures(ok=False, read_at=time.monotonic())
        return self.figures

    def describe(self) -> Iterable[Metric]:
        return list(self._families(DatabaseFigures(ok=False)))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.figures))

    def _families(self, f: DatabaseFigures) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "kotaku_db_up", "1 when the last read of the database figures succeeded within the timeout"
        )
        up.add_metric([], 1.0 if f.ok else 0.0)
        yield up
        backlog = GaugeMetricFamily(
            "kotaku_inbox_backlog", "Stored webhook updates not handled yet", labels=["channel"]
        )
        inbox_age = GaugeMetricFamily(
            "kotaku_inbox_oldest_age_seconds",
            "Age of the oldest stored webhook update not handled yet (0 when none)",
            labels=["channel"],
        )
        depth = GaugeMetricFamily(
            "kotaku_outbox_depth", "Outbox messages waiting, by status", labels=["channel", "status"]
        )
        outbox_age = GaugeMetricFamily(
            "kotaku_outbox_oldest_age_seconds",
            "Age of the oldest outbox message in this status (0 when none)",
            labels=["channel", "status"],
        )
        alerts = GaugeMetricFamily(
            "kotaku_alerts_open", "Alerts not resolved", labels=["kind", "severity", "status"]
        )
        marks = GaugeMetricFamily(
            "kotaku_monitoring_marks_pending",
            "KSMs marked by a report and not evaluated yet (every process's, from the database)",
        )
        mark_age = GaugeMetricFamily(
            "kotaku_monitoring_oldest_mark_age_seconds",
            "Age of the oldest monitoring mark not evaluated yet (0 when none)",
        )
        if f.ok:
            for channel in sorted({Channel.TELEGRAM.value, Channel.WHATSAPP.value, *f.inbox}):
                count, age = f.inbox.get(channel, (0, 0.0))
                backlog.add_metric([channel], count)
                inbox_age.add_metric([channel], age)
            for channel in sorted({*CHANNELS, *(channel for channel, _ in f.outbox)}):
                for status in WAITING:
                    count, age = f.outbox.get((channel, status.value), (0, 0.0))
                    depth.add_metric([channel, status.value], count)
                    outbox_age.add_metric([channel, status.value], age)
            for (kind, severity, alert_status), count in sorted(f.alerts.items()):
                alerts.add_metric([kind, severity, alert_status], count)
            marks.add_metric([], f.marks[0])
            mark_age.add_metric([], f.marks[1])
        yield from (backlog, inbox_age, depth, outbox_age, alerts, marks, mark_age)
        yield from self._pool()

    def _pool(self) -> Iterator[Metric]:
        pool = self.db.engine.pool
        checked_out = GaugeMetricFamily(
            "kotaku_db_pool_checked_out", "Database connections in use (SQLAlchemy pool checkedout)"
        )
        size = GaugeMetricFamily("kotaku_db_pool_size", "Database connections the pool keeps (pool size)")
        for family, attr in ((checked_out, "checkedout"), (size, "size")):
            read = getattr(pool, attr, None)
            if callable(read):
                family.add_metric([], float(read()))
            yield family


class _Leader(Collector):
    def __init__(self, is_leader: Callable[[], bool]) -> None:
        self.is_leader = is_leader

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "kotaku_scheduler_leader", "1 when this process runs the reminder scheduler's jobs (the leader)"
        )
        family.add_metric([], 1.0 if self.is_leader() else 0.0)
        return [family]

    def describe(self) -> Iterable[Metric]:
        return self.collect()


class Metrics:
    """The metrics of one program; each instance has its own `CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.updates = Counter(
            "kotaku_updates",
            "Updates handled, by channel, kind (message, callback, status, error) and outcome",
            ["channel", "kind", "outcome"],
            registry=r,
        )
        self.update_seconds = Histogram(
            "kotaku_update_duration_seconds",
            "Time to handle one update (engine step and replies)",
            ["channel"],
            buckets=UPDATE_BUCKETS,
            registry=r,
        )
        self.webhook_requests = Counter(
            "kotaku_webhook_requests",
            "Webhook requests and items by channel and result (received, duplicate, rejected, bad, "
            "too_large, ignored, draining)",
            ["channel", "result"],
            registry=r,
        )
        self.replies = Counter(
            "kotaku_replies",
            "Direct replies to an update by channel and result (sent, edited, failed)",
            ["channel", "result"],
            registry=r,
        )
        self.truncated = Counter(
            "kotaku_replies_truncated",
            "Labels or texts cut to fit a channel's limits",
            ["channel"],
            registry=r,
        )
        self.sends = Counter(
            "kotaku_sends",
            "Outbox sends by channel and outcome (ok, retry, 429, permanent, held)",
            ["channel", "outcome"],
            registry=r,
        )
        self.reminders_sent = Counter(
            "kotaku_reminders_sent",
            "Reminder-scheduler messages delivered, by kind (reminder, escalation, digest, weekly_summary)",
            ["kind"],
            registry=r,
        )
        self.monitoring_batches = Histogram(
            "kotaku_monitoring_batch_duration_seconds",
            "Time of one monitoring batch (claim, evaluate, apply the findings, clear the marks) by outcome "
            "(ok, failed)",
            ["outcome"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.monitoring_lag = Histogram(
            "kotaku_monitoring_lag_seconds",
            "From a KSM's mark (its report) to its evaluation by the monitoring worker",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.database: DatabaseGauges | None = None
        self._leader: _Leader | None = None

    # --- what the program reports ------------------------------------------------------------------

    def webhook(self, channel: Channel | str, result: str, n: int = 1) -> None:
        if n > 0:
            self.webhook_requests.labels(_label(channel), result).inc(n)

    def update_handled(self, channel: str, kind: str, outcome: str, seconds: float) -> None:
        self.updates.labels(channel, kind, outcome).inc()
        self.update_seconds.labels(channel).observe(seconds)

    def reply(self, channel: Channel | str, result: str, n: int = 1) -> None:
        if n > 0:
            self.replies.labels(_label(channel), result).inc(n)

    def on_send(self, channel: Channel | str, kind: str, outcome: str) -> None:
        """The outbox dispatcher's outcome callback (kotaku.notify.dispatcher.Dispatcher `on_send`)."""
        self.sends.labels(_label(channel), outcome).inc()
        if outcome == "ok" and kind in REMINDER_KINDS:
            self.reminders_sent.labels(kind).inc()

    def monitoring_batch(self, seconds: float, lags: Sequence[float], ok: bool) -> None:
        """The monitoring worker's batch callback (kotaku.monitoring.worker.MonitoringWorker `on_batch`)."""
        self.monitoring_batches.labels("ok" if ok else "failed").observe(seconds)
        for lag in lags:
            self.monitoring_lag.observe(lag)

    # --- what is read at scrape time ---------------------------------------------------------------

    def watch_database(
        self,
        db: Database,
        *,
        now: Callable[[], datetime] = clock.now,
        cache_s: float = 5.0,
        timeout_s: float = 2.0,
    ) -> DatabaseGauges:
        """Export `db`'s figures (once: a second call gives the gauges already registered)."""
        if self.database is None:
            self.database = DatabaseGauges(db, now=now, cache_s=cache_s, timeout_s=timeout_s)
            self.registry.register(self.database)
        return self.database

    def watch_leader(self, is_leader: Callable[[], bool]) -> None:
        """`kotaku_scheduler_leader` from now on reads `is_leader()` (the running scheduler's flag)."""
        if self._leader is None:
            self._leader = _Leader(is_leader)
            self.registry.register(self._leader)
        else:
            self._leader.is_leader = is_leader

    async def refresh(self) -> None:
        if self.database is not None:
            await self.database.refresh()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (after `await refresh()` for fresh figures)."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """One sample's value, 0 when it does not exist yet (tests, the bench)."""
        found = self.registry.get_sample_value(name, labels)
        return float(found) if found is not None else 0.0


def _label(value: Channel | str | Any) -> str:
    """An enum's value (a StrEnum member or what the driver gave back) as a label."""
    return str(getattr(value, "value", value))
