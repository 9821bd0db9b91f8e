"""The weekly PDF report of the test program, opened with pypdf: its pages, its area, its figures (the same
HOK and wages the database holds) and its embedded charts and photos."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from kotaku import catalogue, clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.exports import ExportFormat, ExportRequest, build_export, payment_period
from kotaku.exports.pdf import printable
from kotaku.i18n import fmt_number, fmt_rupiah
from kotaku.models import (
    AttendanceDay,
    AttendanceMode,
    AuditLog,
    Media,
    MediaKind,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    ProgressReport,
    Severity,
    Worker,
)
from kotaku.security import NikVault
from kotaku.services.attendance import Sheet, save_attendance
from kotaku.services.media import save_content
from kotaku.services.scope import Scope
from kotaku.uow import UnitOfWork
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)  # a Thursday; the payment period is Monday 23 - Sunday 29 November


def _jpeg(colour: str, size: tuple[int, int] = (1200, 900)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


async def _seed(db: Database, settings: Settings, p: Program) -> None:
    """Attendance inside and before the period (roster and counts), progress, a photo, an obstacle."""
    async with db.session() as s:
        roster = list(
            (
                await s.execute(select(Worker.id).where(Worker.ksm_id == p["ksm_a"]).order_by(Worker.id))
            ).scalars()
        )
    sheets = [
        (
            p["ksm_a"],
            Sheet(
                work_date=TODAY - timedelta(days=8),
                mode=AttendanceMode.ROSTER,
                worker_ids=tuple(roster[:6]),
                wages_paid=True,
            ),
        ),
        (
            p["ksm_a"],
            Sheet(
                work_date=TODAY - timedelta(days=2),
                mode=AttendanceMode.ROSTER,
                worker_ids=tuple(roster[:10]),
                wages_paid=True,
            ),
        ),
        (
            p["ksm_a"],
            Sheet(
                work_date=TODAY - timedelta(days=1),
                mode=AttendanceMode.ROSTER,
                worker_ids=tuple(roster[2:14]),
            ),
        ),
        (
            p["ksm_b"],
            Sheet(
                work_date=TODAY - timedelta(days=1),
                mode=AttendanceMode.COUNT,
                count_male=5,
                count_female=3,
                rate=90_000,
            ),
        ),
    ]
    for ksm_id, sheet in sheets:
        async with UnitOfWork(db) as uow:
            await save_attendance(
                uow, ksm_id=ksm_id, sheet=sheet, entered_by_id=None, channel=None, now=clock.now()
            )
    digest, rel = save_content(settings, _jpeg("#4a7"), "image/jpeg")
    async with db.transaction() as s:
        for days, pct in [(10, 5.0), (3, 12.0), (1, 18.5)]:
            s.add(
                ProgressReport(activity_id=p["road"], report_date=TODAY - timedelta(days=days), percent=pct)
            )
        s.add(
            Media(
                ksm_id=p["ksm_a"],
                activity_id=p["road"],
                report_date=TODAY - timedelta(days=1),
                kind=MediaKind.PHOTO,
                sha256=digest,
                path=rel,
                mime_type="image/jpeg",
                milestone=0,
            )
        )
        s.add(
            Obstacle(
                short_id="K7TEST",
                ksm_id=p["ksm_a"],
                report_date=TODAY - timedelta(days=2),
                category=ObstacleCategory.MATERIAL,
                severity=Severity.TINGGI,
                status=ObstacleStatus.OPEN,
                description="Semen belum datang 🚚, pengecoran tertunda.",
            )
        )


async def _period_sums(db: Database, ksm_ids: list[int], start: date, end: date) -> tuple[float, int]:
    async with db.session() as s:
        hok, wages = (
            await s.execute(
                select(func.sum(AttendanceDay.hok), func.sum(AttendanceDay.total_wages)).where(
                    AttendanceDay.ksm_id.in_(ksm_ids),
                    AttendanceDay.work_date >= start,
                    AttendanceDay.work_date <= end,
                )
            )
        ).one()
    return float(hok or 0), int(wages or 0)


def _text(reader: PdfReader, page: int) -> str:
    return " ".join(reader.pages[page].extract_text().split())


@pytest.fixture
async def program(db: Database, vault: NikVault, settings: Settings) -> Program:
    p = await build_program(db, vault, TODAY)
    await _seed(db, settings, p)
    return p


async def _build(db: Database, settings: Settings, scope: Scope, out: Path, lang: str = "id") -> PdfReader:
    start, end = payment_period(TODAY, settings)
    request = ExportRequest(
        scope=scope, start=start, end=end, fmt=ExportFormat.PDF, lang=lang, person_id=None
    )
    result = await build_export(db, settings, request, out)
    assert result.path == out and result.mime_type == "application/pdf"
    reader = PdfReader(str(out))
    assert reader.pdf_header.startswith("%PDF")
    return reader


async def test_the_kelurahan_report_has_a_cover_and_a_page_per_ksm(
    db: Database, settings: Settings, program: Program, tmp_path: Path
) -> None:
    p = program
    start, end = payment_period(TODAY, settings)
    assert (start, end) == (date(2026, 11, 23), date(2026, 11, 29))
    reader = await _build(db, settings, Scope(region_id=p["bejalen"]), tmp_path / "bejalen.pdf")

    # Bejalen has two KSMs: the cover, then one page each (by name: Guyub, then Makmur).
    assert len(reader.pages) == 3
    cover, ksm_b, ksm_a = (_text(reader, i) for i in range(3))
    assert "Kelurahan Bejalen" in cover and "Kecamatan Ambarawa" in cover
    assert "Program KOTAKU" in cover and "Halaman 1 dari 3" in cover
    assert "Laporan Mingguan" in cover and "23 November 2026" in cover and "29 November 2026" in cover

    # The figures are the database's: HOK and wages of the period's work days, and to date.
    hok, wages = await _period_sums(db, [p["ksm_a"], p["ksm_b"]], start, end)
    assert hok == 30.0 and wages > 0  # 10 + 12 roster workers + 8 counted
    assert f"HOK periode ini {fmt_number(hok)}" in cover
    assert f"{catalogue.t('pdf.fig.wages_period')} {fmt_rupiah(wages)}" in cover
    hok_all, wages_all = await _period_sums(db, [p["ksm_a"], p["ksm_b"]], date(2000, 1, 1), end)
    assert hok_all == 36.0
    assert fmt_rupiah(wages_all) in cover and fmt_number(hok_all) in cover
    assert "MCK komunal" in cover and "Rabat beton jalan lingkungan" in cover

    # KSM A's page: its own period figures, its activities, the obstacle (emoji dropped), the photo.
    hok_a, wages_a = await _period_sums(db, [p["ksm_a"]], start, end)
    assert "KSM Bejalen Makmur" in ksm_a and "Ketua KSM: Pak Darto" in ksm_a
    assert fmt_number(hok_a) in ksm_a and fmt_rupiah(wages_a) in ksm_a
    assert "ACT-BJL-01" in ksm_a and "ACT-BJL-02" in ksm_a
    assert "K7TEST" in ksm_a and "Semen belum datang, pengecoran tertunda." in ksm_a
    assert "Kendala terbuka (1)" in ksm_a and "tahap 0%" in ksm_a
    assert "KSM Bejalen Guyub" in ksm_b and "Tidak ada foto dalam periode ini." in ksm_b

    # The charts are embedded images: the area curve on the cover, one S-curve per activity on a KSM page
    # (KSM A: two activities and one photo; KSM B: one activity).
    assert len(reader.pages[0].images) == 1
    assert len(reader.pages[1].images) == 1
    assert len(reader.pages[2].images) == 3
    chart = Image.open(io.BytesIO(reader.pages[1].images[0].data))
    assert chart.size == (1080, 1350)

    async with db.session() as s:
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "export"))).scalar_one()
    assert audit.new is not None and audit.new["format"] == "pdf"


async def test_a_kecamatan_gets_an_overview_and_a_section_per_kelurahan(
    db: Database, settings: Settings, program: Program, tmp_path: Path
) -> None:
    reader = await _build(db, settings, Scope(region_id=program["kec"]), tmp_path / "ambarawa.pdf", lang="en")
    # Overview, then Bejalen (cover + 2 KSMs) and Tambakboyo (cover + 1 KSM).
    assert len(reader.pages) == 6
    overview = _text(reader, 0)
    assert "Overview: Kecamatan Ambarawa" in overview and "Weekly Report" in overview
    assert "Kelurahan Bejalen" in overview and "Kelurahan Tambakboyo" in overview
    assert "Page 1 of 6" in overview
    assert "Kelurahan Tambakboyo" in _text(reader, 4) and "KSM Tambakboyo Rukun" in _text(reader, 5)


async def test_a_bkm_is_one_section(
    db: Database, settings: Settings, program: Program, tmp_path: Path
) -> None:
    reader = await _build(db, settings, Scope(bkm_id=program["bkm_b"]), tmp_path / "bkm.pdf")
    assert len(reader.pages) == 3
    assert "BKM Bejalen Sejahtera" in _text(reader, 0)


def test_text_the_font_cannot_draw_is_left_out() -> None:
    assert printable("🧱 Material") == "Material"
    assert printable("Rp90.000 – 45,5% ≥ ±0 “ok”") == "Rp90.000 – 45,5% ≥ ±0 “ok”"
