"""End-to-end fixtures: the engine on a fresh database with the test program, a movable clock,
and the push/pop test channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from kotaku.bootstrap import Kotaku, bootstrap
from kotaku.db import Database
from kotaku.dialog.engine import Engine
from kotaku.security import NikVault
from tests.channel import TestChannel
from tests.factories import Program, build_program

# Thursday 16:00 WIB: a work day, late afternoon, when KSMs report.
DEFAULT_NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    current: datetime

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kw: float) -> None:
        self.current += timedelta(**kw)


@dataclass
class World:
    db: Database
    kotaku: Kotaku
    clock: Clock
    program: Program
    vault: NikVault

    @property
    def engine(self) -> Engine:
        return self.kotaku.engine

    def channel(self, user: str | None = None) -> TestChannel:
        ch = TestChannel(self.engine)
        if user:
            ch.as_user(user)
        return ch

    def restart(self) -> None:
        """A new engine on the same database, as after a process restart."""
        self.kotaku.new_engine()


@pytest.fixture
def clock() -> Clock:
    return Clock(DEFAULT_NOW)


@pytest.fixture
async def world(db: Database, vault: NikVault, clock: Clock) -> AsyncIterator[World]:
    program = await build_program(
        db, vault, clock().astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta")).date()
    )
    kotaku = bootstrap(db.settings, db=db, now=clock)
    yield World(db=db, kotaku=kotaku, clock=clock, program=program, vault=vault)
