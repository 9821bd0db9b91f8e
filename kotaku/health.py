"""Readiness of a `kotaku run` process (`GET /readyz`): the database answers within `health.timeout_s`,
its schema is at the migrations' head, every channel runs, the inbox is not too far behind, and the
process is not shutting down. Each check says why it failed, so an operator reads the reason in the
answer instead of guessing from a 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from kotaku import migrate
from kotaku.config import HealthConfig
from kotaku.db import Database
from kotaku.metrics import DatabaseGauges
from kotaku.models import InboxMessage

SHUTTING_DOWN = "shutting down"


def _current_revision(sync_conn: Any) -> str | None:
    """The database's Alembic revision, without Alembic's two INFO lines for each readiness check."""
    alembic_log = logging.getLogger("alembic.runtime.migration")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)
    try:
        return MigrationContext.configure(sync_conn).get_current_revision()
    finally:
        alembic_log.setLevel(level)


@dataclass
class Check:
    ok: bool
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": self.ok, **self.details}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclass
class Report:
    checks: dict[str, Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": {name: c.as_dict() for name, c in self.checks.items()}}


def _head() -> str | None:
    return migrate.head_revision()


class Readiness:
    """The checks behind /readyz. `head` gives the revision the code expects (read once from the
    migration scripts); `gauges`, when given, supply the inbox backlog from the figures /metrics caches."""

    def __init__(
        self,
        db: Database | None,
        cfg: HealthConfig,
        *,
        gauges: DatabaseGauges | None = None,
        head: Callable[[], str | None] = _head,
    ) -> None:
        self.db = db
        self.cfg = cfg
        self.gauges = gauges
        self._head_of = head
        self._head: tuple[str | None, str | None] | None = None  # (revision, error)

    def head(self) -> tuple[str | None, str | None]:
        if self._head is None:
            try:
                self._head = (self._head_of(), None)
            except Exception as exc:  # scripts missing or several heads: a broken install
                self._head = (None, f"migration scripts unreadable: {exc}"[:300])
        return self._head

    async def check(self, *, draining: bool, channels: Mapping[str, bool]) -> Report:
        if draining:  # the answer is no anyway; the database may be closing
            return Report({"shutdown": Check(False, SHUTTING_DOWN)})
        checks: dict[str, Check] = {}
        if self.db is None:
            checks["database"] = Check(True, details={"configured": False})
        else:
            database, migrations = await self._database()
            checks["database"], checks["migrations"] = database, migrations
            if database.ok:
                checks["inbox"] = await self._inbox()
        down = sorted(name for name, running in channels.items() if not running)
        checks["channels"] = Check(
            not down,
            f"not running: {', '.join(down)}" if down else None,
            {"running": sorted(name for name, running in channels.items() if running)},
        )
        checks["shutdown"] = Check(True)
        return Report(checks)

    async def _database(self) -> tuple[Check, Check]:
        assert self.db is not None
        timeout = self.cfg.timeout_s
        try:
            async with asyncio.timeout(timeout), self.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(_current_revision)
        except TimeoutError:
            reason = f"database did not answer within {timeout:g} s"
            return Check(False, reason), Check(False, "database unreachable")
        except Exception as exc:
            reason = f"database unreachable: {type(exc).__name__}: {exc}".splitlines()[0][:300]
            return Check(False, reason), Check(False, "database unreachable")
        head, error = self.head()
        if error is not None:
            return Check(True), Check(False, error)
        details = {"current": current, "head": head}
        if current is None:
            return Check(True), Check(False, "database not migrated (run: kotaku db upgrade)", details)
        if current != head:
            return Check(True), Check(False, f"database at {current}, code expects {head}", details)
        return Check(True), Check(True, details=details)

    async def _inbox(self) -> Check:
        bound = self.cfg.max_inbox_backlog
        try:
            if self.gauges is not None:
                figures = await self.gauges.refresh()
                if not figures.ok:
                    return Check(False, "inbox backlog unreadable")
                backlog = figures.inbox_backlog
            else:
                assert self.db is not None
                async with asyncio.timeout(self.cfg.timeout_s), self.db.session() as s:
                    backlog = int(
                        await s.scalar(
                            select(func.count())
                            .select_from(InboxMessage)
                            .where(InboxMessage.processed_at.is_(None))
                        )
                        or 0
                    )
        except Exception as exc:
            return Check(False, f"inbox backlog unreadable: {type(exc).__name__}"[:300])
        details = {"backlog": backlog, "max": bound}
        if backlog > bound:
            return Check(False, f"{backlog} stored updates wait to be handled (more than {bound})", details)
        return Check(True, details=details)
