"""`kotaku reminders plan|run` and `kotaku outbox list|retry|purge` on the demo program (SQLite file)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from kotaku.cli import app
from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import OutboxMessage, OutboxStatus
from tests.cli import clean_env, run, runner


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    cleaned = clean_env(tmp_path, monkeypatch)
    env = next(cleaned)
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["demo", "--at", "2026-12-22T10:00"], env=env).exit_code == 0
    yield env
    next(cleaned, None)


def doc(env: dict[str, str], *args: str) -> dict:  # type: ignore[type-arg]
    result = run(env, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_plan_run_and_outbox_commands(env: dict[str, str]) -> None:
    plan = doc(env, "reminders", "plan", "--date", "2026-12-22")
    firsts = [s for s in plan["slots"] if s["kind"] == "first"]
    assert {(s["timezone"], s["at"]) for s in firsts} == {
        ("Asia/Makassar", "2026-12-22T07:00:00+00:00"),
        ("Asia/Jakarta", "2026-12-22T08:00:00+00:00"),
    }
    holiday = doc(env, "reminders", "plan", "--date", "2026-12-25")
    assert holiday["slots"] == [] and {s["reason"] for s in holiday["skipped"]} == {"holiday: Christmas Day"}

    first = doc(env, "reminders", "run", "--at", "2026-12-22T15:00")
    assert first["queued"]["first"] == len(firsts)  # 15:00 WIB is 16:00 WITA: both zones are due
    assert doc(env, "reminders", "run", "--at", "2026-12-22T15:00")["queued"] == {}  # replay: nothing twice

    listed = doc(env, "outbox", "list")
    assert listed["counts"]["pending"] == first["queued"]["first"]
    assert all(m["kind"] == "reminder" for m in listed["messages"])

    async def fail_all() -> None:
        settings = load_settings(database={"url": env["KOTAKU_DATABASE__URL"]})
        db = Database(settings)
        async with db.transaction() as s:
            await s.execute(update(OutboxMessage).values(status=OutboxStatus.FAILED, last_error="blocked"))
        await db.dispose()

    asyncio.run(fail_all())
    assert doc(env, "outbox", "list", "--status", "failed")["messages"][0]["last_error"] == "blocked"
    assert doc(env, "outbox", "retry")["requeued"] == first["queued"]["first"]
    assert doc(env, "outbox", "list")["counts"]["failed"] == 0
    assert doc(env, "outbox", "purge", "--older-than-days", "0")["purged"] == 0  # pending stays
    assert run(env, "reminders", "run", "--at", "kemarin").exit_code == 2
