"""`kotaku bench export` at a tiny size: the bench seeds, exports (XLSX, CSV) and measures in child processes
and reports every figure; the rows written match the rows seeded. Timings are never asserted."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks import bench_export
from bot.main import app

ROWS = 2_000


@pytest.fixture
def no_machine_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The children inherit the environment: no KOTAKU_ setting of this machine (the test database URL
    aside) reaches them."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_") and key != "KOTAKU_TEST_DATABASE_URL":
            monkeypatch.delenv(key, raising=False)
    yield


def _check_run(r: dict[str, Any]) -> None:
    assert r["rows_wanted"] == ROWS
    assert r["seeded"]["attendance_record"] == ROWS == r["expected"]["attendance_record"]
    assert r["seeded"]["attendance_day"] == r["expected"]["attendance_day"]
    for table in ("region", "bkm", "ksm", "worker", "activity", "progress_report", "media"):
        assert r["seeded"][table] > 0
    assert r["period"]["start"] < r["period"]["end"]
    assert r["repeat"] == 1

    floor = r["floor"]
    assert floor["rows"] == {"attendance_record": ROWS}
    assert len(floor["seconds"]) == 1 and floor["min_s"] == floor["median_s"] > 0

    csv, xlsx = r["csv"], r["xlsx"]
    # The rows written are the rows seeded: every attendance record a hadir.csv row, every sheet a
    # hadir_harian.csv row; XLSX Daftar Hadir and both wage lists one line per worker and payment period.
    assert csv["rows"]["hadir"] == ROWS
    assert csv["rows"]["hadir_harian"] == r["seeded"]["attendance_day"]
    assert (
        xlsx["rows"]["hadir"]
        == xlsx["rows"]["upah"]
        == csv["rows"]["upah"]
        == r["expected"]["worker_periods"]
    )
    assert xlsx["rows"]["progres"] == csv["rows"]["progres"] == r["seeded"]["progress_report"]
    assert xlsx["rows"]["foto"] == csv["rows"]["foto"] == r["seeded"]["media"]
    assert set(xlsx["rows"]) == {"ringkasan", "hadir", "upah", "progres", "kendala", "foto"}
    assert all(r["checks"].values()), r["checks"]
    for fmt, s in (("xlsx", xlsx), ("csv", csv)):
        assert len(s["seconds"]) == 1 and s["min_s"] == s["median_s"] > 0
        assert s["maxrss_mb"] > 0 and s["rss_delta_mb"] >= 0
        assert s["size_mb"] > 0
        assert s["ratio_to_floor"] > 0
        assert "close" in s["tables"] and "hadir" in s["tables"]
        target = s["target"]
        assert target["seconds"] == bench_export.TARGETS[fmt]["seconds"]
        assert isinstance(target["pass"], bool)
    assert "rss_mb" in xlsx["target"]


def test_bench_export_tiny(tmp_path: Path, no_machine_config: None) -> None:
    url = os.environ.get("KOTAKU_TEST_DATABASE_URL")
    results = bench_export.run(rows=ROWS, repeat=1, database_url=url, quiet=True, workdir=tmp_path)
    assert [r["backend"] for r in results] == ["sqlite", *(["postgresql"] if url else [])]
    for r in results:
        _check_run(r)
    json.dumps(results)  # --json prints them

    lines: list[str] = []
    bench_export.report(results[0], lines.append)
    text = "\n".join(lines)
    assert f"{ROWS:,} attendance rows" in text and "× floor" in text
    assert "< 60 s, < 300 MB" in text and "< 10 s" in text
    assert ("pass" in text) or ("FAIL" in text)
    # The CSV writes hadir, hadir_harian and upah in one pass: its split says so.
    assert "CSV s per table" in text and "hadir+upah" in text
    assert list(tmp_path.iterdir()) == []  # the temporary program is gone


def test_bench_export_command(monkeypatch: pytest.MonkeyPatch, no_machine_config: None) -> None:
    """The command hands its options to the bench and prints its results as one JSON document."""
    calls: list[tuple[Any, ...]] = []

    def fake_run(
        rows: int, repeat: int, database_url: str | None, quiet: bool = False
    ) -> list[dict[str, Any]]:
        calls.append((rows, repeat, database_url, quiet))
        return [{"backend": "sqlite", "rows_wanted": rows}]

    monkeypatch.setattr(bench_export, "run", fake_run)
    monkeypatch.delenv("KOTAKU_TEST_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["bench", "export", "--rows", "5000", "--repeat", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert calls == [(5000, 2, None, True)]
    assert json.loads(result.stdout) == [{"backend": "sqlite", "rows_wanted": 5000}]
    refused = CliRunner().invoke(app, ["bench", "export", "--rows", "0"])
    assert refused.exit_code == 2
