"""`kotaku bench monitoring --json` at a tiny size: one JSON document with the largest size's headline
figures at the top (`sweep_s`, `floor_s`, `peak_mb`, `incremental_ms`, `backend`, `activities`) and every
size's full result under `runs`. Timings are never compared with a target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.main import app
from tests.cli import clean_env

TINY = ["--activities", "300", "--kelurahan", "100", "--days", "10", "--workers-per-day", "500"]


@pytest.fixture
def no_machine_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The children inherit the environment: no KOTAKU_ setting of this machine reaches them, and the
    bench runs on SQLite only."""
    for _env in clean_env(tmp_path, monkeypatch):
        yield


@pytest.mark.timeout(60)
def test_bench_monitoring_json_has_the_headline_figures_at_the_top(no_machine_config: None) -> None:
    result = CliRunner().invoke(app, ["bench", "monitoring", *TINY, "--no-scaling", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)

    assert isinstance(doc, dict)
    assert doc["backend"] == "sqlite" and doc["activities"] == 300
    assert doc["sweep_s"] >= 0 and doc["floor_s"] >= 0
    assert doc["peak_mb"] > 0 and doc["apply_peak_mb"] > 0
    inc = doc["incremental_ms"]
    assert set(inc) == {"min", "median"} and 0 < inc["min"] <= inc["median"]
    assert isinstance(doc["target"]["pass"], bool)
    assert list(doc["backends"]) == ["sqlite"]

    [run] = doc["runs"]  # --no-scaling: the one size, in full
    assert run["size"]["activities"] == 300 and run["size"]["kelurahan"] == 100
    assert doc["sweep_s"] == round(run["evaluate"]["seconds"], 4)
    assert doc["peak_mb"] == round(run["evaluate"]["maxrss_mb"], 1)
    assert doc["incremental_ms"] == run["incremental_ms"]["ms"]
    assert run["rows"]["progress_report"] > 0 and run["evaluate"]["findings"] == doc["findings"]
