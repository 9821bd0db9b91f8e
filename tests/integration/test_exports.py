"""Exports (XLSX and CSV) of the test program and of the demo: every file is opened again (openpyxl, csv)
and its figures checked against the database; NIK masking, scope refusal, the audit entry, English
headers, a count-mode KSM, photos in the zip, and the `kotaku export` command on a migrated demo."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image
from sqlalchemy import func, select

from kotaku import catalogue
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.demo import seed_demo
from kotaku.domain.plan import assess, planned_percent, project_finish
from kotaku.exports import (
    ExportFormat,
    ExportKind,
    ExportNotAllowed,
    ExportRequest,
    ExportResult,
    build_export,
    check_export,
    payment_period,
)
from kotaku.exports.csv import COLUMNS
from kotaku.exports.words import terbilang
from kotaku.models import (
    Activity,
    AttendanceDay,
    AttendanceMode,
    AttendanceRecord,
    AuditLog,
    Channel,
    Ksm,
    Media,
    MediaKind,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    Person,
    PlanPoint,
    ProgressReport,
    Severity,
    Worker,
)
from kotaku.security import NikVault
from kotaku.services.attendance import HOK_PER_DAY, Sheet, save_attendance
from kotaku.services.media import store_media
from kotaku.services.progress import save_progress
from kotaku.services.scope import NATIONAL, Scope, resolve_scope
from kotaku.services.summary import TREND_DAYS, OutsideScope, scope_summary
from kotaku.uow import UnitOfWork
from tests.cli import clean_env, run
from tests.factories import Program, build_program

# Thursday 26 November 2026, 16:00 WIB; the payment week is Monday 23 - Sunday 29 November.
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MONDAY, SUNDAY = date(2026, 11, 23), date(2026, 11, 29)
MASKED = re.compile(r"^\d{4}\*{8}\d{4}$")
WHOLE = re.compile(r"^\d{16}$")


@pytest.fixture
def at_noon() -> Iterator[None]:
    with time_machine.travel(AT, tick=False):
        yield


# --- the test program with a week of reports --------------------------------------------------------


def _jpeg(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, format="JPEG")
    return out.getvalue()


async def _week(db: Database, settings: Settings, p: Program) -> None:
    """Mon-Wed of the week: roster sheets for KSM-BJL-01 (some paid) and KSM-TMB-01, count sheets for
    KSM-BJL-02, progress, obstacles (open, closed in the week, closed before it) and three photos."""
    async with db.session() as s:
        roster_a = list(
            (
                await s.execute(select(Worker.id).where(Worker.ksm_id == p["ksm_a"]).order_by(Worker.id))
            ).scalars()
        )
        roster_c = list(
            (
                await s.execute(select(Worker.id).where(Worker.ksm_id == p["ksm_c"]).order_by(Worker.id))
            ).scalars()
        )
    days = [MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)]
    async with UnitOfWork(db) as uow:
        for i, day in enumerate(days):
            present = roster_a[: 12 + i]  # 12, 13, 14 workers
            await save_attendance(
                uow,
                ksm_id=p["ksm_a"],
                sheet=Sheet(
                    work_date=day, mode=AttendanceMode.ROSTER, worker_ids=tuple(present), wages_paid=i == 0
                ),
                entered_by_id=p["ketua-a"],
                channel=Channel.TEST,
                now=AT,
            )
            await save_attendance(
                uow,
                ksm_id=p["ksm_b"],
                sheet=Sheet(
                    work_date=day, mode=AttendanceMode.COUNT, count_male=8 + i, count_female=3, rate=90_000
                ),
                entered_by_id=p["ketua-b"],
                channel=Channel.TEST,
                now=AT,
            )
        await save_attendance(
            uow,
            ksm_id=p["ksm_c"],
            sheet=Sheet(work_date=days[0], mode=AttendanceMode.ROSTER, worker_ids=tuple(roster_c[:4])),
            entered_by_id=p["ketua-c"],
            channel=Channel.TEST,
            now=AT,
        )
        # A sheet of the week before: not in this week's papers.
        await save_attendance(
            uow,
            ksm_id=p["ksm_a"],
            sheet=Sheet(
                work_date=MONDAY - timedelta(days=2),
                mode=AttendanceMode.ROSTER,
                worker_ids=tuple(roster_a[:5]),
                late_reason="catatan lama",
            ),
            entered_by_id=p["ketua-a"],
            channel=Channel.TEST,
            now=AT,
        )
        for key, values in {
            "road": [(MONDAY - timedelta(days=3), 8.0), *zip(days, (10.0, 12.5, 15.0), strict=True)],
            "drain": list(zip(days, (5.0, 6.0, 7.0), strict=True)),
            "mck": [(days[1], 25.0)],
        }.items():
            for day, pct in values:
                await save_progress(
                    uow,
                    activity_id=p[key],
                    report_date=day,
                    percent=pct,
                    volume=None,
                    note="cor tahap 1" if key == "road" and day == days[2] else None,
                    entered_by_id=p["ketua-a"],
                    channel=Channel.TEST,
                    now=AT,
                )
        for n, (lat, lon, milestone) in enumerate(
            [(-7.2651, 110.4121, None), (-7.2652, 110.4122, 0), (-7.3000, 110.5000, None)]
        ):
            await store_media(
                uow,
                settings,
                kind=MediaKind.PHOTO,
                ksm_id=p["ksm_a"],
                report_date=days[n % 2],
                entered_by_id=p["ketua-a"],
                channel=Channel.TEST,
                now=AT,
                content=_jpeg((40 * n, 120, 200 - 30 * n)),
                mime_type="image/jpeg",
                caption=f"foto {n}",
                milestone=milestone,
                activity_id=p["road"],
                latitude=lat,
                longitude=lon,
            )
        s = uow.session
        s.add_all(
            [
                Obstacle(
                    short_id="K-AAAA",
                    ksm_id=p["ksm_a"],
                    activity_id=p["road"],
                    report_date=days[1],
                    category=ObstacleCategory.MATERIAL,
                    severity=Severity.TINGGI,
                    description="Semen belum datang",
                    status=ObstacleStatus.OPEN,
                    reported_by_id=p["ketua-a"],
                ),
                Obstacle(
                    short_id="K-BBBB",
                    ksm_id=p["ksm_a"],
                    report_date=MONDAY - timedelta(days=4),
                    category=ObstacleCategory.CUACA,
                    severity=Severity.SEDANG,
                    description="Hujan deras",
                    status=ObstacleStatus.CLOSED,
                    reported_by_id=p["ketua-a"],
                    closed_by_id=p["fasil"],
                    closed_at=datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
                    close_note="Cuaca cerah, lanjut",
                ),
                Obstacle(
                    short_id="K-CCCC",
                    ksm_id=p["ksm_a"],
                    report_date=MONDAY - timedelta(days=10),
                    category=ObstacleCategory.TEKNIS,
                    severity=Severity.RENDAH,
                    description="Sudah lama selesai",
                    status=ObstacleStatus.CLOSED,
                    closed_by_id=p["fasil"],
                    closed_at=datetime(2026, 11, 16, 2, 0, tzinfo=UTC),
                    close_note="beres",
                ),
                Obstacle(
                    short_id="K-DDDD",
                    ksm_id=p["ksm_m"],
                    report_date=days[0],
                    category=ObstacleCategory.DANA,
                    severity=Severity.SEDANG,
                    description="Dana belum cair (Makassar)",
                    status=ObstacleStatus.OPEN,
                ),
            ]
        )


@pytest.fixture
async def program(db: Database, vault: NikVault, settings: Settings) -> Program:
    p = await build_program(db, vault, AT.date())
    await _week(db, settings, p)
    return p


async def _export(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    scope: Scope,
    fmt: ExportFormat = ExportFormat.XLSX,
    **kw: Any,
) -> ExportResult:
    request = ExportRequest(
        scope=scope, start=kw.pop("start", MONDAY), end=kw.pop("end", SUNDAY), fmt=fmt, **kw
    )
    seen: list[tuple[str, int, int]] = []
    result = await build_export(
        db,
        settings,
        request,
        tmp_path / f"out-{next(_serial)}.{fmt.value}",
        on_progress=lambda *a: seen.append(a),
    )
    assert result.path.is_file()
    assert seen, "no progress reported"
    return result


_serial = itertools.count(1)


def _leftovers(folder: Path) -> list[Path]:
    """Partly written files (`.<name>.part`) left behind."""
    return list(folder.glob(".*part"))


def _work_dirs(folder: Path) -> list[Path]:
    """Temporary folders of an export (the CSV files, a parallel export's parts) left behind."""
    return list(folder.glob(".kotaku-export-*"))


async def _scope(db: Database, text: str) -> Scope:
    async with db.session() as s:
        return await resolve_scope(s, text)


# --- reading the papers back ------------------------------------------------------------------------


def _rows(ws: Worksheet) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def form_blocks(ws: Worksheet, *first_headers: str) -> list[dict[str, Any]]:
    """The blocks of a form sheet in sheet order: the KSM and period lines, the header row (column A "No.",
    column B one of `first_headers`), the data rows and the totals row after them."""
    rows = _rows(ws)
    blocks: list[dict[str, Any]] = []
    ksm = period = None
    i = 0
    while i < len(rows):
        r = rows[i]
        if r[1] == "KSM" and isinstance(r[2], str):
            ksm = r[2].removeprefix(": ")
        if r[1] in ("Periode", "Period") and isinstance(r[2], str):
            period = r[2].removeprefix(": ")
        if r[0] == "No." and r[1] in first_headers:
            header = r
            data = []
            i += 1
            while i < len(rows) and isinstance(rows[i][0], int):
                data.append(rows[i])
                i += 1
            blocks.append({"ksm": ksm, "period": period, "header": header, "rows": data, "total": rows[i]})
        i += 1
    return blocks


def table_rows(ws: Worksheet) -> tuple[list[Any], list[list[Any]]]:
    """A tabular sheet: its header row (row 5) and the data rows up to the first row without a value in
    its first two columns."""
    rows = _rows(ws)
    header = rows[4]
    data = []
    for r in rows[5:]:
        if r[0] is None or r[1] is None or r[0] in ("JUMLAH", "TOTAL"):
            break
        data.append(r)
    return header, data


async def _records(db: Database, ksm_ids: list[int], start: date, end: date) -> tuple[int, int, float]:
    """(records, their wages, their HOK) of roster sheets in the period."""
    async with db.session() as s:
        n, wages, hok = (
            await s.execute(
                select(
                    func.count(AttendanceRecord.id),
                    func.coalesce(func.sum(AttendanceRecord.wage), 0),
                    func.coalesce(func.sum(AttendanceRecord.hok), 0.0),
                )
                .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id)
                .where(
                    AttendanceDay.ksm_id.in_(ksm_ids),
                    AttendanceDay.work_date >= start,
                    AttendanceDay.work_date <= end,
                )
            )
        ).one()
    return int(n), int(wages), float(hok)


async def _count_days(db: Database, ksm_ids: list[int], start: date, end: date) -> list[AttendanceDay]:
    async with db.session() as s:
        return list(
            (
                await s.execute(
                    select(AttendanceDay)
                    .where(
                        AttendanceDay.ksm_id.in_(ksm_ids),
                        AttendanceDay.mode == AttendanceMode.COUNT,
                        AttendanceDay.work_date >= start,
                        AttendanceDay.work_date <= end,
                    )
                    .order_by(AttendanceDay.work_date)
                )
            ).scalars()
        )


async def _all_ksm_ids(db: Database) -> list[int]:
    async with db.session() as s:
        return list((await s.execute(select(Ksm.id))).scalars())


def _check_forms_against_db(
    wb: Any, records: tuple[int, int, float], count_days: list[AttendanceDay], lang: str = "id"
) -> None:
    """Daftar Hadir and Daftar Pembayaran Upah add up to the database: HOK = records x HOK per day (+ the
    count sheets' HOK), wages = the records' wages + the count sheets' totals; ticks = HOK per worker."""
    n_records, wages, _ = records
    hadir = wb["Daftar Hadir" if lang == "id" else "Attendance"]
    name = "Nama" if lang == "id" else "Name"
    grid = form_blocks(hadir, name)
    assert grid, "no Daftar Hadir block"
    total_hok = 0.0
    for block in grid:
        header = block["header"]
        hok_col = header.index("Jumlah HOK" if lang == "id" else "Total HOK")
        day_cols = range(5, hok_col)
        for r in block["rows"]:
            ticks = sum(1 for c in day_cols if r[c] == "✓")
            assert r[hok_col] == ticks * HOK_PER_DAY, r
            total_hok += r[hok_col]
        per_day = [block["total"][c] or 0 for c in day_cols]
        assert sum(per_day) == block["total"][hok_col]
    assert total_hok == n_records * HOK_PER_DAY

    counted = form_blocks_count(hadir)
    assert sum(r[5] for r in counted) == sum(d.hok for d in count_days)
    assert sum(r[2] for r in counted) == sum(d.count_male for d in count_days)
    assert sum(r[3] for r in counted) == sum(d.count_female for d in count_days)

    upah = wb["Daftar Pembayaran Upah" if lang == "id" else "Wage Payments"]
    paid_blocks = form_blocks(upah, name, "Tanggal" if lang == "id" else "Date")
    assert paid_blocks
    total = 0
    for block in paid_blocks:
        line_total = sum(r[8] for r in block["rows"])
        assert block["total"][8] == line_total  # the cached value of =SUM(...)
        for r in block["rows"]:
            if MASKED.match(str(r[2])):  # a worker's line: days x daily rate (one rate a worker here)
                assert r[8] == r[5] * r[7], r
        total += line_total
    assert total == wages + sum(int(d.total_wages) for d in count_days)
    # Every total is spelled out under its block, in the same order.
    words_label = "Terbilang: " if lang == "id" else "In words: "
    spelled = [r[1] for r in _rows(upah) if isinstance(r[1], str) and r[1].startswith(words_label)]
    assert spelled == [words_label + terbilang(b["total"][8], lang) for b in paid_blocks]


def form_blocks_count(ws: Worksheet) -> list[list[Any]]:
    """The rows of every count-mode table of the Daftar Hadir sheet."""
    rows = _rows(ws)
    out = []
    for i, r in enumerate(rows):
        if r[0] == "No." and r[1] in ("Tanggal", "Date") and r[2] in ("L", "M"):
            j = i + 1
            while j < len(rows) and isinstance(rows[j][0], int):
                out.append(rows[j])
                j += 1
    return out


def _niks(wb: Any) -> list[str]:
    found = []
    for name in ("Daftar Hadir", "Daftar Pembayaran Upah"):
        for block in form_blocks(wb[name], "Nama"):
            found += [r[2] for r in block["rows"]]
    return found


# --- XLSX -------------------------------------------------------------------------------------------


async def test_xlsx_of_the_test_program_adds_up(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "33.22.05")  # kecamatan Ambarawa: KSM-BJL-01, -02 and KSM-TMB-01
    result = await _export(db, settings, tmp_path, scope)
    assert result.mime_type.endswith("spreadsheetml.sheet")
    wb = load_workbook(result.path, data_only=True)
    assert wb.sheetnames == [
        "Ringkasan",
        "Daftar Hadir",
        "Daftar Pembayaran Upah",
        "Progres",
        "Kendala",
        "Foto",
    ]
    ksm_ids = [program["ksm_a"], program["ksm_b"], program["ksm_c"]]
    records = await _records(db, ksm_ids, MONDAY, SUNDAY)
    assert records[0] == 12 + 13 + 14 + 4
    count_days = await _count_days(db, ksm_ids, MONDAY, SUNDAY)
    assert len(count_days) == 3
    _check_forms_against_db(wb, records, count_days)

    hadir = form_blocks(wb["Daftar Hadir"], "Nama")
    assert [b["ksm"] for b in hadir] == [
        "KSM Bejalen Makmur (KSM-BJL-01)",
        "KSM Tambakboyo Rukun (KSM-TMB-01)",
    ]
    assert hadir[0]["period"] == "23 November 2026 s.d. 29 November 2026"
    assert hadir[0]["header"][5] == "Sen\n23/11" and hadir[0]["header"][11] == "Min\n29/11"
    assert len(hadir[0]["rows"]) == 14  # workers present at least once
    assert result.rows["hadir"] == 14 + 3 + 4  # worker rows + count-mode days

    # The form header and signature block of the first paper.
    texts = [str(c) for row in _rows(wb["Daftar Hadir"])[:40] for c in row if c is not None]
    assert "DAFTAR HADIR PEKERJA" in texts and "Program Kota Tanpa Kumuh (KOTAKU)" in texts
    assert ": Bejalen, Kecamatan Ambarawa, Kabupaten Semarang, Jawa Tengah" in texts
    assert ": BKM Bejalen Sejahtera (BKM-BJL)" in texts
    assert any(t.startswith(": Rabat beton jalan lingkungan (ACT-BJL-01)") for t in texts)
    assert {"Mengetahui,", "Koordinator BKM/LKM", "Fasilitator", "Ketua KSM"} <= set(texts)
    assert {"( Pak Darto )", "( Pak Harun )", "( Mbak Wulan )", "Bejalen, 29 November 2026"} <= set(texts)

    # Wage list: paid on Monday only.
    upah = form_blocks(wb["Daftar Pembayaran Upah"], "Nama")[0]
    statuses = [r[9] for r in upah["rows"]]
    # 12 workers came on Monday (paid) and later (not yet paid); 2 only later.
    assert sorted(statuses) == ["Belum dibayar"] * 2 + ["Dibayar sebagian"] * 12
    assert all(r[5] == r[6] for r in upah["rows"])  # days = HOK at 1 HOK a day
    assert {n for n in _niks(wb)} and all(MASKED.match(n) for n in _niks(wb))

    # Progres: every report of the week with the plan, the deviation and the status of the domain rule.
    header, progres = table_rows(wb["Progres"])
    assert header[:9] == [
        "Kelurahan/Desa",
        "KSM",
        "Kode kegiatan",
        "Kegiatan",
        "Tanggal",
        "Rencana (%)",
        "Realisasi (%)",
        "Deviasi (poin)",
        "Status",
    ]
    async with db.session() as s:
        reports = (
            await s.execute(
                select(ProgressReport, Activity)
                .join(Activity, Activity.id == ProgressReport.activity_id)
                .where(
                    Activity.ksm_id.in_(ksm_ids),
                    ProgressReport.report_date >= MONDAY,
                    ProgressReport.report_date <= SUNDAY,
                )
            )
        ).all()
        assert len(progres) == len(reports) == result.rows["progres"] == 7
        road = next(a for _, a in reports if a.code == "ACT-BJL-01")
        points = [
            (d, p)
            for d, p in (
                await s.execute(
                    select(PlanPoint.plan_date, PlanPoint.planned_percent).where(
                        PlanPoint.activity_id == road.id
                    )
                )
            ).all()
        ]
        history = [
            (r.report_date, r.percent)
            for r, a in reports
            if a.id == road.id and r.report_date >= date(2026, 11, 25) - timedelta(days=TREND_DAYS)
        ] + [(MONDAY - timedelta(days=3), 8.0)]
    wed = next(r for r in progres if r[2] == "ACT-BJL-01" and r[4].date() == date(2026, 11, 25))
    planned = planned_percent(
        points, road.start_date, road.end_date, date(2026, 11, 25), settings.monitoring.curve
    )
    expected = assess(
        planned=planned,
        actual=15.0,
        cfg=settings.monitoring,
        end=road.end_date,
        projected_finish=project_finish(history),
    )
    assert wed[5] == planned and wed[6] == 15.0 and wed[7] == expected.deviation
    assert wed[8] == catalogue.t(f"export.status.{expected.status.value}")
    assert wed[9] == round(163.0 * 15 / 100, 2) and wed[10] == "m" and wed[13] == "cor tahap 1"
    photos_by_day = {r[4].date(): r[12] for r in progres if r[2] == "ACT-BJL-01"}
    assert photos_by_day == {MONDAY: 2, MONDAY + timedelta(days=1): 1, MONDAY + timedelta(days=2): 0}

    # Kendala: open in the week (not the one closed before it, not Makassar's).
    _, kendala = table_rows(wb["Kendala"])
    assert [r[0] for r in kendala] == ["K-BBBB", "K-AAAA"]
    closed = kendala[0]
    assert closed[8] == "Selesai" and closed[9].date() == date(2026, 11, 24) and closed[12] == "Mbak Wulan"
    assert closed[13] == "Cuaca cerah, lanjut" and closed[11] == "Pak Darto"
    open_one = kendala[1]
    assert (
        open_one[5] == "Material"
        and open_one[6] == "Tinggi (pekerjaan berhenti)"
        and open_one[8] == "Terbuka"
    )
    assert open_one[10] == 2  # 24 -> 26 November (today)
    async with db.session() as s:
        n_open = (
            await s.execute(
                select(func.count(Obstacle.id)).where(Obstacle.ksm_id.in_(ksm_ids), Obstacle.status == "open")
            )
        ).scalar_one()
    assert sum(1 for r in kendala if r[8] == "Terbuka") == n_open == 1

    # Foto: three photos with their distance to the road's point; the far one is 9 km away.
    _, foto = table_rows(wb["Foto"])
    assert len(foto) == 3 == result.rows["foto"]
    assert [r[3] for r in foto] == ["ACT-BJL-01"] * 3
    distance = {r[11]: r[8] for r in foto}
    assert distance["foto 0"] < 50 and distance["foto 1"] < 50 and distance["foto 2"] > 5_000
    assert [r[0].date() for r in foto] == [MONDAY, MONDAY, MONDAY + timedelta(days=1)]
    assert all(re.match(r"^2026112[34]_KSM-BJL-01_ACT-BJL-01_\d+\.jpg$", r[10]) for r in foto)

    # Ringkasan: the figures of /rekap (scope_summary of each KSM), worst first.
    _, ringkasan = table_rows(wb["Ringkasan"])
    ksm_rows = {r[2]: r for r in ringkasan if r[2] and r[2].startswith("KSM-")}
    assert set(ksm_rows) == {"KSM-BJL-01", "KSM-BJL-02", "KSM-TMB-01"}
    async with db.session() as s:
        for code, ksm_id in (("KSM-BJL-01", program["ksm_a"]), ("KSM-BJL-02", program["ksm_b"])):
            summary = await scope_summary(s, settings, Scope(ksm_id=ksm_id), AT)
            row = ksm_rows[code]
            assert row[9] == summary.to_date_work.hok
            assert row[11] == summary.wages_recorded and row[12] == summary.wages_paid
            assert row[15] == round(summary.work_value)  # the same estimate as /rekap and the alert
            assert row[13] == summary.wage_budget and row[16] == summary.budget
            assert row[18] == summary.open_obstacles
    ranks = [r[7] for r in ringkasan if r[2] in ksm_rows]
    order = ["KRITIS", "terlambat", "belum mulai", "sesuai rencana", "lebih cepat", "selesai"]
    assert ranks == sorted(ranks, key=order.index)


async def test_count_mode_ksm_gets_a_count_table(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "ksm:KSM-BJL-02")
    result = await _export(db, settings, tmp_path, scope)
    wb = load_workbook(result.path, data_only=True)
    assert "Ringkasan" not in wb.sheetnames  # one KSM: no summary sheet
    assert form_blocks(wb["Daftar Hadir"], "Nama") == []
    counted = form_blocks_count(wb["Daftar Hadir"])
    assert [(r[2], r[3], r[4], r[5]) for r in counted] == [(8, 3, 11, 11), (9, 3, 12, 12), (10, 3, 13, 13)]
    assert counted[0][1] == "Senin, 23 November 2026"
    upah = form_blocks(wb["Daftar Pembayaran Upah"], "Nama", "Tanggal")
    assert len(upah) == 1 and upah[0]["header"][1:3] == ["Tanggal", "Jumlah orang"]
    assert upah[0]["total"][8] == (11 + 12 + 13) * 90_000
    assert [r[9] for r in upah[0]["rows"]] == ["Belum dibayar"] * 3
    assert result.rows == {"hadir": 3, "upah": 3, "progres": 1, "kendala": 0, "foto": 0}  # MCK: one report


async def test_admin_sees_whole_niks_others_masked(
    db: Database, settings: Settings, program: Program, tmp_path: Path, vault: NikVault, at_noon: None
) -> None:
    scope = await _scope(db, "ksm:KSM-BJL-01")
    async with db.session() as s:
        admin = await s.get(Person, program["admin"])
        fasil = await s.get(Person, program["fasil"])
        assert admin is not None and fasil is not None
        assert await check_export(s, admin, scope) is True
        assert await check_export(s, fasil, scope) is False
        niks = {
            vault.decrypt(w.nik_encrypted)
            for w in (await s.execute(select(Worker))).scalars()
            if w.nik_encrypted
        }
    masked = load_workbook((await _export(db, settings, tmp_path, scope, person_id=program["fasil"])).path)
    assert all(MASKED.match(n) for n in _niks(masked))
    unmasked = await _export(db, settings, tmp_path, scope, person_id=program["admin"], unmask_nik=True)
    whole = _niks(load_workbook(unmasked.path))
    assert whole and all(WHOLE.match(n) for n in whole) and set(whole) <= niks
    # The masked form shows the first and last four digits of the same numbers.
    assert {n[:4] + "*" * 8 + n[-4:] for n in whole} == set(_niks(masked))


async def test_scope_refusal_and_roles(db: Database, settings: Settings, program: Program) -> None:
    async with db.session() as s:
        people = {
            code: await s.get(Person, program[code])
            for code in ("ketua-a", "fasil", "fasil-m", "pekerja-a", "bkm-b", "prov")
        }
        kab = await resolve_scope(s, "33.22")
        mariso = await resolve_scope(s, "ksm:KSM-MRS-01")
        own_ksm = await resolve_scope(s, "ksm:KSM-BJL-01")
        bkm = await resolve_scope(s, "bkm:BKM-BJL")
        assert await check_export(s, people["ketua-a"], own_ksm) is False
        with pytest.raises(OutsideScope):
            await check_export(s, people["ketua-a"], kab)
        with pytest.raises(OutsideScope):
            await check_export(s, people["ketua-a"], await resolve_scope(s, "ksm:KSM-BJL-02"))
        with pytest.raises(OutsideScope):
            await check_export(s, people["fasil"], mariso)
        with pytest.raises(OutsideScope):
            await check_export(s, people["fasil"], NATIONAL)
        with pytest.raises(OutsideScope):
            await check_export(s, people["bkm-b"], kab)
        assert await check_export(s, people["bkm-b"], own_ksm) is False
        assert await check_export(s, people["bkm-b"], bkm) is False
        assert await check_export(s, people["fasil"], bkm) is False
        assert await check_export(s, people["fasil-m"], mariso) is False
        assert await check_export(s, people["prov"], kab) is False
        with pytest.raises(ExportNotAllowed):
            await check_export(s, people["pekerja-a"], own_ksm)


async def test_every_export_is_audited(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "bkm:BKM-BJL")
    kinds = (ExportKind.HADIR, ExportKind.KENDALA)
    result = await _export(
        db, settings, tmp_path, scope, ExportFormat.CSV, kinds=kinds, person_id=program["fasil"]
    )
    async with db.session() as s:
        entries = list((await s.execute(select(AuditLog).where(AuditLog.action == "export"))).scalars())
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor_id == program["fasil"] and entry.entity == "export"
    assert entry.at == AT
    assert entry.new is not None
    assert entry.new["format"] == "csv" and entry.new["kinds"] == ["hadir", "kendala"]
    assert entry.new["scope"]["bkm_id"] == program["bkm_b"] and entry.new["scope"]["kind"] == "bkm"
    assert (entry.new["start"], entry.new["end"]) == ("2026-11-23", "2026-11-29")
    assert entry.new["rows"] == result.rows == {"hadir": 12 + 13 + 14, "hadir_harian": 6, "kendala": 2}
    assert entry.new["unmask_nik"] is False and entry.new["file"] == result.path.name


async def test_english_headers(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "33.22.05")
    result = await _export(db, settings, tmp_path, scope, lang="en")
    wb = load_workbook(result.path, data_only=True)
    assert wb.sheetnames == ["Summary", "Attendance", "Wage Payments", "Progress", "Obstacles", "Photos"]
    block = form_blocks(wb["Attendance"], "Name")[0]
    assert block["header"][:5] == ["No.", "Name", "NIK", "M/F", "Labourer/Skilled"]
    assert (
        block["header"][5] == "Mon\n23/11"
        and "Total HOK" in block["header"]
        and "Signature" in block["header"]
    )
    assert block["period"] == "November 23, 2026 to November 29, 2026"
    header, _ = table_rows(wb["Progress"])
    assert header[4:8] == ["Date", "Planned (%)", "Actual (%)", "Deviation (points)"]
    header, _ = table_rows(wb["Obstacles"])
    assert "Follow-up" in header and "Reported by" in header
    texts = {c for row in _rows(wb["Wage Payments"]) for c in row if isinstance(c, str)}
    assert any(t.startswith("In words: ") and t.endswith(" rupiah") for t in texts)
    records = await _records(db, [program["ksm_a"], program["ksm_b"], program["ksm_c"]], MONDAY, SUNDAY)
    days = await _count_days(db, [program["ksm_b"]], MONDAY, SUNDAY)
    _check_forms_against_db(wb, records, days, lang="en")


async def test_with_photos_zip_holds_workbook_and_files(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "ksm:KSM-BJL-01")
    result = await _export(db, settings, tmp_path, scope, with_photos=True, kinds=(ExportKind.FOTO,))
    assert result.path.suffix == ".zip" and result.mime_type == "application/zip"
    assert result.rows == {"foto": 3, "foto_files": 3}
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        books = [n for n in names if n.endswith(".xlsx")]
        assert len(books) == 1
        wb = load_workbook(io.BytesIO(zf.read(books[0])))
        _, foto = table_rows(wb["Foto"])
        assert sorted(f"foto/{r[10]}" for r in foto) == sorted(n for n in names if n.startswith("foto/"))
        async with db.session() as s:
            stored = {m.path: m for m in (await s.execute(select(Media))).scalars()}
        for r in foto:
            content = zf.read(f"foto/{r[10]}")
            assert any((Path(settings.media.dir) / p).read_bytes() == content for p in stored)
    assert not _leftovers(tmp_path)


# --- CSV --------------------------------------------------------------------------------------------


def _csv(zf: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    text = zf.read(name).decode("utf-8")
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMNS[name.removesuffix(".csv")]
    return list(reader)


async def test_csv_zip_is_machine_friendly(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "33.22.05")
    result = await _export(db, settings, tmp_path, scope, ExportFormat.CSV)
    assert result.path.suffix == ".zip"
    ksm_ids = [program["ksm_a"], program["ksm_b"], program["ksm_c"]]
    n_records, wages, hok = await _records(db, ksm_ids, MONDAY, SUNDAY)
    count_days = await _count_days(db, ksm_ids, MONDAY, SUNDAY)
    with zipfile.ZipFile(result.path) as zf:
        assert sorted(zf.namelist()) == sorted(
            f"{t}.csv" for t in ("hadir", "hadir_harian", "upah", "progres", "kendala", "foto", "ringkasan")
        )
        hadir = _csv(zf, "hadir.csv")
        assert len(hadir) == n_records == result.rows["hadir"]
        assert sum(int(r["wage"]) for r in hadir) == wages
        assert sum(float(r["hok"]) for r in hadir) == hok == n_records * HOK_PER_DAY
        assert all(MASKED.match(r["nik"]) for r in hadir)
        assert {r["work_date"] for r in hadir} == {"2026-11-23", "2026-11-24", "2026-11-25"}
        assert {r["paid"] for r in hadir} == {"true", "false"} and {r["gender"] for r in hadir} == {"L", "P"}
        days = _csv(zf, "hadir_harian.csv")
        assert len(days) == 3 + 3 + 1
        counted = [d for d in days if d["mode"] == "count"]
        assert sum(float(d["hok"]) for d in counted) == sum(d.hok for d in count_days)
        assert sum(int(d["total_wages"]) for d in days) == wages + sum(int(d.total_wages) for d in count_days)
        upah = _csv(zf, "upah.csv")
        assert sum(int(r["total_wage"]) for r in upah) == wages + sum(int(d.total_wages) for d in count_days)
        assert {r["line_type"] for r in upah} == {"worker", "count_day"}
        assert {r["payment_status"] for r in upah} <= {"paid", "unpaid", "partial"}
        progres = _csv(zf, "progres.csv")
        assert len(progres) == 7
        wed = next(
            r for r in progres if r["activity_code"] == "ACT-BJL-01" and r["report_date"] == "2026-11-25"
        )
        assert wed["actual_percent"] == "15" and wed["status"] in {
            "kritis",
            "terlambat",
            "sesuai_rencana",
            "lebih_cepat",
        }
        assert float(wed["deviation_points"]) == round(15 - float(wed["planned_percent"]), 2)
        kendala = _csv(zf, "kendala.csv")
        assert [(r["obstacle_id"], r["status"], r["category"]) for r in kendala] == [
            ("K-BBBB", "closed", "cuaca"),
            ("K-AAAA", "open", "material"),
        ]
        assert kendala[0]["closed_date"] == "2026-11-24"
        foto = _csv(zf, "foto.csv")
        assert len(foto) == 3 and all(r["sha256"] and r["taken_at"] == "" for r in foto)
        assert float(next(r for r in foto if r["caption"] == "foto 2")["distance_m"]) > 5_000
        ringkasan = _csv(zf, "ringkasan.csv")
        ksm_rows = [r for r in ringkasan if r["row_type"] == "ksm"]
        assert {r["ksm_code"] for r in ksm_rows} == {"KSM-BJL-01", "KSM-BJL-02", "KSM-TMB-01"}
        assert all(r["as_of"] == "2026-11-26" for r in ringkasan)


async def test_csv_admin_unmasked(
    db: Database, settings: Settings, program: Program, tmp_path: Path, at_noon: None
) -> None:
    scope = await _scope(db, "ksm:KSM-BJL-01")
    result = await _export(
        db, settings, tmp_path, scope, ExportFormat.CSV, unmask_nik=True, kinds=(ExportKind.UPAH,)
    )
    with zipfile.ZipFile(result.path) as zf:
        upah = _csv(zf, "upah.csv")
    assert upah and all(WHOLE.match(r["nik"]) for r in upah)


# --- the demo program -------------------------------------------------------------------------------


async def test_demo_export_adds_up(db: Database, settings: Settings, tmp_path: Path, at_noon: None) -> None:
    """Two weeks of the demo, national: every roster and count-mode sheet adds up (KSM-PJG-01 counts)."""
    await seed_demo(db, settings, at=AT)
    start, end = date(2026, 11, 16), SUNDAY
    result = await _export(db, settings, tmp_path, NATIONAL, start=start, end=end)
    wb = load_workbook(result.path, data_only=True)
    ksm_ids = await _all_ksm_ids(db)
    records = await _records(db, ksm_ids, start, end)
    count_days = await _count_days(db, ksm_ids, start, end)
    assert records[0] > 0 and count_days
    _check_forms_against_db(wb, records, count_days)
    # Two weekly papers per KSM that reported in both weeks.
    periods = {b["period"] for b in form_blocks(wb["Daftar Hadir"], "Nama")}
    assert periods == {"16 November 2026 s.d. 22 November 2026", "23 November 2026 s.d. 29 November 2026"}
    _, ringkasan = table_rows(wb["Ringkasan"])
    assert ringkasan[1][7] == "KRITIS"  # the critical activity comes first (under its KSM's row)
    async with db.session() as s:
        n_reports = (
            await s.execute(
                select(func.count(ProgressReport.id)).where(
                    ProgressReport.report_date >= start, ProgressReport.report_date <= end
                )
            )
        ).scalar_one()
    assert result.rows["progres"] == n_reports


# --- the command ------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from clean_env(tmp_path, monkeypatch)


def test_cli_export_xlsx_and_csv_on_the_demo(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    seeded = run(env, "demo", "--at", "2026-11-26T16:00", "--json")
    assert seeded.exit_code == 0, seeded.output

    book = tmp_path / "ambarawa.xlsx"
    result = run(env, "export", "--as", "fasil-ambarawa", "--from", "2026-11-23", "--to", "2026-11-29",
                 "--format", "xlsx", "--out", str(book), "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["path"] == str(book) and doc["scope"] == "Kecamatan Ambarawa" and doc["unmasked_nik"] is False
    assert doc["rows"]["hadir"] > 0 and set(doc["rows"]) == {
        "ringkasan",
        "hadir",
        "upah",
        "progres",
        "kendala",
        "foto",
    }
    wb = load_workbook(book, data_only=True)
    assert wb.sheetnames[0] == "Ringkasan" and "Daftar Hadir" in wb.sheetnames
    ksms = {b["ksm"] for b in form_blocks(wb["Daftar Hadir"], "Nama")}
    assert ksms and all("Buloa" not in k for k in ksms)  # Makassar lies outside Ambarawa
    assert all(MASKED.match(n) for n in _niks(wb))

    folder = tmp_path / "csv.zip"
    result = run(env, "export", "--scope", "ksm:KSM-BJL-01", "--from", "2026-11-23", "--to", "2026-11-29",
                 "--format", "csv", "--out", str(folder), "--as", "admin", "--jenis", "hadir,upah", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["unmasked_nik"] is True and doc["kinds"] == ["hadir", "upah"]
    with zipfile.ZipFile(folder) as zf:
        assert sorted(zf.namelist()) == ["hadir.csv", "hadir_harian.csv", "upah.csv"]
        hadir = _csv(zf, "hadir.csv")
    assert len(hadir) == doc["rows"]["hadir"] and all(WHOLE.match(r["nik"]) for r in hadir)

    human = run(env, "export", "--scope", "33.22.10.1001", "--from", "2026-11-23", "--to", "2026-11-29",
                "--out", str(tmp_path / "bejalen.xlsx"))  # fmt: skip
    assert human.exit_code == 0, human.output
    assert "Tersimpan" in human.stdout and "NIK disamarkan" in human.stdout


def test_cli_export_refusals(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "demo", "--at", "2026-11-26T16:00", "--json").exit_code == 0
    outside = run(
        env, "export", "--as", "ketua-bejalen", "--scope", "33.22", "--out", str(tmp_path / "x.xlsx")
    )
    assert outside.exit_code == 2
    assert (
        "Ditolak" in outside.output
        and "di luar cakupan" in outside.output
        and "Suparno Wibowo" in outside.output
    )
    assert not (tmp_path / "x.xlsx").exists()
    worker = run(env, "export", "--as", "pekerja-bejalen")
    assert worker.exit_code == 2 and "tidak boleh mengekspor" in worker.output
    for args in (["--format", "docx"], ["--jenis", "hadir,gaji"], ["--from", "23-11-2026"], ["--lang", "fr"],
                 ["--from", "2026-11-29", "--to", "2026-11-23"], ["--as", "nobody"], ["--scope", "ksm:NOPE"]):  # fmt: skip
        bad = run(env, "export", *args)
        assert bad.exit_code == 2, (args, bad.output)


def test_cli_default_period_is_this_payment_week(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "demo", "--json").exit_code == 0
    result = run(env, "export", "--as", "ketua-bejalen", "--jenis", "hadir", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    start, end = date.fromisoformat(doc["from"]), date.fromisoformat(doc["to"])
    assert (
        start.weekday() == 0
        and end - start == timedelta(days=6)
        and start <= date.today() + timedelta(days=1)
    )
    assert doc["scope"] == "KSM Bejalen Maju" and Path(doc["path"]).is_file()


def test_payment_period_setting(settings: Settings) -> None:
    assert payment_period(date(2026, 11, 26), settings) == (MONDAY, SUNDAY)
    assert payment_period(MONDAY, settings) == (MONDAY, SUNDAY)
    assert payment_period(SUNDAY, settings) == (MONDAY, SUNDAY)
    sat = settings.model_copy(update={"exports": settings.exports.model_copy(update={"week_start": 5})})
    assert payment_period(date(2026, 11, 26), sat) == (date(2026, 11, 21), date(2026, 11, 27))
    monthly = settings.model_copy(
        update={"exports": settings.exports.model_copy(update={"period": "monthly"})}
    )
    assert payment_period(date(2026, 2, 10), monthly) == (date(2026, 2, 1), date(2026, 2, 28))


async def test_csv_written_in_parallel_is_the_same_as_in_one_process(
    db: Database, settings: Settings, tmp_path: Path, at_noon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large scope's CSV is written by worker processes, each for a run of the KSMs, the parts joined in
    order: the files are the ones one process writes, byte for byte, and the progress counts every KSM."""
    from kotaku.exports import data as export_data
    from kotaku.exports.parallel import parallel_processes

    await seed_demo(db, settings, at=AT)
    monkeypatch.setattr(export_data, "BATCH_KSMS", 1)  # a batch per KSM: the parts are cut between KSMs
    start, end = date(2026, 11, 16), SUNDAY
    one = await _export(db, settings, tmp_path, NATIONAL, ExportFormat.CSV, start=start, end=end)
    parallel = settings.model_copy(
        update={"exports": settings.exports.model_copy(update={"processes": 2, "parallel_min_ksms": 1})}
    )
    ksms = len(await _all_ksm_ids(db))
    assert parallel_processes(parallel, db, ksms, 1) == 2
    assert parallel_processes(settings, db, ksms, 1) == 1  # below parallel_min_ksms
    seen: list[tuple[str, int, int]] = []
    request = ExportRequest(scope=NATIONAL, start=start, end=end, fmt=ExportFormat.CSV)
    two = await build_export(
        db, parallel, request, tmp_path / "two.zip", on_progress=lambda *a: seen.append(a)
    )
    assert two.rows == one.rows and one.rows["hadir"] > 0
    with zipfile.ZipFile(one.path) as a, zipfile.ZipFile(two.path) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            assert a.read(name) == b.read(name), name
    last = {table: done for table, done, _total in seen}
    assert all(total == ksms for _t, _d, total in seen)
    assert last["hadir"] == last["progres"] == ksms
    assert not _leftovers(tmp_path) and not _work_dirs(tmp_path)  # the parts are gone


async def test_xlsx_ringkasan_from_a_worker_process_is_the_same(
    db: Database, settings: Settings, tmp_path: Path, at_noon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large scope's Ringkasan is computed by a worker process while the other sheets are written: the
    sheet is still the first, with the same rows and values as one process writes."""
    from kotaku.exports import data as export_data
    from kotaku.exports import parallel as export_parallel

    await seed_demo(db, settings, at=AT)
    monkeypatch.setattr(export_data, "BATCH_KSMS", 1)  # the demo's few KSMs count as a large scope
    used: list[int] = []
    pool = export_parallel.spawned_pool

    def spawned(processes: int, *args: Any, **kw: Any) -> Any:
        used.append(processes)
        return pool(processes, *args, **kw)

    monkeypatch.setattr("kotaku.exports.xlsx.spawned_pool", spawned)
    start, end = date(2026, 11, 16), SUNDAY
    one = await _export(db, settings, tmp_path, NATIONAL, start=start, end=end)
    parallel = settings.model_copy(
        update={"exports": settings.exports.model_copy(update={"processes": 2, "parallel_min_ksms": 1})}
    )
    request = ExportRequest(scope=NATIONAL, start=start, end=end, fmt=ExportFormat.XLSX)
    seen: list[tuple[str, int, int]] = []
    two = await build_export(
        db, parallel, request, tmp_path / "two.xlsx", on_progress=lambda *a: seen.append(a)
    )
    assert two.rows == one.rows and one.rows["ringkasan"] > 0
    a, b = load_workbook(one.path), load_workbook(two.path)
    assert a.sheetnames == b.sheetnames and a.sheetnames[0] == "Ringkasan"
    for name in a.sheetnames:
        assert _rows(a[name]) == _rows(b[name]), name
    assert used == [1]  # one worker process computed it
    ksms = len(await _all_ksm_ids(db))
    assert ("ringkasan", ksms, ksms) in seen
    assert not _leftovers(tmp_path)


async def test_the_workers_shown_are_kept_for_one_batch_only(
    db: Database, settings: Settings, at_noon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker belongs to one KSM: the names and NIKs shown for a batch of KSMs are dropped when the next
    batch is read, so a national export does not keep every worker of the program in memory."""
    from kotaku.exports import data as export_data
    from kotaku.exports.data import ExportData

    await seed_demo(db, settings, at=AT)
    monkeypatch.setattr(export_data, "BATCH_KSMS", 1)
    request = ExportRequest(scope=NATIONAL, start=date(2026, 11, 16), end=SUNDAY, fmt=ExportFormat.CSV)
    batches = 0
    async with db.read() as session:
        data = await ExportData.load(session, settings, request)
        async for _batch, _days, _records, workers in data.attendance_batches():
            assert not data._workers_shown and not data._niks  # the last batch's are gone
            shown = [data.shown_worker(w) for w in workers.values()]
            assert set(data._workers_shown) == set(workers)
            assert all(nik == "" or "*" in nik for _c, _n, nik, _g, _s in shown)  # masked
            batches += bool(workers)
    assert batches >= 2  # more than one batch had workers: the clearing was exercised
