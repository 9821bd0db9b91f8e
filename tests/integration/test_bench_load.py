"""`kotaku bench load` for a moment: a real `kotaku run` in webhook mode takes 20 updates a second from five
chats for 1.5 s; every request is answered 200, the rate's figures are all there and in order, every update
is handled (obstacles saved through the taps), and the command checks its options. Timings are never
compared with a target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks import bench_load
from bot.main import app
from tests.cli import clean_env

RATE, SECONDS, CHATS = 20, 1.5, 5


@pytest.fixture
def no_machine_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The bot process inherits the environment: no KOTAKU_ setting of this machine reaches it."""
    for _env in clean_env(tmp_path, monkeypatch):
        yield


@pytest.mark.timeout(60)
def test_bench_load_short_run(tmp_path: Path, no_machine_config: None) -> None:
    result = bench_load.run([RATE], SECONDS, CHATS, quiet=True, workdir=tmp_path)
    json.dumps(result)  # --json prints it

    assert result["backend"] == "sqlite" and result["rates"] == [RATE] and result["chats"] == CHATS
    assert {"results", "max_sustained_rate", "max_kept_up_rate", "criterion", "stopped"} <= set(result)
    assert 0 < result["wall_s"] <= result["hard_cap_s"]
    assert result["stopped"] is None
    [r] = result["results"]
    planned = round(RATE * SECONDS)
    assert r["rate"] == RATE and r["planned"] == planned
    assert r["sent"] == r["ok"] == planned  # open loop: every request of the schedule went out, all 200
    assert r["errors"] == {"total": 0, "status": {}, "timeouts": 0, "connection": 0, "over_cap": 0}
    assert 0.9 * RATE <= r["achieved_rate"] <= 1.1 * RATE

    ack = r["ack_ms"]
    assert 0 < ack["p50"] <= ack["p95"] <= ack["p99"] <= ack["max"]
    done = r["processed_ms"]
    assert 0 < done["p50"] <= done["p99"] <= done["max"]
    assert r["processed"] == planned and r["unprocessed"] == 0 and r["handler_failures"] == 0
    assert r["backlog_before"] == r["backlog_after"] == 0 and r["handled_rate"] > 0

    # The mix: each chat goes /kendala → severity → Simpan → /rekap; the taps found their buttons.
    mix = r["mix"]
    assert mix["command"] + mix["tap"] + mix["fallback"] == planned
    assert mix["tap"] >= CHATS and mix["command"] >= CHATS
    assert result["obstacles_saved"] >= 1
    assert result["max_sustained_rate"] == (RATE if r["sustained"] else None)
    assert result["max_kept_up_rate"] == (RATE if r["kept_up"] else None)
    assert r["sustained"] or not r["kept_up"]
    assert list(tmp_path.iterdir()) == []  # the temporary database and logs are gone

    text = bench_load.render(result)
    assert "highest sustained rate with p99 < 250 ms and no errors" in text


def _result(rates: list[int]) -> dict[str, Any]:
    rows = [
        {
            "rate": rate,
            "sent": rate,
            "achieved_rate": float(rate),
            "errors": {"total": 0},
            "ack_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
            "processed_ms": {"p50": 4.0, "p99": 5.0},
            "handled_rate": float(rate),
            "backlog_after": 0,
            "sustained": rate < 100,
            "kept_up": rate < 100,
        }
        for rate in rates
    ]
    return {
        "backend": "sqlite",
        "chats": 3,
        "seconds": 1.0,
        "max_in_flight": bench_load.MAX_IN_FLIGHT,
        "results": rows,
        "max_sustained_rate": 50,
        "max_kept_up_rate": 50,
        "stopped": None,
        "obstacles_saved": 0,
        "wall_s": 1.0,
        "hard_cap_s": 100.0,
    }


def test_bench_load_command(monkeypatch: pytest.MonkeyPatch, no_machine_config: None) -> None:
    """The command parses `--rates`, hands its options to the bench, prints one JSON document or the
    table, and refuses rates and database URLs it cannot use (exit 2) before starting anything."""
    calls: list[tuple[Any, ...]] = []

    def fake_run(
        rates: list[int], seconds: float, chats: int, database_url: str | None, quiet: bool = False
    ) -> dict[str, Any]:
        calls.append((rates, seconds, chats, database_url, quiet))
        return _result(rates)

    monkeypatch.setattr(bench_load, "run", fake_run)
    runner = CliRunner()
    done = runner.invoke(app, ["bench", "load", "--rates", "50, 100", "--seconds", "2", "--json"])
    assert done.exit_code == 0, done.output
    assert calls == [([50, 100], 2.0, 500, None, True)]
    assert json.loads(done.stdout)["max_sustained_rate"] == 50

    table = runner.invoke(app, ["bench", "load", "--chats", "3"])
    assert table.exit_code == 0, table.output
    assert calls[-1] == ([50, 100, 200, 400], 10.0, 3, None, False)
    assert "highest sustained rate" in table.stdout and "50/s" in table.stdout

    for bad in (
        ["--rates", "fast"],
        ["--rates", "0"],
        ["--rates", "100000"],
        ["--seconds", "0"],
        ["--database-url", "sqlite+aiosqlite:///x.db"],
    ):
        refused = runner.invoke(app, ["bench", "load", *bad])
        assert refused.exit_code == 2, (bad, refused.output)
    assert len(calls) == 2
