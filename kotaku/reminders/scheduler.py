"""The running side: APScheduler jobs (rebuilt at start from config and the database), one leader among
several instances (a PostgreSQL advisory lock), and `start_background` that runs them with the dispatcher.

Job bodies only call `run_due`, which decides what is due and writes outbox rows with dedup keys, so a
missed, repeated or concurrent run never sends twice. Cron jobs fire at the exact local times of every zone
in use (three waves for WIB, WITA and WIT); a sweep every `sweep_minutes` catches up after downtime and
picks up times changed with /pengingat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kotaku import clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Channel, Ksm, Person, Region
from kotaku.notify.dispatcher import Dispatcher, OnSend
from kotaku.notify.ports import Sender
from kotaku.reminders.service import RunReport, run_due

log = logging.getLogger(__name__)

# The leader lock: `pg_try_advisory_lock(LEADER_LOCK_KEY, hashtext(current_schema()))`, shared by every
# kotaku instance on one database and schema ("KOTA" in ASCII; instances on other schemas of the same
# database, another deployment, have their own leader).
LEADER_LOCK_KEY = 0x4B4F5441
LEADER_LOCK = "pg_try_advisory_lock(:k, hashtext(current_schema()))"
LEADER_UNLOCK = "pg_advisory_unlock(:k, hashtext(current_schema()))"
SWEEP_JOB_ID = "reminders:sweep"


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: BaseTrigger


async def _zones_and_times(db: Database, settings: Settings) -> tuple[set[str], set[time]]:
    async with db.session() as s:
        zones = set((await s.execute(select(Region.timezone).distinct())).scalars())
        ksm_times = set((await s.execute(select(Ksm.reminder_time).distinct())).scalars())
        person_times = set((await s.execute(select(Person.reminder_time).distinct())).scalars())
    return zones or {settings.app.default_timezone}, {t for t in ksm_times | person_times if t is not None}


def build_jobs(settings: Settings, zones: set[str], extra_times: set[time]) -> list[JobSpec]:
    """Cron jobs at every configured and overridden local time in every zone, the weekly job, the sweep."""
    cfg = settings.reminders
    times = {cfg.first_time, cfg.escalation_time, *extra_times}
    times |= {t for t in (cfg.second_time, cfg.digest_time) if t is not None}
    jobs = [
        JobSpec(
            f"reminders:{tz}:{at.strftime('%H:%M')}",
            CronTrigger(hour=at.hour, minute=at.minute, timezone=tz),
        )
        for tz in sorted(zones)
        for at in sorted(times)
    ]
    if cfg.weekly_time is not None:
        jobs += [
            JobSpec(
                f"weekly:{tz}",
                CronTrigger(
                    day_of_week=cfg.weekly_day,
                    hour=cfg.weekly_time.hour,
                    minute=cfg.weekly_time.minute,
                    timezone=tz,
                ),
            )
            for tz in sorted(zones)
        ]
    jobs.append(JobSpec(SWEEP_JOB_ID, IntervalTrigger(minutes=cfg.sweep_minutes)))
    return jobs


class ReminderScheduler:
    """APScheduler jobs that run `run_due` on the leader instance only."""

    def __init__(self, db: Database, settings: Settings, *, now: Callable[[], datetime] = clock.now) -> None:
        self.db = db
        self.settings = settings
        self.now = now
        self.scheduler: AsyncIOScheduler | None = None
        self.is_leader = False
        self._lock_conn: AsyncConnection | None = None
        self._leader_task: asyncio.Task[None] | None = None

    # --- leadership ----------------------------------------------------------------------------------

    async def try_lead(self) -> bool:
        """Become leader if nobody is (SQLite: always, a single instance is assumed)."""
        if self.is_leader:
            return True
        if self.db.is_sqlite:
            self.is_leader = True
            return True
        conn = await self.db.engine.connect()
        try:
            got = bool((await conn.execute(text(f"SELECT {LEADER_LOCK}"), {"k": LEADER_LOCK_KEY})).scalar())
            await conn.commit()
            if got:
                await self._bound_session(conn)
        except Exception:
            await conn.close()
            raise
        if got:
            self._lock_conn = conn
            self.is_leader = True
            log.info("reminder scheduler is leader")
        else:
            await conn.close()
        return got

    def _retry_seconds(self) -> float:
        """How often a standby tries to lead and the leader checks its lock: a third of the failover time."""
        return self.settings.scheduler.failover_s / 3

    async def _bound_session(self, conn: AsyncConnection) -> None:
        """The server ends the lock's session when the leader stops checking in for `failover_s` (a hung
        process, a cut network: keepalives, then the idle limit), so the lock is free for another instance
        within that time; the leader checks in every third of it."""
        limit = self.settings.scheduler.failover_s
        keepalive = max(1, int(limit / 4))
        for sql in (
            f"SET idle_session_timeout = {int(limit * 1000)}",  # PostgreSQL 14 and later
            f"SET tcp_keepalives_idle = {keepalive}",
            f"SET tcp_keepalives_interval = {keepalive}",
            "SET tcp_keepalives_count = 2",
        ):
            try:
                async with conn.begin_nested():
                    await conn.execute(text(sql))
            except Exception:
                log.debug("leader lock session setting not applied: %s", sql)
        await conn.commit()

    async def _check_lock(self) -> None:
        """Leadership ends when the lock's connection dies; then others may take over."""
        if self._lock_conn is None:
            return
        try:
            await self._lock_conn.execute(text("SELECT 1"))
            await self._lock_conn.commit()
        except Exception:
            log.warning("leader lock connection lost")
            self.is_leader = False
            self._lock_conn = None

    async def resign(self) -> None:
        """Release the leader lock. A lock connection that cannot release it (a check in progress was
        cancelled, the server went away) is dropped, not given back to the pool: its session ends on the
        server and the lock with it."""
        conn, self._lock_conn = self._lock_conn, None
        self.is_leader = False
        if conn is None:
            return
        released = False
        if not conn.invalidated:
            try:
                await conn.execute(text(f"SELECT {LEADER_UNLOCK}"), {"k": LEADER_LOCK_KEY})
                await conn.commit()
                released = True
            except Exception as exc:
                log.warning("leader lock not released by unlock: %s", exc)
        if not released:
            log.warning("dropping the leader lock's connection: its session ends and the lock with it")
            with contextlib.suppress(Exception):
                await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()

    async def _leadership_loop(self) -> None:
        while True:
            await asyncio.sleep(self._retry_seconds())
            try:
                if self.is_leader:
                    await self._check_lock()
                elif await self.try_lead():
                    # Taken over from a leader that died: catch up at once with what it left due.
                    await self._job()
            except Exception:
                log.exception("leader election failed")

    # --- the job body --------------------------------------------------------------------------------

    async def tick(self, at: datetime | None = None) -> RunReport | None:
        """Queue what is due now; None when this instance is not the leader."""
        if not self.is_leader:
            return None
        now = at or self.now()
        for attempt in range(3):
            try:
                async with self.db.transaction() as s:
                    return await run_due(s, self.settings, now)
            except IntegrityError:
                # Another writer queued the same key between our check and insert: run again, it is a no-op.
                if attempt == 2:
                    raise
        return None

    async def _job(self) -> None:
        try:
            report = await self.tick()
        except Exception:
            log.exception("reminder job failed")
            return
        if report is not None and report.queued:
            log.info("reminders queued", extra=report.as_dict())

    async def _monitoring_job(self) -> None:
        """The full sweep: every check over the whole program (idempotent: one open alert per subject)."""
        if not self.is_leader:
            return
        from kotaku.monitoring.evaluate import evaluate_and_apply

        try:
            result = await evaluate_and_apply(self.db, self.settings, self.now())
        except Exception:
            log.exception("monitoring sweep failed")
            return
        log.info("monitoring sweep", extra={"findings": len(result.findings), "seconds": result.seconds})

    async def _alert_job(self) -> None:
        """Escalate unacknowledged critical alerts and queue due digests (dedup keys make reruns no-ops)."""
        if not self.is_leader:
            return
        from kotaku.monitoring.lifecycle import escalate_due, queue_digest

        try:
            async with self.db.transaction() as s:
                await escalate_due(s, self.settings, self.now())
            async with self.db.transaction() as s:
                await queue_digest(s, self.settings, self.now())
        except Exception:
            log.exception("alert job failed")

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        zones, extra = await _zones_and_times(self.db, self.settings)
        grace = self.settings.reminders.grace_minutes * 60
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        for spec in build_jobs(self.settings, zones, extra):
            self.scheduler.add_job(
                self._job,
                spec.trigger,
                id=spec.id,
                name=spec.id,
                replace_existing=True,
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
            )
        monitoring = self.settings.monitoring
        for job_id, body, minutes in (
            ("monitoring-sweep", self._monitoring_job, monitoring.sweep_minutes),
            ("alerts-escalate-digest", self._alert_job, monitoring.alert_jobs_minutes),
        ):
            self.scheduler.add_job(
                body,
                IntervalTrigger(minutes=minutes, timezone="UTC"),
                id=job_id,
                name=job_id,
                replace_existing=True,
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
                # The first sweep right after start, so alerts are current without waiting an interval.
                next_run_time=self.now() + timedelta(seconds=5),
            )
        await self.try_lead()
        self.scheduler.start()
        self._leader_task = asyncio.create_task(self._leadership_loop())
        # Catch up at once with whatever became due while no instance was running.
        await self._job()

    def jobs(self) -> list[dict[str, Any]]:
        if self.scheduler is None:
            return []
        return [
            {"id": j.id, "next_run": j.next_run_time.isoformat() if j.next_run_time else None}
            for j in self.scheduler.get_jobs()
        ]

    async def stop(self) -> None:
        if self._leader_task is not None:
            self._leader_task.cancel()
            await asyncio.gather(self._leader_task, return_exceptions=True)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.resign()


class Background:
    """The scheduler and the dispatcher running beside a channel; `await stop()` ends both cleanly."""

    def __init__(
        self,
        scheduler: ReminderScheduler | None,
        dispatcher: Dispatcher | None,
        task: asyncio.Task[None] | None,
    ) -> None:
        self.scheduler = scheduler
        self.dispatcher = dispatcher
        self._task = task
        self._stop = asyncio.Event()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop the dispatcher (the sends in flight get `grace` seconds), then the scheduler (the leader
        lock is released)."""
        if self.dispatcher is not None and self._task is not None:
            self._stop.set()
            try:
                await asyncio.wait_for(self._task, timeout=grace)
            except TimeoutError:
                self._task.cancel()
        if self.scheduler is not None:
            await self.scheduler.stop()


async def start_background(
    db: Database,
    settings: Settings,
    senders: Mapping[Channel, Sender],
    *,
    now: Callable[[], datetime] = clock.now,
    on_send: OnSend | None = None,
) -> Background:
    """Start the reminder scheduler (`reminders.enabled`) and the outbox dispatcher (`delivery.enabled`)
    for the given channel senders, in the running event loop; `on_send` hears each send's outcome."""
    scheduler = None
    if settings.reminders.enabled:
        scheduler = ReminderScheduler(db, settings, now=now)
        await scheduler.start()
    if not settings.delivery.enabled or not senders:
        return Background(scheduler, None, None)
    dispatcher = Dispatcher(
        db, senders, settings.delivery, now=now, whatsapp=settings.whatsapp, on_send=on_send
    )
    background = Background(scheduler, dispatcher, None)
    background._task = asyncio.create_task(dispatcher.run(background._stop))
    return background
