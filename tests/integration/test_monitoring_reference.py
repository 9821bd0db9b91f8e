"""The sweep finds exactly what it found before its gathering was reworked for speed.

The bench's synthetic program (benchmarks/bench_monitoring.py) at a small size, with some variety added
(KSMs counting without a roster, stale and far photos, a shared location, hashes in other spellings), is
evaluated on SQLite (and PostgreSQL when KOTAKU_TEST_DATABASE_URL is set) at two instants (every site on
the same local date, and 23:30 WIB when WITA and WIT are already on the next day), for the whole
program and for a few KSMs. Every finding (kind, subject, KSM, severity, figures, message key and
parameters) is compared with tests/data/monitoring_reference.json, written by the sweep before the
rework: `python -m tests.integration.test_monitoring_reference` writes it again (only do that when a
rule changes on purpose).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bench_monitoring as bench
from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.monitoring.evaluate import evaluate
from kotaku.monitoring.findings import Finding
from tests.conftest import BACKENDS, PG_URL

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "monitoring_reference.json"
SIZE = bench.Size(activities=300, kelurahan=100, days=20, workers_per_day=600)
INSTANTS = {
    "afternoon": bench.AT,  # 17:00 WIB: every site on the same local date
    "late_evening": datetime(2026, 11, 26, 16, 30, tzinfo=UTC),  # 23:30 WIB, 00:30 WITA, 01:30 WIT
}
SUBJECT_KSMS = [1, 17, 34, 35, 41, 42, 51, 55, 61, 68, 82, 85]


def program(sqlite: bool) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The bench's program at SIZE, with the cases it does not generate added."""
    tables = bench.generate(SIZE, sqlite=sqlite)

    def cols(name: str) -> list[str]:
        return tables[name][0]

    def ts(x: datetime) -> Any:
        return x.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if sqlite else x

    # Every 17th KSM counts its workers without a roster; one of them pays too little per person.
    counted = {k for k in range(1, SIZE.kelurahan + 1) if k % 17 == 0}
    ksm_cols = cols("ksm")
    tables["ksm"] = (
        ksm_cols,
        [
            tuple(
                (0 if sqlite else False) if c == "keeps_roster" and r[0] in counted else v
                for c, v in zip(ksm_cols, r, strict=True)
            )
            for r in tables["ksm"][1]
        ],
    )
    day_cols = cols("attendance_day")
    i_mode, i_ksm, i_wages = day_cols.index("mode"), day_cols.index("ksm_id"), day_cols.index("total_wages")
    i_male = day_cols.index("count_male")
    days = []
    counted_days = set()
    for r in tables["attendance_day"][1]:
        if r[i_ksm] in counted:
            row = list(r)
            row[i_mode] = "count"
            if r[i_ksm] == 34:
                row[i_wages] = 30_000 * row[i_male]
            counted_days.add(r[0])
            r = tuple(row)
        days.append(r)
    tables["attendance_day"] = (day_cols, days)
    rec_cols = cols("attendance_record")
    i_day = rec_cols.index("attendance_day_id")
    tables["attendance_record"] = (
        rec_cols,
        [r for r in tables["attendance_record"][1] if r[i_day] not in counted_days],
    )
    # Photos taken days before the report they were sent for; hashes in other spellings; a location.
    media_cols = cols("media")
    i_taken, i_phash = media_cols.index("taken_at"), media_cols.index("phash")
    i_date, i_kind = media_cols.index("report_date"), media_cols.index("kind")
    i_lat, i_lon = media_cols.index("latitude"), media_cols.index("longitude")
    media = []
    for r in tables["media"][1]:
        row = list(r)
        if r[0] % 23 == 0:
            day = bench.date.fromisoformat(r[i_date]) if sqlite else r[i_date]
            row[i_taken] = ts(datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC) - timedelta(days=4))
        if r[0] % 41 == 0 and row[i_phash]:
            row[i_phash] = row[i_phash].upper()
        if r[0] % 53 == 0 and row[i_phash]:
            row[i_phash] = "0x" + row[i_phash][1:]
        media.append(tuple(row))
    last = media[-1]
    location = list(last)
    location[0] = last[0] + 1
    location[i_kind] = "location"
    for c in ("sha256", "phash", "path", "mime_type", "size_bytes", "taken_at"):
        location[media_cols.index(c)] = None
    location[i_lat], location[i_lon] = -7.0 + 0.5, 110.0
    media.append(tuple(location))
    # Near copies of photos of other KSMs (two and three bits off) on other days.
    for j, src in enumerate(media[5:200:37]):
        if not src[i_phash] or src[i_kind] != "photo":
            continue
        row = list(src)
        row[0] = media[-1][0] + 1
        row[media_cols.index("ksm_id")] = src[media_cols.index("ksm_id")] % SIZE.kelurahan + 1
        row[media_cols.index("sha256")] = None
        row[i_phash] = f"{int(src[i_phash].lower().removeprefix('0x'), 16) ^ (0b11 << (8 * j)):016x}"
        media.append(tuple(row))
    tables["media"] = (media_cols, media)
    # Progress: some go backwards or jump at the end; KSM 68's works stall while its crew keeps coming;
    # KSM 85's works are far along (its wage share is judged and low).
    pr_cols = cols("progress_report")
    i_act, i_pct = pr_cols.index("activity_id"), pr_cols.index("percent")
    ksm_of = {r[0]: r[2] for r in tables["activity"][1]}
    by_activity: dict[int, list[list[Any]]] = {}
    for r in tables["progress_report"][1]:
        by_activity.setdefault(r[i_act], []).append(list(r))
    for activity_id, rows in by_activity.items():
        if activity_id % 29 == 0 and len(rows) > 1:
            rows[-1][i_pct] = max(0.0, rows[-2][i_pct] - 3.0)
        elif activity_id % 31 == 0 and len(rows) > 1:
            rows[-1][i_pct] = min(100.0, rows[-2][i_pct] + 30.0)
        if ksm_of[activity_id] == 68 and len(rows) > 6:
            for row in rows[-5:]:
                row[i_pct] = rows[-6][i_pct]
        if ksm_of[activity_id] == 85:
            for row in rows:
                row[i_pct] = min(100.0, round(row[i_pct] * 6, 2))
    tables["progress_report"] = (pr_cols, [tuple(r) for rows in by_activity.values() for r in rows])
    # KSM 51: far more workers on its last day than its roster and its usual crew.
    for n, r in enumerate(tables["attendance_day"][1]):
        if r[i_ksm] == 51 and r[day_cols.index("work_date")] == max(
            x[2] for x in tables["attendance_day"][1]
        ):
            row = list(r)
            row[i_male] = 40
            tables["attendance_day"][1][n] = tuple(row)
    return tables


def canonical(findings: list[Finding]) -> list[list[Any]]:
    """Each finding as [kind, subject type, subject id, KSM, severity, digest of the rest], sorted."""
    out = []
    for f in findings:
        rest = json.dumps(
            {"figures": f.figures, "key": f.message_key, "params": f.params}, sort_keys=True, default=str
        )
        digest = hashlib.sha256(rest.encode()).hexdigest()[:16]
        out.append([f.kind, f.subject_type, f.subject_id, f.ksm_id, f.severity.value, digest])
    return sorted(out)


async def findings_of(db: Database, settings: Settings) -> dict[str, list[list[Any]]]:
    out = {}
    for name, at in INSTANTS.items():
        for subjects in (None, SUBJECT_KSMS):
            async with db.session() as s:
                found = await evaluate(s, settings, at, subjects)
            out[f"{name}:{'all' if subjects is None else 'some'}"] = canonical(found)
    return out


@pytest.fixture(params=BACKENDS)
async def loaded(
    request: pytest.FixtureRequest, tmp_path: Path, settings: Settings
) -> AsyncIterator[tuple[Database, Settings]]:
    """The program loaded as the bench loads it (bulk inserts), on each configured backend (`settings`:
    the test's clean environment, nothing of this machine's configuration)."""
    if request.param == "sqlite":
        path = tmp_path / "reference.db"
        await asyncio.to_thread(bench.load_sqlite, path, program(sqlite=True))
        url = f"sqlite+aiosqlite:///{path}"
        settings = load_settings(database={"url": url})
        db = Database(settings, url=url)
        yield db, settings
        await db.dispose()
        return
    assert PG_URL
    schema = f"ref_{uuid.uuid4().hex[:8]}"
    await bench.load_postgres(PG_URL, schema, program(sqlite=False))
    settings = load_settings(database={"url": PG_URL})
    db = Database(settings, url=PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield db, settings
    finally:
        await db.dispose()
        await bench.drop_postgres(PG_URL, schema)


@pytest.mark.timeout(60)
async def test_the_sweep_finds_exactly_what_it_found_before(loaded: tuple[Database, Settings]) -> None:
    db, settings = loaded
    reference = json.loads(REFERENCE.read_text())
    found = await findings_of(db, settings)
    assert set(found) == set(reference)
    for case, expected in reference.items():
        got = found[case]
        missing = [f for f in expected if f not in got]
        extra = [f for f in got if f not in expected]
        assert not missing and not extra, (case, missing[:5], extra[:5])
    kinds = {f[0] for f in reference["afternoon:all"]}
    assert len(kinds) >= 14, kinds  # the reference exercises nearly every check


async def _write_reference() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.db"
        bench.load_sqlite(path, program(sqlite=True))
        url = f"sqlite+aiosqlite:///{path}"
        settings = load_settings(database={"url": url})
        db = Database(settings, url=url)
        found = await findings_of(db, settings)
        await db.dispose()
    REFERENCE.write_text(json.dumps(found, indent=None, separators=(",", ":")).replace("],[", "],\n[") + "\n")
    for case, rows in found.items():
        kinds: dict[str, int] = {}
        for r in rows:
            kinds[r[0]] = kinds.get(r[0], 0) + 1
        print(case, len(rows), dict(sorted(kinds.items())))


if __name__ == "__main__":
    asyncio.run(_write_reference())
