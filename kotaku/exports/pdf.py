"""The weekly PDF report: for each kelurahan of the scope a cover with the area's figures, then one page per
KSM with its figures, the S-curve of each activity, its open obstacles and up to four photos of the period.

Every figure comes from the services the chat uses (`scope_summary` as for /rekap, the curves of /kurva,
the open obstacles of /kendala): the report calls them, it computes nothing its own way. The figures of the
period (HOK and wages of its work days) are the difference of two `scope_summary` totals: to the end of the
period minus to the day before it starts. A scope above kelurahan gets an overview page first, then one
section (cover + KSM pages) per kelurahan; a BKM or KSM scope is one section.

A4 portrait, fpdf2 with DejaVu Sans (shipped with matplotlib, so no font download), page numbers in the
footer and the program's name in the header. Sentences are in kotaku/catalogue/exports_pdf.toml.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib
import structlog
from fontTools.ttLib import TTFont
from fpdf import FPDF, FontFace, XPos, YPos
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue, clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.domain import figures
from kotaku.domain.plan import Status
from kotaku.exports import ExportRequest, ExportResult
from kotaku.i18n import fmt_date, fmt_number, fmt_percent, fmt_rupiah, fmt_short_date, fmt_signed
from kotaku.models import Activity, Bkm, Ksm, Media, MediaKind, Obstacle, Person, Region, Role
from kotaku.monitoring.chart import CriticalBand, render_scurve
from kotaku.monitoring.curves import Curve, activity_curve, area_curve
from kotaku.services.media import load_content
from kotaku.services.obstacles import category_label, days_open, open_obstacles, severity_label
from kotaku.services.scope import Scope, ksm_ids_in_scope
from kotaku.services.summary import ActivityStatus, ScopeSummary, labelled_scope, region_label, scope_summary

log = structlog.get_logger(__name__)

MIME_TYPE = "application/pdf"
FONT = "DejaVu"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

# Page geometry (mm): A4 portrait, 15 mm margins.
MARGIN = 15.0
PAGE_W = 210.0
BODY_W = PAGE_W - 2 * MARGIN

MAX_PHOTOS = 4
PHOTO_PX = 900  # photos are scaled down to this many pixels on their long side before embedding
MAX_OBSTACLES = 6  # listed on a KSM page; the rest are counted
MAX_CHARTS_PER_ROW = 3
MAX_CHART_W, MIN_CHART_W = 66.0, 36.0  # mm
CHART_RATIO = 1350 / 1080  # render_scurve's height / width
DESCRIPTION_CHARS = 160

INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 95, 168)  # the planned-curve blue of the charts
CRITICAL_INK = (176, 32, 36)
CRITICAL_FILL = (253, 236, 236)
HEAD_FILL = (232, 238, 246)
TILE_FILL = (245, 247, 250)
RULE = (200, 205, 212)

Progress = Callable[[str, int, int], None]


# --- what goes on the pages -------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodWork:
    """HOK and wages of the work days inside the period: to-date totals at its end minus the day before."""

    hok: float
    wages: int
    paid: int

    @classmethod
    def between(cls, before: ScopeSummary, end: ScopeSummary) -> PeriodWork:
        return cls(
            hok=max(end.to_date_work.hok - before.to_date_work.hok, 0.0),
            wages=max(end.wages_recorded - before.wages_recorded, 0),
            paid=max(end.wages_paid - before.wages_paid, 0),
        )


@dataclass(frozen=True)
class Photo:
    image: Image.Image
    report_date: date
    milestone: int | None


@dataclass
class KsmPage:
    ksm: Ksm
    bkm: Bkm
    kelurahan: Region
    coordinators: list[str]
    summary: ScopeSummary
    period: PeriodWork
    curves: list[tuple[Activity, Curve]]
    obstacles: list[Obstacle]
    photos: list[Photo]


@dataclass
class Section:
    """One kelurahan (or the BKM or KSM the report is for): its cover and its KSM pages."""

    scope: Scope
    title: str
    place: str  # the regions above it: "Kecamatan Ambarawa · Kabupaten Semarang · Provinsi Jawa Tengah"
    bkm_names: list[str]
    summary: ScopeSummary
    period: PeriodWork
    curve: Curve | None  # the budget-weighted curve of the kelurahan (region sections only)
    pages: list[KsmPage] = field(default_factory=list)


@dataclass
class Report:
    scope_label: str
    start: date
    end: date
    as_of: datetime
    made: date
    lang: str
    band: CriticalBand
    sections: list[Section]
    overview: Section | None  # the whole scope, when it has more than one section


def report_moments(start: date, end: date, now: datetime) -> tuple[datetime, datetime]:
    """The moments the period's figures are read at: its last day (or now, when it is not over yet) and
    the day before its first. Noon UTC falls on the same local date in WIB, WITA and WIT."""
    as_of = min(datetime.combine(end, time(12), tzinfo=UTC), now)
    before = min(datetime.combine(start - timedelta(days=1), time(12), tzinfo=UTC), as_of)
    return as_of, before


# --- gathering ----------------------------------------------------------------------------------------


async def _regions_above(session: AsyncSession, region: Region) -> str:
    """`Kecamatan Ambarawa · Kabupaten Semarang · Provinsi Jawa Tengah` for a kelurahan."""
    codes = region.path.split("/")[:-1]
    if not codes:
        return ""
    rows = (await session.execute(select(Region).where(Region.code.in_(codes)))).scalars()
    by_code = {r.code: r for r in rows}
    return " · ".join(region_label(by_code[c]) for c in reversed(codes) if c in by_code)


async def _coordinators(session: AsyncSession, ksm_id: int) -> list[str]:
    stmt = (
        select(Person.name)
        .where(Person.scope_ksm_id == ksm_id, Person.role == Role.KETUA_KSM, Person.active.is_(True))
        .order_by(Person.name)
    )
    return list((await session.execute(stmt)).scalars())


def _thumbnail(content: bytes) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(content)) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            picture = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError):
        return None
    picture.thumbnail((PHOTO_PX, PHOTO_PX))
    return picture


async def _photos(
    session: AsyncSession, settings: Settings, ksm_id: int, start: date, end: date
) -> list[Photo]:
    """Up to MAX_PHOTOS photos of the period: milestone photos first, then the latest; missing files skipped."""
    stmt = (
        select(Media)
        .where(
            Media.ksm_id == ksm_id,
            Media.kind == MediaKind.PHOTO,
            Media.path.is_not(None),
            Media.report_date >= start,
            Media.report_date <= end,
        )
        .order_by(Media.milestone.is_(None), Media.report_date.desc(), Media.id.desc())
        .limit(MAX_PHOTOS * 3)
    )
    photos: list[Photo] = []
    seen: set[str] = set()
    for media in (await session.execute(stmt)).scalars():
        if len(photos) == MAX_PHOTOS:
            break
        if media.path is None or (media.sha256 and media.sha256 in seen):
            continue
        try:
            content = load_content(settings, media.path)
        except OSError as exc:
            log.warning("pdf_photo_missing", media_id=media.id, error=str(exc))
            continue
        picture = _thumbnail(content)
        if picture is None:
            log.warning("pdf_photo_unreadable", media_id=media.id)
            continue
        seen.add(media.sha256 or media.path)
        photos.append(Photo(image=picture, report_date=media.report_date, milestone=media.milestone))
    return photos


async def _ksm_page(
    session: AsyncSession,
    settings: Settings,
    ksm: Ksm,
    bkm: Bkm,
    kelurahan: Region,
    request: ExportRequest,
    moments: tuple[datetime, datetime],
) -> KsmPage:
    as_of, before = moments
    scope = Scope(ksm_id=ksm.id, label=ksm.name)
    summary = await scope_summary(session, settings, scope, as_of)
    base = await scope_summary(session, settings, scope, before)
    activities = (
        await session.execute(select(Activity).where(Activity.ksm_id == ksm.id).order_by(Activity.code))
    ).scalars()
    curves = [(a, await activity_curve(session, settings, a, as_of)) for a in activities]
    return KsmPage(
        ksm=ksm,
        bkm=bkm,
        kelurahan=kelurahan,
        coordinators=await _coordinators(session, ksm.id),
        summary=summary,
        period=PeriodWork.between(base, summary),
        curves=curves,
        obstacles=await open_obstacles(session, [ksm.id]),
        photos=await _photos(session, settings, ksm.id, request.start, request.end),
    )


async def _section(
    session: AsyncSession,
    settings: Settings,
    scope: Scope,
    kelurahan: Region,
    moments: tuple[datetime, datetime],
) -> Section:
    as_of, before = moments
    summary = await scope_summary(session, settings, scope, as_of)
    base = await scope_summary(session, settings, scope, before)
    curve = await area_curve(session, settings, kelurahan, as_of) if scope.region_id is not None else None
    return Section(
        scope=scope,
        title=scope.label,
        place=await _regions_above(session, kelurahan),
        bkm_names=[],
        summary=summary,
        period=PeriodWork.between(base, summary),
        curve=curve,
    )


async def gather(
    session: AsyncSession,
    settings: Settings,
    request: ExportRequest,
    *,
    now: datetime,
    on_progress: Progress | None = None,
) -> Report:
    """Everything the report shows, read in one session."""
    moments = report_moments(request.start, request.end, now)
    as_of = moments[0]
    scope = await labelled_scope(session, request.scope)
    ksm_ids = await ksm_ids_in_scope(session, request.scope)
    rows = (
        (
            await session.execute(
                select(Ksm, Bkm, Region)
                .join(Bkm, Bkm.id == Ksm.bkm_id)
                .join(Region, Region.id == Bkm.kelurahan_id)
                .where(Ksm.id.in_(ksm_ids))
                .order_by(Region.path, Bkm.name, Ksm.name, Ksm.code)
            )
        ).all()
        if ksm_ids
        else []
    )
    # One section per kelurahan, unless the scope is one BKM or one KSM (then that is the section).
    grouped: dict[int, list[tuple[Ksm, Bkm, Region]]] = {}
    for ksm, bkm, region in rows:
        grouped.setdefault(region.id, []).append((ksm, bkm, region))
    sections: list[Section] = []
    total = len(rows)
    done = 0
    for members in grouped.values():
        kelurahan = members[0][2]
        if request.scope.ksm_id is not None or request.scope.bkm_id is not None:
            section_scope = scope
        else:
            section_scope = await labelled_scope(session, Scope(region_id=kelurahan.id))
        section = await _section(session, settings, section_scope, kelurahan, moments)
        section.bkm_names = sorted({bkm.name for _, bkm, _ in members})
        for ksm, bkm, region in members:
            section.pages.append(await _ksm_page(session, settings, ksm, bkm, region, request, moments))
            done += 1
            if on_progress is not None:
                on_progress("pdf.gather", done, total)
        sections.append(section)
    overview = None
    if len(sections) > 1:
        overview = await _overview(session, settings, scope, moments)
    made = clock.local_today(settings.app.default_timezone, now)
    return Report(
        scope_label=scope.label,
        start=request.start,
        end=request.end,
        as_of=as_of,
        made=made,
        lang=request.lang,
        band=CriticalBand.from_config(settings.monitoring),
        sections=sections,
        overview=overview,
    )


async def _overview(
    session: AsyncSession, settings: Settings, scope: Scope, moments: tuple[datetime, datetime]
) -> Section:
    as_of, before = moments
    summary = await scope_summary(session, settings, scope, as_of)
    base = await scope_summary(session, settings, scope, before)
    curve = None
    place = ""
    if scope.region_id is not None:
        region = await session.get(Region, scope.region_id)
        if region is not None:
            curve = await area_curve(session, settings, region, as_of)
            place = await _regions_above(session, region)
    return Section(
        scope=scope,
        title=scope.label,
        place=place,
        bkm_names=[],
        summary=summary,
        period=PeriodWork.between(base, summary),
        curve=curve,
    )


# --- text that the font can draw ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _font_codepoints() -> frozenset[int]:
    """The characters both DejaVu faces can draw (emoji in labels and typed texts are left out)."""
    sets = [set(TTFont(FONT_DIR / name).getBestCmap()) for name in FONT_FILES.values()]
    return frozenset(set.intersection(*sets))


_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_MARK = re.compile(r" +([,.;:!?])")


def printable(text: str) -> str:
    """The text without the characters the font lacks (emoji, variation selectors), spaces tidied."""
    drawable = _font_codepoints()
    kept = "".join(c for c in text if ord(c) in drawable or c == "\n")
    lines = (_SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", line)).strip() for line in kept.splitlines())
    return "\n".join(lines).strip()


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- drawing ----------------------------------------------------------------------------------------


class _Document(FPDF):
    """A4 portrait with the program's name in the header and the page number in the footer."""

    def __init__(self, lang: str, right_header: str, made: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        self.right_header = right_header
        self.made = made
        for style, name in FONT_FILES.items():
            self.add_font(FONT, style, str(FONT_DIR / name))
        self.set_margins(MARGIN, 20, MARGIN)
        self.set_auto_page_break(True, margin=16)
        self.set_title(right_header)
        self.set_creator("kotaku")
        self.alias_nb_pages("{nb}")

    def t(self, key: str, **kwargs: Any) -> str:
        return printable(catalogue.t(key, self.lang, **kwargs))

    def header(self) -> None:
        self.set_y(9)
        self.set_font(FONT, "B", 8.5)
        self.set_text_color(*ACCENT)
        self.cell(BODY_W / 2, 5, self.t("pdf.program"))
        self.set_font(FONT, "", 8.5)
        self.set_text_color(*MUTED)
        self.cell(BODY_W / 2, 5, self.right_header, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*RULE)
        self.set_line_width(0.3)
        self.line(MARGIN, 15, PAGE_W - MARGIN, 15)
        self.set_y(20)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*MUTED)
        self.cell(BODY_W / 2, 5, self.made)
        self.cell(BODY_W / 2, 5, self.t("pdf.page", page=self.page_no(), total="{nb}"), align="R")

    # small helpers

    def text_line(
        self,
        text: str,
        size: float,
        *,
        bold: bool = False,
        colour: tuple[int, int, int] = INK,
        height: float | None = None,
    ) -> None:
        self.set_font(FONT, "B" if bold else "", size)
        self.set_text_color(*colour)
        self.multi_cell(
            BODY_W, height or size * 0.5, printable(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_text_color(*INK)

    def heading(self, text: str) -> None:
        self.ln(2.5)
        self.text_line(text, 11.5, bold=True, colour=ACCENT, height=6)
        self.ln(0.5)

    def room(self) -> float:
        """Height left on this page above the bottom margin."""
        return self.h - self.b_margin - self.get_y()


def _png(report: Report, curve: Curve, title: str, subtitle_where: str = "") -> bytes:
    lang = report.lang
    a = curve.assessment
    subtitle = catalogue.t(
        "pdf.chart_subtitle",
        lang,
        planned=fmt_percent(a.planned, lang),
        actual=fmt_percent(a.actual, lang) if a.actual is not None else catalogue.t("pdf.no_report", lang),
        status=catalogue.t(f"rekap.status.{a.status.value}", lang),
    )
    if subtitle_where:
        subtitle = f"{subtitle_where}\n{subtitle}"
    return render_scurve(
        curve.planned,
        curve.actual,
        today=curve.today,
        title=title,
        lang=lang,
        band=report.band,
        subtitle=subtitle,
    )


def _period_text(report: Report) -> str:
    lang = report.lang
    return catalogue.t("pdf.period", lang, start=fmt_date(report.start, lang), end=fmt_date(report.end, lang))


def _as_of_date(report: Report, summary: ScopeSummary) -> date:
    return summary.today or report.as_of.date()


def _status_label(lang: str, status: Status) -> str:
    return catalogue.t(f"rekap.status.{status.value}", lang)


def _figure_rows(pdf: _Document, report: Report, section: Section) -> list[tuple[str, str]]:
    lang = report.lang
    s = section.summary
    day = fmt_short_date(_as_of_date(report, s), lang)
    counts = s.count_by_status()
    by_status = ", ".join(
        f"{fmt_number(counts[st], lang)} {_status_label(lang, st)}"
        for st in (
            Status.CRITICAL,
            Status.BEHIND,
            Status.ON_PLAN,
            Status.AHEAD,
            Status.DONE,
            Status.NOT_STARTED,
        )
        if counts.get(st)
    )
    rows = [
        (
            pdf.t("pdf.fig.ksm"),
            pdf.t(
                "pdf.fig.ksm_value",
                total=fmt_number(s.ksm_total, lang),
                active=fmt_number(s.ksm_active, lang),
            ),
        ),
        (
            pdf.t("pdf.fig.activities"),
            f"{fmt_number(len(s.activities), lang)}" + (f" — {by_status}" if by_status else ""),
        ),
    ]
    if section.curve is not None:
        a = section.curve.assessment
        actual = fmt_percent(a.actual, lang) if a.actual is not None else pdf.t("pdf.no_report")
        deviation = fmt_signed(a.deviation, lang) if a.deviation is not None else "–"
        rows.append(
            (
                pdf.t("pdf.fig.progress"),
                pdf.t(
                    "pdf.fig.progress_value",
                    actual=actual,
                    planned=fmt_percent(a.planned, lang),
                    deviation=deviation,
                ),
            )
        )
    rows += [
        (pdf.t("pdf.fig.hok_period"), fmt_number(section.period.hok, lang)),
        (pdf.t("pdf.fig.hok_to_date", date=day), fmt_number(s.to_date_work.hok, lang)),
        (pdf.t("pdf.fig.wages_period"), fmt_rupiah(section.period.wages, lang)),
        (
            pdf.t("pdf.fig.wages_to_date", date=day),
            pdf.t(
                "pdf.fig.wages_value",
                wages=fmt_rupiah(s.wages_recorded, lang),
                budget=fmt_rupiah(s.wage_budget, lang),
            ),
        ),
        (pdf.t("pdf.fig.wages_paid"), fmt_rupiah(s.wages_paid, lang)),
        (
            pdf.t(figures.WORK_VALUE),
            pdf.t(
                "pdf.fig.work_value_value",
                value=fmt_rupiah(s.work_value, lang),
                budget=fmt_rupiah(s.budget, lang),
                share=fmt_percent(figures.progress_of_budget(s.work_value, s.budget) or 0.0, lang),
            ),
        ),
        (pdf.t("pdf.fig.workers"), fmt_number(s.distinct_workers, lang)),
        (pdf.t("pdf.fig.obstacles"), fmt_number(s.open_obstacles, lang)),
        (pdf.t("pdf.fig.critical"), fmt_number(len(s.critical), lang)),
    ]
    return rows


def _figures_table(pdf: _Document, rows: Sequence[tuple[str, str]], width: float) -> None:
    """Label and value per row, every other row shaded."""
    label_style = FontFace(color=MUTED, size_pt=8.5)
    value_style = FontFace(color=INK, emphasis="BOLD", size_pt=9)
    pdf.set_font(FONT, "", 9)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(
        col_widths=(36, 64),
        width=width,
        align="LEFT",
        first_row_as_headings=False,
        borders_layout="NONE",
        cell_fill_color=TILE_FILL,
        cell_fill_mode="ROWS",
        line_height=5.2,
        padding=(0.4, 1.2),
        text_align=("LEFT", "LEFT"),
    ) as table:
        for label, value in rows:
            row = table.row()
            row.cell(printable(label), style=label_style)
            row.cell(printable(value), style=value_style)
    pdf.set_text_color(*INK)


def _activity_table(
    pdf: _Document, report: Report, activities: Sequence[ActivityStatus], with_ksm: bool
) -> None:
    lang = report.lang
    head = FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK)
    critical = FontFace(color=CRITICAL_INK, fill_color=CRITICAL_FILL, emphasis="BOLD")
    pdf.set_font(FONT, "", 8)
    pdf.set_draw_color(*RULE)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(
        col_widths=(22, 72, 18, 22, 18, 28),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        headings_style=head,
        line_height=4.6,
        borders_layout="HORIZONTAL_LINES",
        padding=(0.8, 1.2),
        width=BODY_W,
    ) as table:
        row = table.row()
        for key in ("code", "activity", "planned", "actual", "deviation", "status"):
            row.cell(pdf.t(f"pdf.col.{key}"))
        for a in activities:
            style = critical if a.status == Status.CRITICAL else None
            name = f"{a.name} ({a.ksm_name})" if with_ksm else a.name
            row = table.row()
            row.cell(printable(a.code))
            row.cell(printable(name))
            row.cell(fmt_percent(a.planned, lang))
            row.cell(fmt_percent(a.actual, lang) if a.actual is not None else pdf.t("pdf.no_report"))
            row.cell(fmt_signed(a.deviation, lang) if a.deviation is not None else "–")
            row.cell(printable(_status_label(lang, a.status)), style=style)


def _critical_list(pdf: _Document, report: Report, summary: ScopeSummary) -> None:
    lang = report.lang
    critical = summary.critical
    pdf.heading(pdf.t("pdf.critical_title", n=fmt_number(len(critical), lang)))
    if not critical:
        pdf.text_line(pdf.t("pdf.no_critical"), 9, colour=MUTED, height=5)
        return
    for a in critical:
        line = pdf.t(
            "pdf.critical_line",
            name=a.name,
            ksm=a.ksm_name,
            actual=fmt_percent(a.actual, lang) if a.actual is not None else pdf.t("pdf.no_report"),
            planned=fmt_percent(a.planned, lang),
            deviation=fmt_signed(a.deviation or 0.0, lang),
        )
        pdf.text_line(f"• {line}", 9, colour=CRITICAL_INK, height=5)


def _title_block(pdf: _Document, report: Report, title: str, lines: Iterable[str]) -> None:
    pdf.set_font(FONT, "B", 9)
    pdf.set_text_color(*ACCENT)
    pdf.cell(BODY_W, 5, pdf.t("pdf.report").upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.text_line(title, 19, bold=True, height=9)
    for line in lines:
        if line:
            pdf.text_line(line, 9.5, colour=MUTED, height=5)
    pdf.ln(1)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.6)
    pdf.line(MARGIN, pdf.get_y(), MARGIN + 30, pdf.get_y())
    pdf.set_line_width(0.3)
    pdf.ln(3)


def _dates_line(report: Report, summary: ScopeSummary) -> str:
    lang = report.lang
    as_of = catalogue.t("pdf.as_of", lang, date=fmt_date(_as_of_date(report, summary), lang))
    return f"{_period_text(report)} · {as_of}"


def _cover(pdf: _Document, report: Report, section: Section) -> None:
    pdf.add_page()
    lines = [
        section.place,
        pdf.t("pdf.bkm", names=", ".join(section.bkm_names)) if section.bkm_names else "",
        _dates_line(report, section.summary),
    ]
    _title_block(pdf, report, section.title, lines)
    pdf.heading(pdf.t("pdf.figures"))
    top = pdf.get_y()
    chart_w = 62.0
    table_w = BODY_W - chart_w - 6 if section.curve is not None else BODY_W
    _figures_table(pdf, _figure_rows(pdf, report, section), table_w)
    bottom = pdf.get_y()
    if section.curve is not None:
        png = _png(report, section.curve, pdf.t("pdf.area_curve_title", area=section.title))
        pdf.image(io.BytesIO(png), x=MARGIN + table_w + 6, y=top, w=chart_w, h=chart_w * CHART_RATIO)
        bottom = max(bottom, top + chart_w * CHART_RATIO)
    pdf.set_y(bottom + 2)
    if section.summary.activities:
        pdf.heading(pdf.t("pdf.activities_title"))
        _activity_table(pdf, report, section.summary.activities, with_ksm=section.summary.ksm_total > 1)
    _critical_list(pdf, report, section.summary)


def _tiles(pdf: _Document, report: Report, page: KsmPage) -> None:
    """Four figures at a glance; each activity's progress against plan is in the table below them."""
    lang = report.lang
    s = page.summary
    critical = len(s.critical)
    tiles = [
        (
            fmt_number(critical, lang),
            pdf.t("pdf.tile.critical", n=fmt_number(len(s.activities), lang)),
            CRITICAL_INK if critical else INK,
        ),
        (fmt_number(page.period.hok, lang), pdf.t("pdf.tile.hok"), INK),
        (fmt_rupiah(page.period.wages, lang), pdf.t("pdf.tile.wages"), INK),
        (fmt_number(len(page.obstacles), lang), pdf.t("pdf.tile.obstacles"), INK),
    ]
    gap = 3.0
    w = (BODY_W - gap * (len(tiles) - 1)) / len(tiles)
    top = pdf.get_y()
    for i, (value, label, colour) in enumerate(tiles):
        x = MARGIN + i * (w + gap)
        pdf.set_fill_color(*TILE_FILL)
        pdf.rect(x, top, w, 17, style="F")
        pdf.set_fill_color(*ACCENT)
        pdf.rect(x, top, 1.2, 17, style="F")
        pdf.set_xy(x + 3, top + 2)
        pdf.set_font(FONT, "B", 12 if len(value) <= 14 else 9.5)
        pdf.set_text_color(*colour)
        pdf.cell(w - 4, 7, value)
        pdf.set_xy(x + 3, top + 10)
        pdf.set_font(FONT, "", 7.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(w - 4, 4, label)
    pdf.set_text_color(*INK)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_xy(MARGIN, top + 19)
    pdf.text_line(
        pdf.t(
            "pdf.ksm_figures",
            date=fmt_short_date(_as_of_date(report, s), lang),
            hok=fmt_number(s.to_date_work.hok, lang),
            wages=fmt_rupiah(s.wages_recorded, lang),
            paid=fmt_rupiah(s.wages_paid, lang),
            value=fmt_rupiah(s.work_value, lang),
            budget=fmt_rupiah(s.budget, lang),
            workers=fmt_number(s.distinct_workers, lang),
        ),
        8.5,
        colour=MUTED,
        height=4.6,
    )


def _below_charts(page: KsmPage) -> float:
    """About how much height the obstacles and photos under the charts take (mm), so the charts can
    shrink to keep a KSM on one page."""
    heading = 9.5
    if page.obstacles:
        rows = page.obstacles[:MAX_OBSTACLES]
        lines = sum(min(3, max(2, math.ceil(len(o.description) / 60))) for o in rows)
        obstacles = (
            heading + 7 + lines * 4.4 + len(rows) * 1.6 + (5 if len(page.obstacles) > len(rows) else 0)
        )
    else:
        obstacles = heading + 5
    photos = heading + (_photo_box()[1] + 6 if page.photos else 5)
    return obstacles + photos + 2


def _charts(pdf: _Document, report: Report, page: KsmPage) -> None:
    pdf.heading(pdf.t("pdf.curves_title"))
    if not page.curves:
        pdf.text_line(pdf.t("pdf.no_activity"), 9, colour=MUTED, height=5)
        return
    per_row = min(len(page.curves), MAX_CHARTS_PER_ROW)
    rows = math.ceil(len(page.curves) / per_row)
    gap = 4.0
    w = min((BODY_W - gap * (per_row - 1)) / per_row, MAX_CHART_W)
    # Smaller charts rather than a second page, down to a size that still reads.
    fits = (pdf.room() - _below_charts(page)) / rows - 1
    if fits < w * CHART_RATIO:
        w = max(fits / CHART_RATIO, MIN_CHART_W)
    h = w * CHART_RATIO
    for start in range(0, len(page.curves), per_row):
        row = page.curves[start : start + per_row]
        if pdf.room() < h:
            pdf.add_page()
        top = pdf.get_y()
        for i, (activity, curve) in enumerate(row):
            png = _png(report, curve, f"{activity.name} ({activity.code})")
            pdf.image(io.BytesIO(png), x=MARGIN + i * (w + gap), y=top, w=w, h=h)
        pdf.set_y(top + h + 1)


def _obstacles(pdf: _Document, report: Report, page: KsmPage) -> None:
    lang = report.lang
    pdf.heading(pdf.t("pdf.obstacles_title", n=fmt_number(len(page.obstacles), lang)))
    if not page.obstacles:
        pdf.text_line(pdf.t("pdf.no_obstacles"), 9, colour=MUTED, height=5)
        return
    today = _as_of_date(report, page.summary)
    head = FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK)
    pdf.set_font(FONT, "", 8)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(
        col_widths=(16, 17, 24, 31, 76, 16),
        text_align=("LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT"),
        headings_style=head,
        line_height=4.4,
        borders_layout="HORIZONTAL_LINES",
        padding=(0.8, 1.2),
        width=BODY_W,
    ) as table:
        row = table.row()
        for key in ("id", "date", "category", "severity", "description", "days_open"):
            row.cell(pdf.t(f"pdf.col.{key}"))
        for o in page.obstacles[:MAX_OBSTACLES]:
            row = table.row()
            row.cell(printable(o.short_id))
            row.cell(fmt_short_date(o.report_date, lang))
            row.cell(printable(category_label(o.category, lang)))
            row.cell(printable(severity_label(o.severity, lang)))
            row.cell(printable(_short(o.description, DESCRIPTION_CHARS)))
            row.cell(pdf.t("pdf.days", n=fmt_number(days_open(o, today), lang)))
    if len(page.obstacles) > MAX_OBSTACLES:
        pdf.text_line(
            pdf.t("pdf.more_obstacles", n=fmt_number(len(page.obstacles) - MAX_OBSTACLES, lang)),
            8.5,
            colour=MUTED,
            height=5,
        )


def _photo_box() -> tuple[float, float, float]:
    """Gap, width and height (mm) of each photo's frame: four in a row, 4:3."""
    gap = 4.0
    w = (BODY_W - gap * (MAX_PHOTOS - 1)) / MAX_PHOTOS
    return gap, w, w * 0.75


def _photos_block(pdf: _Document, report: Report, page: KsmPage) -> None:
    lang = report.lang
    pdf.heading(pdf.t("pdf.photos_title"))
    if not page.photos:
        pdf.text_line(pdf.t("pdf.no_photos"), 9, colour=MUTED, height=5)
        return
    gap, w, box_h = _photo_box()
    if pdf.room() < box_h + 6:
        pdf.add_page()
    top = pdf.get_y()
    for i, photo in enumerate(page.photos):
        x = MARGIN + i * (w + gap)
        iw, ih = photo.image.size
        scale = min(w / iw, box_h / ih)
        pw, ph = iw * scale, ih * scale
        pdf.set_fill_color(*TILE_FILL)
        pdf.rect(x, top, w, box_h, style="F")
        pdf.image(photo.image, x=x + (w - pw) / 2, y=top + (box_h - ph) / 2, w=pw, h=ph)
        milestone = (
            catalogue.t("pdf.milestone", lang, n=photo.milestone) if photo.milestone is not None else ""
        )
        pdf.set_xy(x, top + box_h + 0.8)
        pdf.set_font(FONT, "", 7.5)
        pdf.set_text_color(*MUTED)
        pdf.cell(
            w,
            4,
            pdf.t("pdf.photo_caption", date=fmt_short_date(photo.report_date, lang), milestone=milestone),
        )
    pdf.set_text_color(*INK)
    pdf.set_xy(MARGIN, top + box_h + 6)


def _ksm(pdf: _Document, report: Report, page: KsmPage) -> None:
    pdf.add_page()
    lines = [
        pdf.t(
            "pdf.ksm_line",
            code=page.ksm.code,
            bkm=page.bkm.name,
            kelurahan=region_label(page.kelurahan),
        ),
        pdf.t("pdf.coordinator", names=", ".join(page.coordinators)) if page.coordinators else "",
        _dates_line(report, page.summary),
    ]
    _title_block(pdf, report, page.ksm.name, lines)
    _tiles(pdf, report, page)
    if page.summary.activities:
        pdf.heading(pdf.t("pdf.activities_title"))
        _activity_table(pdf, report, page.summary.activities, with_ksm=False)
    _charts(pdf, report, page)
    _obstacles(pdf, report, page)
    _photos_block(pdf, report, page)


def _overview_page(pdf: _Document, report: Report, overview: Section, sections: Sequence[Section]) -> None:
    lang = report.lang
    pdf.add_page()
    title = pdf.t("pdf.overview_title", scope=overview.title)
    _title_block(pdf, report, title, [overview.place, _dates_line(report, overview.summary)])
    pdf.heading(pdf.t("pdf.figures"))
    _figures_table(pdf, _figure_rows(pdf, report, overview), BODY_W)
    pdf.ln(2)
    head = FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK)
    pdf.set_font(FONT, "", 8)
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(
        col_widths=(44, 14, 30, 20, 32, 18, 16),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=head,
        line_height=4.6,
        borders_layout="HORIZONTAL_LINES",
        padding=(0.8, 1.2),
        width=BODY_W,
    ) as table:
        row = table.row()
        for key in ("kelurahan", "ksm", "progress", "hok", "wages", "obstacles", "critical"):
            row.cell(pdf.t(f"pdf.col.{key}"))
        for section in sections:
            s = section.summary
            progress = "–"
            if section.curve is not None:
                a = section.curve.assessment
                actual = fmt_percent(a.actual, lang) if a.actual is not None else "–"
                progress = f"{actual} / {fmt_percent(a.planned, lang)}"
            row = table.row()
            row.cell(printable(section.title))
            row.cell(fmt_number(s.ksm_total, lang))
            row.cell(progress)
            row.cell(fmt_number(section.period.hok, lang))
            row.cell(fmt_rupiah(section.period.wages, lang))
            row.cell(fmt_number(s.open_obstacles, lang))
            critical = len(s.critical)
            style = FontFace(color=CRITICAL_INK, emphasis="BOLD") if critical else None
            row.cell(fmt_number(critical, lang), style=style)
    pdf.ln(2)
    pdf.text_line(
        pdf.t("pdf.overview_note", n=fmt_number(len(sections), lang)), 8.5, colour=MUTED, height=4.6
    )


async def draw(report: Report, path: Path, *, on_progress: Progress | None = None) -> int:
    """Write the report to `path`; returns the number of pages. Yields to the event loop between pages
    (the charts are drawn on it), so a long report does not hold up the chat."""
    lang = report.lang
    header = f"{catalogue.t('pdf.report', lang)} · {_period_text(report)}"
    pdf = _Document(
        lang, printable(header), printable(catalogue.t("pdf.made", lang, date=fmt_date(report.made, lang)))
    )
    if not report.sections:
        pdf.add_page()
        _title_block(pdf, report, report.scope_label, [_period_text(report)])
        pdf.text_line(pdf.t("pdf.empty", scope=report.scope_label), 10, colour=MUTED, height=6)
    if report.overview is not None:
        _overview_page(pdf, report, report.overview, report.sections)
    total = sum(len(s.pages) for s in report.sections)
    done = 0
    for section in report.sections:
        _cover(pdf, report, section)
        await asyncio.sleep(0)
        for page in section.pages:
            _ksm(pdf, report, page)
            done += 1
            if on_progress is not None:
                on_progress("pdf.draw", done, total)
            await asyncio.sleep(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    pdf.output(str(tmp))
    tmp.replace(path)
    return pdf.pages_count


async def build_pdf(
    db: Database,
    settings: Settings,
    request: ExportRequest,
    out: Path,
    *,
    on_progress: Progress | None = None,
) -> ExportResult:
    """The weekly report of `request.scope` for `request.start`..`request.end` in `request.lang`, written
    to the file `out`. Permissions are the caller's business (`kotaku.exports.check_export`)."""
    async with db.read() as session:
        report = await gather(session, settings, request, now=clock.now(), on_progress=on_progress)
    path = Path(out)
    pages = await draw(report, path, on_progress=on_progress)
    ksm_pages = sum(len(s.pages) for s in report.sections)
    log.info("pdf_built", path=str(path), pages=pages, ksms=ksm_pages)
    return ExportResult(
        path=path,
        mime_type=MIME_TYPE,
        rows={"kelurahan": len(report.sections), "ksm": ksm_pages, "pages": pages},
    )
