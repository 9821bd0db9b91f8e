"""End-to-end fixtures: the engine on a fresh database with the test program, a movable clock,
and the push/pop test channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from tests.channel import TestChannel
from kotaku.db import Database
from kotaku.dialog.engine import Engine
from kotaku.security import NikVault
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
    engine: Engine
    clock: Clock
    program: Program
    vault: NikVault

    def channel(self, user: str | None = None) -> TestChannel:
        ch = TestChannel(self.engine)
        if user:
            ch.as_user(user)
        return ch

    def restart(self) -> None:
        """A new engine on the same database, as after a process restart."""
        self.engine = Engine(self.db, now=self.clock)


@pytest.fixture
def clock() -> Clock:
    return Clock(DEFAULT_NOW)


@pytest.fixture
async def world(db: Database, vault: NikVault, clock: Clock) -> AsyncIterator[World]:
    program = await build_program(
        db, vault, clock().astimezone(__import__("zoneinfo").ZoneInfo("Asia/Jakarta")).date()
    )
    yield World(db=db, engine=Engine(db, now=clock), clock=clock, program=program, vault=vault)
