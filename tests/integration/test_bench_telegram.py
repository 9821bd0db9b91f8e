"""`kotaku bench telegram` at a tiny pilot size: every figure of the JSON report, no handler error or
unexpected reply, the redelivered updates dropped (each obstacle saved once), statements counted per step
type; `--processes 2` refused on SQLite and, when `KOTAKU_TEST_DATABASE_URL` is set, run on PostgreSQL.
Timings are never asserted: the machine running the tests may be slow or busy."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.main import app
from kotaku.dialog import engine

UPDATES = 200
KEYS = {
    "updates_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "floor_ptb_per_s",
    "floor_step_per_s",
    "statements",
    "steps",
    "processes",
    "backend",
    "scale",
    "targets",
}
STEPS = {"command", "text", "tap", "save", "rekap", "redelivered"}


@pytest.fixture
def no_machine_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No KOTAKU_ setting of this machine (the test database URL aside) reaches the bench or its processes."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_") and key != "KOTAKU_TEST_DATABASE_URL":
            monkeypatch.delenv(key, raising=False)
    yield


def bench(*args: str, updates: int = UPDATES) -> dict[str, Any]:
    result = CliRunner().invoke(
        app, ["bench", "telegram", "--updates", str(updates), "--repeat", "1", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)  # the one JSON document on stdout
    return report


def check_report(r: dict[str, Any], backend: str, processes: int) -> None:
    assert r.keys() >= KEYS
    assert (r["scale"], r["backend"], r["processes"], r["ksms"]) == ("pilot", backend, processes, 100)
    assert r["errors"] == 0 and r["unexpected"] == 0, r["unexpected_samples"]
    # ~3% delivered twice: none answered again, and every obstacle save stored exactly once.
    assert r["redelivered"] > 0 and r["redelivered_answered"] == 0
    assert r["obstacles_stored"] == r["obstacle_saves"] > 0
    assert set(r["steps"]) == STEPS == set(r["statements"])
    assert sum(s["updates"] for s in r["steps"].values()) == r["updates"] == UPDATES
    for kind in STEPS - {"redelivered"}:
        assert r["statements"][kind] > 0, kind
    assert r["statements"]["redelivered"] <= 1  # at most the processed-id mark, then nothing
    assert r["statements"]["save"] > r["statements"]["tap"]
    for s in r["steps"].values():
        assert 0 < s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"]
    assert 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
    assert r["updates_per_s"] > 0 and r["floor_ptb_per_s"] > 0 and r["floor_step_per_s"] > 0
    assert all(isinstance(t["pass"], bool) for t in r["targets"])
    assert any(t["what"].startswith("p99 <") for t in r["targets"])


def test_pilot_on_sqlite(no_machine_config: None, tmp_path: Path) -> None:
    r = bench()
    check_report(r, "sqlite", 1)
    assert any("one SQLite process" in t["what"] for t in r["targets"])
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_a_redelivery_that_is_not_dropped_is_caught(
    no_machine_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the processed-id mark the bot answers a redelivered update again: the bench says so."""

    async def never_seen(*args: Any) -> bool:
        return True

    monkeypatch.setattr(engine, "_mark_processed", never_seen)
    r = bench(updates=150)
    assert r["redelivered"] > 0 and r["redelivered_answered"] > 0


def test_processes_need_postgresql(no_machine_config: None) -> None:
    result = CliRunner().invoke(app, ["bench", "telegram", "--processes", "2"])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.stderr and result.stdout == ""


@pytest.mark.skipif(not os.environ.get("KOTAKU_TEST_DATABASE_URL"), reason="KOTAKU_TEST_DATABASE_URL not set")
def test_two_processes_on_postgresql(no_machine_config: None) -> None:
    r = bench("--processes", "2", "--database-url", os.environ["KOTAKU_TEST_DATABASE_URL"])
    check_report(r, "postgresql", 2)
    assert any("2-4 processes" in t["what"] for t in r["targets"])
