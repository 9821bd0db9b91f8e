"""`kotaku alerts evaluate`: a full sweep or one scope, dry run or applied, as a table or JSON."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kotaku.cli import app
from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import Alert, Base
from kotaku.security import NikVault, generate_key
from tests.cli import clean_env, runner
from tests.factories import build_program


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    cleaned = clean_env(tmp_path, monkeypatch)
    env = next(cleaned)

    async def seed() -> None:
        db = Database(load_settings(database={"url": env["KOTAKU_DATABASE__URL"]}))
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await build_program(db, NikVault(generate_key()), date(2026, 11, 26))
        await db.dispose()

    asyncio.run(seed())
    yield env
    next(cleaned, None)


def alerts(env: dict[str, str]) -> int:
    async def go() -> int:
        db = Database(load_settings(database={"url": env["KOTAKU_DATABASE__URL"]}))
        async with db.session() as s:
            n = await s.scalar(select(func.count()).select_from(Alert))
        await db.dispose()
        return int(n or 0)

    return asyncio.run(go())


def test_dry_run_then_apply_then_scope(env: dict[str, str]) -> None:
    at = "2026-11-26T10:00"
    dry = runner.invoke(app, ["alerts", "evaluate", "--at", at, "--dry-run", "--json"], env=env)
    assert dry.exit_code == 0, dry.output
    doc = json.loads(dry.stdout)
    assert doc["by_kind"]["critical"] == 5 and doc["alerts"] is None
    assert doc["items"][0]["text"]
    assert alerts(env) == 0

    applied = runner.invoke(app, ["alerts", "evaluate", "--at", at, "--json"], env=env)
    doc = json.loads(applied.stdout)
    assert doc["alerts"]["opened"] == doc["findings"] == alerts(env)

    scoped = runner.invoke(app, ["alerts", "evaluate", "--at", at, "--scope", "ksm:KSM-MRS-01"], env=env)
    assert scoped.exit_code == 0, scoped.output
    assert "0 baru" in scoped.stdout and "critical" in scoped.stdout

    bad = runner.invoke(app, ["alerts", "evaluate", "--scope", "ksm:NOPE"], env=env)
    assert bad.exit_code == 2
