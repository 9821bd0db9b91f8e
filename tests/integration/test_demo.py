"""`kotaku demo`: a live demo program whose dates follow today, on SQLite and PostgreSQL, and its CLI."""

from __future__ import annotations

import itertools
import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog
from click.testing import Result
from sqlalchemy import select, text
from typer.testing import CliRunner

from kotaku import clock, migrate
from kotaku.cli import app
from kotaku.config import MonitoringConfig, Settings, load_settings
from kotaku.db import Database
from kotaku.demo import (
    CALENDAR,
    DemoNotEmpty,
    DemoSummary,
    is_empty,
    reset_program,
    seed_demo,
    summarize,
)
from kotaku.domain.plan import Status, assess, planned_percent
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    Bkm,
    Channel,
    ChannelIdentity,
    Gender,
    Ksm,
    Obstacle,
    ObstacleStatus,
    Person,
    PlanPoint,
    ProgressReport,
    Region,
    RegionLevel,
    Role,
    Severity,
    Skill,
    Worker,
)
from kotaku.security import NikVault, generate_key, normalize_nik, normalize_phone

previous_work_days = CALENDAR.days_before

# Thursday 26 November 2026, 16:00 WIB (17:00 WITA).
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
# 23:30 WIB on the 25th is already 00:30 WITA on the 26th: each site must use its own local date.
AT_MIDNIGHT = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
NIK_DIGITS = re.compile(r"\d{16}")


def local_today(tz: str, at: datetime) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


async def load(db: Database) -> dict[str, list]:
    async with db.session() as s:
        data = {}
        for name, model in {
            "region": Region,
            "bkm": Bkm,
            "ksm": Ksm,
            "activity": Activity,
            "plan": PlanPoint,
            "worker": Worker,
            "person": Person,
            "identity": ChannelIdentity,
            "progress": ProgressReport,
            "day": AttendanceDay,
            "record": AttendanceRecord,
            "obstacle": Obstacle,
        }.items():
            data[name] = list((await s.execute(select(model))).scalars())
    return data


def site_tz(data: dict[str, list]) -> dict[int, str]:
    """Time zone of each KSM (its kelurahan's)."""
    regions = {r.id: r for r in data["region"]}
    bkms = {b.id: b for b in data["bkm"]}
    return {k.id: regions[bkms[k.bkm_id].kelurahan_id].timezone for k in data["ksm"]}


def statuses(data: dict[str, list], at: datetime) -> dict[str, Status]:
    """Today's status of every activity, recomputed from the rows with the default monitoring rule."""
    cfg = MonitoringConfig()
    tz = site_tz(data)
    plans: dict[int, list[tuple[date, float]]] = defaultdict(list)
    for p in data["plan"]:
        plans[p.activity_id].append((p.plan_date, p.planned_percent))
    out = {}
    for a in data["activity"]:
        today = local_today(tz[a.ksm_id], at)
        hist = sorted((r.report_date, r.percent) for r in data["progress"] if r.activity_id == a.id)
        hist = [h for h in hist if h[0] <= today]
        planned = planned_percent(plans[a.id], a.start_date, a.end_date, today)
        out[a.code] = assess(planned=planned, actual=hist[-1][1] if hist else None, cfg=cfg).status
    return out


async def test_seed_builds_a_live_program(db: Database, settings: Settings) -> None:
    assert await is_empty(db)
    started = time.perf_counter()
    summary = await seed_demo(db, settings, at=AT)
    assert time.perf_counter() - started < 15
    assert not await is_empty(db)
    data = await load(db)
    tz = site_tz(data)

    # Structure: >= 4 KSMs, >= 4 indicators, one KSM by count, rosters of 10-20
    assert len(data["ksm"]) >= 4
    assert len({a.indicator for a in data["activity"]}) >= 4
    by_ksm: dict[int, list[Worker]] = defaultdict(list)
    for w in data["worker"]:
        by_ksm[w.ksm_id].append(w)
    count_mode = [k for k in data["ksm"] if not k.keeps_roster]
    assert len(count_mode) == 1 and not by_ksm[count_mode[0].id]
    roster_ksms = [k for k in data["ksm"] if k.keeps_roster]
    assert len(roster_ksms) >= 3
    for k in roster_ksms:
        workers = by_ksm[k.id]
        assert 10 <= len(workers) <= 20
        assert {w.skill for w in workers} == {Skill.PEKERJA, Skill.TUKANG}
        assert {w.gender for w in workers} == {Gender.L, Gender.P}
        assert any(w.is_phk for w in workers)
        for w in workers:
            low, high = (80_000, 90_000) if w.skill == Skill.PEKERJA else (100_000, 125_000)
            assert low <= w.daily_rate <= high

    # Money: wage_budget within budget, wages 50-70%, about Rp300 million per kelurahan
    per_kel: dict[int, int] = defaultdict(int)
    ksm_kel = {k.id: next(b.kelurahan_id for b in data["bkm"] if b.id == k.bkm_id) for k in data["ksm"]}
    for a in data["activity"]:
        assert 0 < a.wage_budget <= a.budget
        assert 0.5 <= a.wage_budget / a.budget <= 0.7
        assert a.target_volume > 0
        per_kel[ksm_kel[a.ksm_id]] += a.budget
    assert all(250_000_000 <= v <= 350_000_000 for v in per_kel.values())

    # Every role, each with a console identity named by the person's code, valid phones
    assert {p.role for p in data["person"]} == set(Role)
    idents = {(i.person_id, i.channel, i.external_id) for i in data["identity"]}
    for p in data["person"]:
        assert (p.id, Channel.CONSOLE, p.code) in idents
        assert p.phone == normalize_phone(p.phone)
        assert p.phone.startswith("+628")
    codes = {p.code: p for p in data["person"]}
    for code in ("ketua-bejalen", "fasil-ambarawa", "askot-semarang", "korkot-semarang", "admin"):
        assert code in codes
    kab = next(r for r in data["region"] if r.code == "33.22")
    assert codes["askot-semarang"].scope_region_id == kab.id
    assert codes["korkot-semarang"].scope_region_id == kab.id
    for p in data["person"]:
        if p.role == Role.KETUA_KSM:
            assert p.scope_ksm_id is not None
        if p.role == Role.FASILITATOR:
            region = next(r for r in data["region"] if r.id == p.scope_region_id)
            assert region.level in {RegionLevel.KECAMATAN, RegionLevel.KELURAHAN}

    # A WITA site with a BKM, KSM, activities, ketua and fasilitator
    wita = [r for r in data["region"] if r.timezone == "Asia/Makassar"]
    assert {r.level for r in wita} == set(RegionLevel)
    wita_ksms = [k for k in data["ksm"] if tz[k.id] == "Asia/Makassar"]
    assert wita_ksms
    wita_ksm = wita_ksms[0]
    assert any(a.ksm_id == wita_ksm.id for a in data["activity"])
    assert any(p.role == Role.KETUA_KSM and p.scope_ksm_id == wita_ksm.id for p in data["person"])
    wita_ids = {r.id for r in wita}
    assert any(p.role == Role.FASILITATOR and p.scope_region_id in wita_ids for p in data["person"])

    # Plans: weekly S-curve points from start to end
    for a in data["activity"]:
        today = local_today(tz[a.ksm_id], AT)
        assert today - timedelta(days=23) <= a.start_date <= today - timedelta(days=19)
        assert 55 <= (a.end_date - a.start_date).days <= 65
        pts = sorted((p.plan_date, p.planned_percent) for p in data["plan"] if p.activity_id == a.id)
        assert pts[0] == (a.start_date, 0.0) and pts[-1] == (a.end_date, 100.0)
        assert all((d1 - d0).days <= 7 for (d0, _), (d1, _) in itertools.pairwise(pts))
        assert [p for _, p in pts] == sorted(p for _, p in pts)

    # Three weeks of daily history, progress never decreasing, nothing after yesterday
    for a in data["activity"]:
        today = local_today(tz[a.ksm_id], AT)
        rows = sorted((r.report_date, r.percent) for r in data["progress"] if r.activity_id == a.id)
        assert len(rows) >= 12
        assert rows[0][0] <= today - timedelta(days=18)
        assert rows[-1][0] < today
        assert all(d.weekday() != 6 for d, _ in rows)
        percents = [p for _, p in rows]
        assert percents == sorted(percents)
        assert all(0 <= p <= 100 for p in percents)

    # Attendance: roster days with records at the worker's rate, count days without records
    workers = {w.id: w for w in data["worker"]}
    records_by_day: dict[int, list[AttendanceRecord]] = defaultdict(list)
    for r in data["record"]:
        records_by_day[r.attendance_day_id].append(r)
    paid_days = 0
    for day in data["day"]:
        assert day.work_date.weekday() != 6
        recs = records_by_day[day.id]
        if day.mode == AttendanceMode.COUNT:
            assert not recs and day.count_male + day.count_female > 0
        else:
            assert recs
            assert day.hok == sum(r.hok for r in recs) == len(recs)
            assert day.total_wages == sum(r.wage for r in recs)
            for r in recs:
                w = workers[r.worker_id]
                assert r.hok == 1.0 and r.wage == w.daily_rate and r.ksm_id == w.ksm_id == day.ksm_id
                assert r.nik_hash == w.nik_hash and r.work_date == day.work_date
                assert r.paid == day.wages_paid
        paid_days += day.wages_paid
    assert paid_days > len(data["day"]) * 0.6

    # Obstacles: one open high-severity cement delay, one closed
    open_high = [
        o for o in data["obstacle"] if o.status == ObstacleStatus.OPEN and o.severity == Severity.TINGGI
    ]
    assert any("semen belum datang" in o.description.lower() for o in open_high)
    closed = [o for o in data["obstacle"] if o.status == ObstacleStatus.CLOSED]
    assert closed and all(o.closed_at and o.closed_by_id and o.close_note for o in closed)

    # Today's status: most on plan, at least one behind and one critical
    status = statuses(data, AT)
    values = list(status.values())
    assert Status.CRITICAL in values and Status.BEHIND in values
    good = sum(s in {Status.ON_PLAN, Status.AHEAD} for s in values)
    assert good > len(values) / 2
    assert {a.code: a.status for a in summary.activities} == status

    # One KSM has not reported for the last 2 work days; the others have
    last_two = previous_work_days(local_today("Asia/Jakarta", AT), 2)
    assert all(d.weekday() != 6 for d in last_two)
    reported: dict[int, set[date]] = defaultdict(set)
    act_ksm = {a.id: a.ksm_id for a in data["activity"]}
    for r in data["progress"]:
        reported[act_ksm[r.activity_id]].add(r.report_date)
    for d in data["day"]:
        reported[d.ksm_id].add(d.work_date)
    silent = [k for k in data["ksm"] if tz[k.id] == "Asia/Jakarta" and not reported[k.id] & set(last_two)]
    assert len(silent) == 1
    assert any(k.missed_workdays >= 2 and k.code == silent[0].code for k in summary.ksms)
    for k in data["ksm"]:
        if k.id != silent[0].id:
            yesterday_work = previous_work_days(local_today(tz[k.id], AT), 1)[0]
            assert yesterday_work in reported[k.id]

    # The summary agrees with the rows
    assert summary.counts["ksm"] == len(data["ksm"])
    assert summary.counts["attendance_record"] == len(data["record"])
    assert {p.code for p in summary.people} == set(codes)
    json.dumps(summary.to_dict())


async def test_each_site_uses_its_own_local_date(db: Database, settings: Settings) -> None:
    await seed_demo(db, settings, at=AT_MIDNIGHT)
    data = await load(db)
    tz = site_tz(data)
    for tzname, expected_today in (
        ("Asia/Jakarta", date(2026, 11, 25)),
        ("Asia/Makassar", date(2026, 11, 26)),
    ):
        assert clock.local_today(tzname, AT_MIDNIGHT) == expected_today
        acts = [a for a in data["activity"] if tz[a.ksm_id] == tzname]
        assert acts
        for a in acts:
            rows = [r.report_date for r in data["progress"] if r.activity_id == a.id]
            assert max(rows) < expected_today
            assert 19 <= (expected_today - a.start_date).days <= 23
    bjl = next(a for a in data["activity"] if a.code == "KEG-BJL-01")
    bla = next(a for a in data["activity"] if a.code == "KEG-BLA-01")
    # Both start 21 days before their own today, which differ by one calendar day.
    assert (bla.start_date - bjl.start_date).days == 1


async def test_dates_follow_today_and_history_is_reproducible(db: Database, settings: Settings) -> None:
    first = await seed_demo(db, settings, at=AT)
    data1 = await load(db)
    with pytest.raises(DemoNotEmpty):
        await seed_demo(db, settings, at=AT)

    later = AT + timedelta(days=30)
    second = await seed_demo(db, settings, at=later, reset=True)
    data2 = await load(db)
    starts1 = {a.code: (a.start_date, a.end_date) for a in data1["activity"]}
    starts2 = {a.code: (a.start_date, a.end_date) for a in data2["activity"]}
    assert starts1.keys() == starts2.keys()
    for code, (s1, e1) in starts1.items():
        s2, e2 = starts2[code]
        assert (s2 - s1).days == 30 and (e2 - e1).days == 30
    assert max(r.report_date for r in data2["progress"]) > max(r.report_date for r in data1["progress"])
    assert len(data2["region"]) == len(data1["region"])  # reset removed the first program
    assert Status.CRITICAL in {a.status for a in second.activities}
    assert Status.BEHIND in {a.status for a in second.activities}
    # Around Christmas 2026 (a Friday holiday) the late KSM still misses its last 2 work days.
    assert any(k.missed_workdays >= 2 for k in second.ksms)

    # Same day, same program
    await seed_demo(db, settings, at=AT, reset=True)
    data3 = await load(db)

    def fingerprint(data: dict[str, list]) -> tuple:
        acts = {a.id: a.code for a in data["activity"]}
        return (
            sorted((acts[r.activity_id], r.report_date, r.percent) for r in data["progress"]),
            sorted((w.code, w.name, w.daily_rate, w.gender, w.is_phk) for w in data["worker"]),
            len(data["record"]),
        )

    assert fingerprint(data3) == fingerprint(data1)
    assert [(a.code, a.status) for a in first.activities] == [
        (a.code, a.status) for a in (await _summary_for(db, settings, AT)).activities
    ]


async def _summary_for(db: Database, settings: Settings, at: datetime) -> DemoSummary:
    return await summarize(db, settings, at=at)


async def test_nik_is_stored_encrypted_and_hashed(db: Database, settings: Settings, vault: NikVault) -> None:
    await seed_demo(db, settings, at=AT, vault=vault)
    data = await load(db)
    tz = site_tz(data)
    niks = set()
    for w in data["worker"]:
        assert w.nik_encrypted and w.nik_hash
        nik = vault.decrypt(w.nik_encrypted)
        assert normalize_nik(nik) == nik
        assert nik.startswith("3322" if tz[w.ksm_id] == "Asia/Jakarta" else "7371")
        assert vault.hash(nik) == w.nik_hash
        assert nik.encode() not in w.nik_encrypted
        niks.add(nik)
    assert len(niks) == len(data["worker"])

    async with db.session() as s:
        rows = (await s.execute(text("SELECT * FROM worker"))).mappings().all()
        records = (await s.execute(text("SELECT * FROM attendance_record"))).mappings().all()
    for row in [*rows, *records]:
        for key, value in row.items():
            if isinstance(value, str):
                assert value not in niks, key
                if key != "nik_hash":
                    assert not NIK_DIGITS.search(value), key
            if isinstance(value, bytes | memoryview):
                raw = bytes(value)
                assert not any(n.encode() in raw for n in niks), key


async def test_reset_program_empties_everything(db: Database, settings: Settings) -> None:
    await seed_demo(db, settings, at=AT)
    await reset_program(db)
    assert await is_empty(db)
    data = await load(db)
    assert all(not rows for rows in data.values())


# --- CLI ------------------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_"):
            monkeypatch.delenv(key, raising=False)
    env = {
        "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "KOTAKU_APP__DATA_DIR": str(tmp_path / "var"),
        "KOTAKU_SECURITY__NIK_KEY": generate_key(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    migrate.upgrade(load_settings())
    yield env
    structlog.reset_defaults()


def run(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def test_cli_demo_json_then_refuses_then_if_empty(cli_env: dict[str, str]) -> None:
    res = run(cli_env, "demo", "--json", "--at", "2026-11-26T16:00")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["seeded"] is True
    assert doc["counts"]["ksm"] >= 4
    codes = {p["code"] for p in doc["people"]}
    assert {"ketua-bejalen", "fasil-ambarawa", "askot-semarang", "admin"} <= codes
    statuses = {a["status"] for a in doc["activities"]}
    assert {"kritis", "terlambat"} <= statuses
    assert {k["today"] for k in doc["ksms"]} == {"2026-11-26"}

    res = run(cli_env, "demo")
    assert res.exit_code == 1
    assert "sudah berisi data" in res.output

    res = run(cli_env, "demo", "--json")
    assert res.exit_code == 1
    assert json.loads(res.stdout)["seeded"] is False

    res = run(cli_env, "demo", "--if-empty")
    assert res.exit_code == 0
    assert "tidak dimuat" in res.stdout

    res = run(cli_env, "demo", "--if-empty", "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout) == {"seeded": False, "reason": "not_empty"}


def test_cli_demo_if_empty_seeds_and_prints_summary(cli_env: dict[str, str]) -> None:
    res = run(cli_env, "demo", "--if-empty", "--at", "2026-11-26T16:00")
    assert res.exit_code == 0, res.output
    for needle in ("kotaku chat --as", "ketua-bejalen", "KSM-BJL-01", "kritis", "terlambat", "WITA"):
        assert needle in res.stdout


def test_cli_demo_reset_needs_yes(cli_env: dict[str, str]) -> None:
    assert run(cli_env, "demo", "--json").exit_code == 0
    res = run(cli_env, "demo", "--reset")
    assert res.exit_code == 2
    assert "--yes" in res.output
    res = run(cli_env, "demo", "--reset", "--yes", "--json", "--at", "2026-12-26T16:00")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["seeded"] is True
    assert {k["today"] for k in doc["ksms"]} == {"2026-12-26"}
    assert doc["counts"]["region"] == 11


def test_cli_demo_bad_at(cli_env: dict[str, str]) -> None:
    res = run(cli_env, "demo", "--at", "kemarin")
    assert res.exit_code == 2
