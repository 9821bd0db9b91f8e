"""How long a full monitoring sweep takes for a national program, and how much memory it needs.

Synthetic program (defaults): 33,000 activities in 11,000 kelurahan (one BKM and one KSM each, three
activities per KSM), 60 work days of daily progress, 60,000 workers present a day (a roster of about
six per KSM), two photos per activity, an open obstacle at one KSM in twenty; sites in WIB, WITA and WIT.
Some activities lag, stall, go backwards or jump; a few NIKs work at two sites; a few wages are off.

The data is loaded with bulk inserts (sqlite3 executemany; COPY on PostgreSQL). Each sweep runs in a
fresh child process so its peak memory (ru_maxrss) is the sweep's own. Printed: load time, the sweep
(`evaluate`: all checks), the sweep with the alert lifecycle (`evaluate_and_apply`, first run and an
unchanged re-run), the floor (one plain aggregate query over the same tables) and the ratio to it, the
incremental evaluation of one KSM alone as after a saved report (min/median ms; `incremental_ms` in
`--json`), and a scaling table.

    .venv/bin/kotaku bench monitoring [--activities 33000] [--kelurahan 11000] [--days 60]
                                      [--workers-per-day 60000] [--database-url URL] [--no-scaling]
    .venv/bin/python benchmarks/bench_monitoring.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 17:00 WIB, 18:00 WITA, 19:00 WIT
TODAY = date(2026, 11, 26)
ZONES = ["Asia/Jakarta"] * 24 + ["Asia/Makassar"] * 7 + ["Asia/Jayapura"] * 3  # 34 provinces
SEED = 20211202


@dataclass(frozen=True)
class Size:
    activities: int
    kelurahan: int
    days: int
    workers_per_day: int


# --- generating the program ----------------------------------------------------------------------


def work_days(n: int) -> list[date]:
    """The last `n` Monday-Saturday dates up to TODAY, oldest first."""
    out: list[date] = []
    d = TODAY
    while len(out) < n:
        if d.weekday() != 6:
            out.append(d)
        d -= timedelta(days=1)
    return out[::-1]


def smoothstep(t: float) -> float:
    if t <= 0:
        return 0.0
    if t >= 1:
        return 1.0
    return t * t * (3 - 2 * t)


def generate(size: Size, sqlite: bool) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Rows per table (columns, tuples), values already in the form each backend takes."""
    rnd = random.Random(SEED)
    days = work_days(size.days)
    first_day = days[0]

    if sqlite:

        def d(x: date) -> Any:
            return x.isoformat()

        def ts(x: datetime) -> Any:
            return x.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

        true, false = 1, 0
    else:

        def d(x: date) -> Any:
            return x

        def ts(x: datetime) -> Any:
            return x

        true, false = True, False

    created = ts(AT - timedelta(days=200))
    tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}

    # Regions: 34 provinces, kota, kecamatan (10 kelurahan each), kelurahan.
    regions: list[tuple[Any, ...]] = []
    kel_zone: list[tuple[int, str]] = []
    rid = 0
    n_kel = size.kelurahan
    kec_count = max(1, (n_kel + 9) // 10)
    kota_count = max(1, (kec_count + 3) // 4)
    prov_ids, kota_ids, kec_ids = [], [], []
    for p in range(34):
        rid += 1
        regions.append((rid, f"{11 + p}", f"Provinsi {p}", "provinsi", None, ZONES[p], f"{11 + p}", created))
        prov_ids.append((rid, f"{11 + p}", ZONES[p]))
    for k in range(kota_count):
        prov_id, pcode, tz = prov_ids[k % 34]
        rid += 1
        code = f"{pcode}.{k // 34 + 1:02d}"
        regions.append((rid, code, f"Kota {k}", "kabkota", prov_id, tz, f"{pcode}/{code}", created))
        kota_ids.append((rid, code, tz, f"{pcode}/{code}"))
    for c in range(kec_count):
        kota_id, kcode, tz, kpath = kota_ids[c % kota_count]
        rid += 1
        code = f"{kcode}.{c // kota_count + 1:02d}"
        regions.append((rid, code, f"Kecamatan {c}", "kecamatan", kota_id, tz, f"{kpath}/{code}", created))
        kec_ids.append((rid, code, tz, f"{kpath}/{code}"))
    for i in range(n_kel):
        kec_id, ccode, tz, cpath = kec_ids[i % kec_count]
        rid += 1
        code = f"{ccode}.{1001 + i // kec_count}"
        regions.append((rid, code, f"Kelurahan {i}", "kelurahan", kec_id, tz, f"{cpath}/{code}", created))
        kel_zone.append((rid, tz))
    tables["region"] = (
        ["id", "code", "name", "level", "parent_id", "timezone", "path", "created_at"],
        regions,
    )
    tables["bkm"] = (
        ["id", "code", "name", "kelurahan_id", "created_at"],
        [(i + 1, f"BKM-{i:05d}", f"BKM {i}", kel_zone[i][0], created) for i in range(n_kel)],
    )
    coords = [(-7.0 + rnd.uniform(-1, 1), 110.0 + rnd.uniform(-5, 5)) for _ in range(n_kel)]
    tables["ksm"] = (
        ["id", "code", "name", "bkm_id", "keeps_roster", "latitude", "longitude", "created_at"],
        [(i + 1, f"KSM-{i:05d}", f"KSM {i}", i + 1, true, *coords[i], created) for i in range(n_kel)],
    )

    # Activities: spread over the KSMs; default S-curve, one in ten with weekly plan points.
    activities, plan_points, progress = [], [], []
    media, obstacles = [], []
    pp_id = pr_id = media_id = 0
    for a in range(size.activities):
        aid = a + 1
        ksm = a % n_kel + 1
        start = first_day - timedelta(days=rnd.randint(0, 10))
        end = start + timedelta(days=rnd.randint(80, 120))
        lat, lon = coords[ksm - 1]
        budget = rnd.randint(14, 22) * 1_000_000  # wages about 70% of the works at 5-6 workers a site
        activities.append(
            (aid, f"ACT-{aid:06d}", ksm, f"Kegiatan {aid}", "jalan_lingkungan", "m", 100.0, budget,
             budget * 6 // 10, d(start), d(end), lat, lon, created)
        )  # fmt: skip
        span = (end - start).days
        if a % 10 == 0:
            step = start
            while step < end:
                pp_id += 1
                plan_points.append(
                    (pp_id, aid, d(step), round(100 * smoothstep((step - start).days / span), 2))
                )
                step += timedelta(days=7)
            pp_id += 1
            plan_points.append((pp_id, aid, d(end), 100.0))
        # How the works go: most on plan, some lagging; some stop reporting, some go backwards or jump.
        pace = rnd.choice([1.03] * 16 + [1.0, 0.95, 0.85, 0.6])  # 15% lag, 10% badly
        stops = rnd.random() < 0.03
        last = 0.0
        for i, day in enumerate(days):
            if day < start or (stops and i > len(days) - 6):
                continue
            planned = 100 * smoothstep((day - start).days / span)
            pct = min(100.0, max(last, round(planned * pace + rnd.uniform(0.0, 0.6), 2)))
            if i == len(days) - 1 and rnd.random() < 0.002:
                pct = max(0.0, last - 3.0)  # backwards
            if i == len(days) - 1 and rnd.random() < 0.002:
                pct = min(100.0, last + 30.0)  # a jump
            last = pct
            pr_id += 1
            late = rnd.random() < 0.002
            entered = datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC) + timedelta(
                days=3 if late else 0
            )
            progress.append((pr_id, aid, d(day), pct, ts(entered), "telegram", 1))
        for k, day in enumerate((days[len(days) // 3], days[-2])):
            media_id += 1
            sha = hashlib.sha256(f"{aid}:{k}".encode()).hexdigest()
            phash = f"{rnd.getrandbits(64):016x}"
            far = rnd.random() < 0.01
            plat, plon = (lat + 0.05, lon) if far else (lat + 0.0005, lon)
            media.append(
                (media_id, ksm, aid, d(day), "photo", sha, phash, f"{sha[:2]}/{sha}.jpg", "image/jpeg", 200_000,
                 plat, plon, ts(AT), ts(AT))
            )  # fmt: skip
    # A few photos sent again for another site or day (the same file, or a near copy).
    for j in range(max(1, size.activities // 1000)):
        src = media[rnd.randrange(len(media))]
        media_id += 1
        near = f"{int(src[6], 16) ^ 0b101:016x}"
        media.append((media_id, src[1] % n_kel + 1, src[2], src[3], "photo", src[5] if j % 2 else None, near,
                      None, "image/jpeg", 200_000, None, None, ts(AT), ts(AT)))  # fmt: skip
    tables["activity"] = (
        ["id", "code", "ksm_id", "name", "indicator", "unit", "target_volume", "budget", "wage_budget",
         "start_date", "end_date", "latitude", "longitude", "created_at"],
        activities,
    )  # fmt: skip
    tables["plan_point"] = (["id", "activity_id", "plan_date", "planned_percent"], plan_points)
    tables["progress_report"] = (
        ["id", "activity_id", "report_date", "percent", "entered_at", "channel", "revision"],
        progress,
    )
    tables["media"] = (
        ["id", "ksm_id", "activity_id", "report_date", "kind", "sha256", "phash", "path", "mime_type",
         "size_bytes", "latitude", "longitude", "entered_at", "taken_at"],
        media,
    )  # fmt: skip

    # Workers: a roster per KSM large enough for `workers_per_day` present on each day.
    per_ksm = max(1, round(size.workers_per_day / n_kel))
    workers, roster = [], []
    wid = 0
    for k in range(n_kel):
        members = []
        for _ in range(per_ksm + 1):
            wid += 1
            skill = "tukang" if wid % 5 == 0 else "pekerja"
            rate = 120_000 if skill == "tukang" else 85_000
            if wid % 997 == 0:
                rate = 45_000  # below the labourer range
            nik = hashlib.sha256(f"nik{wid}".encode()).hexdigest()
            workers.append(
                (wid, k + 1, f"Pekerja {wid}", "L" if wid % 3 else "P", skill, nik, rate, true, created)
            )
            members.append((wid, nik, rate))
        roster.append(members)
    # The same NIK on a second site's roster (one in 2,000 workers).
    for j in range(0, len(workers), 2000):
        src = workers[j]
        other = (src[1] % n_kel) + 1
        wid += 1
        workers.append((wid, other, src[2], src[3], src[4], src[5], src[6], true, created))
        roster[other - 1].append((wid, src[5], src[6]))
    tables["worker"] = (
        ["id", "ksm_id", "name", "gender", "skill", "nik_hash", "daily_rate", "active", "created_at"],
        workers,
    )

    att_days, records = [], []
    day_id = rec_id = 0
    for day in days:
        dd = d(day)
        entered = ts(datetime(day.year, day.month, day.day, 10, 30, tzinfo=UTC))
        for k in range(n_kel):
            members = roster[k]
            present = members[:per_ksm] if rnd.random() < 0.9 else members[: max(1, per_ksm - 1)]
            if len(members) > per_ksm + 1 and rnd.random() < 0.5:
                present = [*present, members[-1]]
            day_id += 1
            att_days.append(
                (day_id, k + 1, dd, "roster", len(present), 0, float(len(present)), sum(m[2] for m in present),
                 false, entered, "telegram", 1)
            )  # fmt: skip
            for m in present:
                rec_id += 1
                records.append((rec_id, day_id, m[0], k + 1, dd, m[1], 1.0, m[2], false))
    tables["attendance_day"] = (
        ["id", "ksm_id", "work_date", "mode", "count_male", "count_female", "hok", "total_wages", "wages_paid",
         "entered_at", "channel", "revision"],
        att_days,
    )  # fmt: skip
    tables["attendance_record"] = (
        ["id", "attendance_day_id", "worker_id", "ksm_id", "work_date", "nik_hash", "hok", "wage", "paid"],
        records,
    )
    for k in range(0, n_kel, 20):
        opened = TODAY - timedelta(days=rnd.randint(0, 15))
        obstacles.append(
            (k // 20 + 1, f"B{k:07d}", k + 1, d(opened), "material", rnd.choice(["rendah", "sedang", "tinggi"]),
             "Semen belum datang", "open", ts(AT - timedelta(days=1)))
        )  # fmt: skip
    tables["obstacle"] = (
        ["id", "short_id", "ksm_id", "report_date", "category", "severity", "description", "status",
         "reported_at"],
        obstacles,
    )  # fmt: skip
    return tables


LOAD_ORDER = [
    "region",
    "bkm",
    "ksm",
    "activity",
    "plan_point",
    "progress_report",
    "worker",
    "attendance_day",
    "attendance_record",
    "media",
    "obstacle",
]


def load_sqlite(path: Path, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> None:
    from sqlalchemy import create_engine

    from kotaku.models import Base

    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        for name in LOAD_ORDER:
            cols, rows = tables[name]
            marks = ",".join("?" * len(cols))
            conn.executemany(f"INSERT INTO {name} ({','.join(cols)}) VALUES ({marks})", rows)
    conn.execute("ANALYZE")
    conn.close()


async def load_postgres(
    url: str, schema: str, tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]
) -> None:
    import asyncpg
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from kotaku.models import Base

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await engine.dispose()
    engine = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()
    raw = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for name in LOAD_ORDER:
            cols, rows = tables[name]
            await raw.copy_records_to_table(name, records=rows, columns=cols, schema_name=schema)
        for name in LOAD_ORDER:  # what autovacuum does on a live database: statistics, visibility map
            await raw.execute(f'VACUUM ANALYZE "{schema}"."{name}"')
    finally:
        await raw.close()


async def drop_postgres(url: str, schema: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


# --- one measurement, in a child process -----------------------------------------------------------

FLOOR_SQL = (
    "SELECT (SELECT count(*) FROM (SELECT activity_id, max(report_date) AS d, max(percent) AS p "
    "FROM progress_report GROUP BY activity_id) AS a), "
    "(SELECT sum(wage) FROM attendance_record), (SELECT count(*) FROM media), "
    "(SELECT count(*) FROM obstacle WHERE status = 'open')"
)


async def measure(url: str, schema: str | None, what: str) -> dict[str, Any]:
    from sqlalchemy import text

    from kotaku.config import load_settings
    from kotaku.db import Database
    from kotaku.logs import configure_logging
    from kotaku.monitoring.evaluate import evaluate, evaluate_and_apply

    configure_logging("WARNING")
    settings = load_settings(database={"url": url})
    connect_args = {"server_settings": {"search_path": schema}} if schema else None
    db = Database(settings, url=url, connect_args=connect_args)
    result: dict[str, Any] = {}
    try:
        if what == "floor":
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
                t0 = time.perf_counter()
                await s.execute(text(FLOOR_SQL))
                result["seconds"] = time.perf_counter() - t0
        elif what == "evaluate":
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
                t0 = time.perf_counter()
                findings = await evaluate(s, settings, AT)
                result["seconds"] = time.perf_counter() - t0
            kinds: dict[str, int] = {}
            for f in findings:
                kinds[f.kind] = kinds.get(f.kind, 0) + 1
            result["findings"] = len(findings)
            result["by_kind"] = dict(sorted(kinds.items()))
        elif what == "incremental":
            result.update(await measure_incremental(db, settings))
        else:  # apply: the sweep with the alert lifecycle, then again unchanged
            first = await evaluate_and_apply(db, settings, AT)
            second = await evaluate_and_apply(db, settings, AT + timedelta(hours=1))
            result["seconds"] = first.seconds
            result["again_seconds"] = second.seconds
            result["alerts"] = first.applied.to_dict()
            result["again"] = second.applied.to_dict()
    finally:
        await db.dispose()
    result["maxrss_mb"] = peak_rss_mb()
    return result


INCREMENTAL_KSMS = 15  # KSMs evaluated alone, one after another (spread over the program)


async def measure_incremental(db: Any, settings: Any) -> dict[str, Any]:
    """The evaluation of one KSM alone, as after a saved report (`kotaku.monitoring.marks`): `evaluate`
    with one KSM, and `evaluate_and_apply` with it (one transaction with the alert lifecycle), for
    `INCREMENTAL_KSMS` KSMs spread over the program; min and median in ms."""
    import statistics

    from sqlalchemy import text

    from kotaku.monitoring.evaluate import evaluate, evaluate_and_apply

    async with db.session() as s:
        n = int((await s.execute(text("SELECT count(*) FROM ksm"))).scalar_one())
        ids = [int(r[0]) for r in await s.execute(text("SELECT id FROM ksm ORDER BY id"))]
    picks = sorted({ids[(i * n) // INCREMENTAL_KSMS] for i in range(INCREMENTAL_KSMS)}) if ids else []
    evaluate_ms, apply_ms, findings = [], [], 0
    async with db.session() as s:
        await evaluate(s, settings, AT, picks[:1])  # warm-up: statement caches, pages
        for k in picks:
            t0 = time.perf_counter()
            findings += len(await evaluate(s, settings, AT, [k]))
            evaluate_ms.append(1000 * (time.perf_counter() - t0))
    for k in picks:
        t0 = time.perf_counter()
        await evaluate_and_apply(db, settings, AT, [k])
        apply_ms.append(1000 * (time.perf_counter() - t0))

    def figures(ms: list[float]) -> dict[str, float]:
        return {"min": round(min(ms), 1), "median": round(statistics.median(ms), 1)} if ms else {}

    return {
        "ksms": len(picks),
        "findings": findings,
        "ms": figures(evaluate_ms),
        "apply_ms": figures(apply_ms),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process. VmHWM (Linux) belongs to the process image; ru_maxrss would
    also count the parent's memory copied at fork, before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(url: str, schema: str | None, what: str) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", what, "--database-url", url]
    if schema:
        cmd += ["--schema", schema]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1]
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the bench -------------------------------------------------------------------------------------


def bench_one(size: Size, backend: str, pg_url: str | None, full: bool, workdir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    tables = generate(size, sqlite=backend == "sqlite")
    gen_s = time.perf_counter() - t0
    rows = {k: len(v[1]) for k, v in tables.items()}
    schema = None
    t0 = time.perf_counter()
    if backend == "sqlite":
        path = workdir / f"bench_{size.activities}.db"
        load_sqlite(path, tables)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        assert pg_url
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(load_postgres(pg_url, schema, tables))
        url = pg_url
    load_s = time.perf_counter() - t0
    del tables
    try:
        out: dict[str, Any] = {
            "backend": backend,
            "size": size.__dict__,
            "rows": rows,
            "generate_s": round(gen_s, 2),
            "load_s": round(load_s, 2),
            "floor": in_child(url, schema, "floor"),
            "evaluate": in_child(url, schema, "evaluate"),
        }
        if full:
            out["apply"] = in_child(url, schema, "apply")
        # After the full lifecycle run: the incremental runs open and update alerts of their KSMs.
        out["incremental_ms"] = in_child(url, schema, "incremental")
        return out
    finally:
        if schema and pg_url:
            asyncio.run(drop_postgres(pg_url, schema))


def report(r: dict[str, Any], say: Callable[[str], None] = print) -> None:
    ev, fl = r["evaluate"], r["floor"]
    rows = r["rows"]
    say(f"\n== {r['backend']}: {r['size']['activities']:,} activities, {r['size']['kelurahan']:,} kelurahan, "
          f"{r['size']['days']} work days, {r['size']['workers_per_day']:,} workers a day")  # fmt: skip
    say(f"   rows: progress_report {rows['progress_report']:,}, attendance_record {rows['attendance_record']:,}, "
          f"attendance_day {rows['attendance_day']:,}, worker {rows['worker']:,}, media {rows['media']:,}")  # fmt: skip
    say(f"   generated in {r['generate_s']} s, loaded in {r['load_s']} s")
    ratio = ev["seconds"] / fl["seconds"] if fl["seconds"] else float("nan")
    say(f"   floor (one plain aggregate query): {fl['seconds']:.3f} s")
    say(f"   sweep (evaluate, all checks): {ev['seconds']:.3f} s = {ratio:.1f} × floor; "
          f"peak RSS {ev['maxrss_mb']:.0f} MB; {ev['findings']:,} findings")  # fmt: skip
    say(f"   findings by kind: {ev['by_kind']}")
    inc = r["incremental_ms"]
    if inc.get("ms"):
        say(f"   incremental, one KSM ({inc['ksms']} KSMs in turn): evaluate min {inc['ms']['min']:.1f} ms, "
              f"median {inc['ms']['median']:.1f} ms; with the alert lifecycle min {inc['apply_ms']['min']:.1f} ms, "
              f"median {inc['apply_ms']['median']:.1f} ms")  # fmt: skip
    if "apply" in r:
        ap = r["apply"]
        say(f"   sweep + alert lifecycle: first {ap['seconds']:.3f} s ({ap['alerts']}), "
              f"again {ap['again_seconds']:.3f} s ({ap['again']}); peak RSS {ap['maxrss_mb']:.0f} MB")  # fmt: skip


def run(
    activities: int = 33_000,
    kelurahan: int = 11_000,
    days: int = 60,
    workers_per_day: int = 60_000,
    database_url: str | None = None,
    scaling: bool = True,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    def say(line: str) -> None:
        if not quiet:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    backends = ["sqlite"] + (["postgresql"] if database_url else [])
    sizes = []
    if scaling:
        for n in (1_000, 10_000):
            if n < activities:
                f = n / activities
                sizes.append(Size(n, max(1, round(kelurahan * f)), days, max(1, round(workers_per_day * f))))
    sizes.append(Size(activities, kelurahan, days, workers_per_day))
    results = []
    with tempfile.TemporaryDirectory(prefix="kotaku-bench-") as tmp:
        for backend in backends:
            for size in sizes:
                r = bench_one(size, backend, database_url, full=size == sizes[-1], workdir=Path(tmp))
                report(r, say)
                results.append(r)
                for p in Path(tmp).glob("bench_*"):
                    p.unlink()
    say(
        "\n== scaling (sweep = evaluate, all checks; floor = one plain aggregate query; "
        "one KSM = evaluate of one KSM alone, min/median)"
    )
    say(
        f"   {'backend':<10} {'activities':>10} {'sweep s':>8} {'floor s':>8} {'ratio':>6} {'RSS MB':>7} {'findings':>9}"
        f" {'one KSM ms':>14}"
    )
    for r in results:
        ev, fl = r["evaluate"], r["floor"]
        one = r["incremental_ms"].get("ms") or {"min": float("nan"), "median": float("nan")}
        say(
            f"   {r['backend']:<10} {r['size']['activities']:>10,} {ev['seconds']:>8.3f} {fl['seconds']:>8.3f} "
            f"{ev['seconds'] / fl['seconds']:>6.1f} {ev['maxrss_mb']:>7.0f} {ev['findings']:>9,}"
            f" {one['min']:>6.1f}/{one['median']:<7.1f}"
        )
    say(f"   target: a full national sweep under {TARGET['sweep_s']:g} s and {TARGET['peak_mb']:g} MB")
    return results


TARGET = {"sweep_s": 2.0, "peak_mb": 300.0}  # a full national sweep


def _largest(r: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one run: the sweep, the floor, the sweep's peak memory, one KSM alone."""
    ev, fl, inc = r["evaluate"], r["floor"], r["incremental_ms"]
    out: dict[str, Any] = {
        "backend": r["backend"],
        "activities": r["size"]["activities"],
        "size": r["size"],
        "sweep_s": round(ev["seconds"], 4),
        "floor_s": round(fl["seconds"], 4),
        "ratio_to_floor": round(ev["seconds"] / fl["seconds"], 2) if fl["seconds"] else None,
        "peak_mb": round(ev["maxrss_mb"], 1),
        "findings": ev["findings"],
        "incremental_ms": inc.get("ms") or {},
        "incremental_apply_ms": inc.get("apply_ms") or {},
    }
    if "apply" in r:
        out["apply_s"] = round(r["apply"]["seconds"], 4)
        out["apply_again_s"] = round(r["apply"]["again_seconds"], 4)
        out["apply_peak_mb"] = round(r["apply"]["maxrss_mb"], 1)
    out["target"] = {
        **TARGET,
        "pass": ev["seconds"] < TARGET["sweep_s"] and ev["maxrss_mb"] < TARGET["peak_mb"],
    }
    return out


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The `--json` document: the figures of the largest size of the first backend (SQLite) at the top
    (`sweep_s`, `floor_s`, `peak_mb`, `incremental_ms` min/median, `backend`, `activities`), the same per
    backend under `backends`, and every size's full result under `runs`."""
    by_backend: dict[str, dict[str, Any]] = {}
    for r in results:
        best = by_backend.get(r["backend"])
        if best is None or r["size"]["activities"] >= best["size"]["activities"]:
            by_backend[r["backend"]] = r
    largest = {name: _largest(r) for name, r in by_backend.items()}
    top = next(iter(largest.values()), {})
    return {**top, "backends": largest, "runs": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--activities", type=int, default=33_000)
    ap.add_argument("--kelurahan", type=int, default=11_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--workers-per-day", type=int, default=60_000)
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (postgresql+asyncpg://...)")
    ap.add_argument("--no-scaling", action="store_true")
    ap.add_argument("--child", choices=["floor", "evaluate", "apply", "incremental"], help=argparse.SUPPRESS)
    ap.add_argument("--schema", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.database_url, args.schema, args.child))))
        return
    run(
        args.activities,
        args.kelurahan,
        args.days,
        args.workers_per_day,
        args.database_url,
        not args.no_scaling,
    )


if __name__ == "__main__":
    main()
