"""Exports: the program's own papers from what was chatted (Daftar Hadir, Daftar Pembayaran Upah, Progres,
Kendala, Foto, Ringkasan) as one print-ready XLSX workbook, as CSV files in a zip, or as the weekly PDF report.

The shared API (the chat flow, the CLI and the PDF engine build on these names):

- `ExportRequest` says what to export (scope, period, format, tables, language, who asks, NIK unmasked,
  photos); `build_export()` writes it to a file and records one `AuditLog` row (action "export");
  `ExportResult` says which file to hand over and how many rows each table got.
- `check_export()` is the permission check callers make first: it refuses a scope outside the person's own
  (`OutsideScope`) and roles that may not export (`ExportNotAllowed`), and says whether the person may see
  whole NIKs (admins only).
- `payment_period()` is the current payment period (`exports.period`, default Monday-Sunday).

Rows come from `kotaku.exports.data` (plain dataclasses from services and set-based queries, one batch of
KSMs at a time); `kotaku.exports.xlsx` and `kotaku.exports.csv` write them; `kotaku.exports.pdf` (the weekly
report) is dispatched to for `ExportFormat.PDF`. docs/exports.md describes every sheet and column.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import AuditLog, Person, Role
from kotaku.security import make_private, private_dir
from kotaku.services.scope import Scope
from kotaku.services.summary import OutsideScope

__all__ = [
    "MIME_TYPES",
    "ExportFormat",
    "ExportKind",
    "ExportNotAllowed",
    "ExportRequest",
    "ExportResult",
    "OutsideScope",
    "ProgressCallback",
    "build_export",
    "check_export",
    "payment_period",
    "payment_periods",
]


class ExportKind(StrEnum):
    """The tables an export can hold (sheets of the workbook, files of the CSV zip)."""

    HADIR = "hadir"
    UPAH = "upah"
    PROGRES = "progres"
    KENDALA = "kendala"
    FOTO = "foto"
    RINGKASAN = "ringkasan"


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"
    PDF = "pdf"


MIME_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
    "pdf": "application/pdf",
    "csv": "text/csv",
}

# Roles that may not export at all: a worker sees only their own reports.
NO_EXPORT_ROLES = frozenset({Role.WORKER})
# Roles that see whole NIKs in exports (everyone else gets `3322********0001`).
UNMASK_ROLES = frozenset({Role.ADMIN})

# (table, done, total): called while writing, for a progress bar.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ExportRequest:
    scope: Scope
    start: date
    end: date
    fmt: ExportFormat
    kinds: tuple[ExportKind, ...] = tuple(ExportKind)  # which tables (PDF: ignored, it is the weekly report)
    lang: str = "id"
    person_id: int | None = None
    unmask_nik: bool = False
    with_photos: bool = False


@dataclass
class ExportResult:
    path: Path  # the file to hand over (xlsx, pdf, or a zip for csv / photos)
    mime_type: str
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table


class ExportNotAllowed(PermissionError):
    """The person's role may not export (workers), or the person is no longer active."""

    def __init__(self, role: Role) -> None:
        super().__init__(role.value)
        self.role = role


# --- periods --------------------------------------------------------------------------------------


def payment_period(today: date, settings: Settings) -> tuple[date, date]:
    """The payment period `today` lies in: 7 days from `exports.week_start` (default Monday-Sunday), or
    the calendar month with `exports.period = "monthly"`."""
    cfg = settings.exports
    if cfg.period == "monthly":
        last = calendar.monthrange(today.year, today.month)[1]
        return today.replace(day=1), today.replace(day=last)
    start = today - timedelta(days=(today.weekday() - cfg.week_start) % 7)
    return start, start + timedelta(days=6)


def payment_periods(start: date, end: date, settings: Settings) -> list[tuple[date, date]]:
    """The payment periods covering `start`..`end`, each cut to that range, oldest first: the blocks of
    Daftar Hadir and Daftar Pembayaran Upah (one signed paper per KSM and period)."""
    out: list[tuple[date, date]] = []
    day = start
    while day <= end:
        p_start, p_end = payment_period(day, settings)
        out.append((max(p_start, start), min(p_end, end)))
        day = p_end + timedelta(days=1)
    return out


# --- permission -----------------------------------------------------------------------------------


async def check_export(session: AsyncSession, person: Person, scope: Scope) -> bool:
    """May `person` export `scope`? Raises `ExportNotAllowed` for a role that may not export (or an inactive
    person) and `OutsideScope` for a scope outside the person's own; returns whether the person may see
    whole NIKs (admins only: `ExportRequest.unmask_nik`)."""
    from kotaku.exports.data import scope_within

    if person.role in NO_EXPORT_ROLES or not person.active:
        raise ExportNotAllowed(person.role)
    if not await scope_within(session, person, scope):
        raise OutsideScope(scope.label)
    return person.role in UNMASK_ROLES


# --- building -------------------------------------------------------------------------------------


async def build_export(
    db: Database,
    settings: Settings,
    request: ExportRequest,
    out: Path,
    *,
    on_progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the export to `out` (XLSX: the workbook; CSV: a zip of one file per table; PDF: the weekly
    report; with photos, a zip holding the workbook or the CSV files and the photo files) and record one
    `AuditLog` row. Checks nothing about permissions: callers call `check_export()` first."""
    out = Path(out)
    private_dir(out.parent)
    if request.end < request.start:
        raise ValueError(f"export period ends before it starts: {request.start} > {request.end}")
    if request.fmt == ExportFormat.PDF:
        from kotaku.exports.pdf import build_pdf

        result = await build_pdf(db, settings, request, out, on_progress=on_progress)
    elif request.fmt == ExportFormat.XLSX:
        from kotaku.exports.xlsx import write_xlsx

        result = await write_xlsx(db, settings, request, out, on_progress=on_progress)
    else:
        from kotaku.exports.csv import write_csv

        result = await write_csv(db, settings, request, out, on_progress=on_progress)
    make_private(result.path)  # names, NIKs and wages: the owner's alone
    await _audit(db, request, result)
    return result


def audit_record(request: ExportRequest, result: ExportResult) -> dict[str, Any]:
    """What the audit log keeps of an export (no personal data: kinds, scope, period, format, rows)."""
    sc = request.scope
    return {
        "format": request.fmt.value,
        "kinds": [k.value for k in request.kinds],
        "scope": {
            "kind": sc.kind,
            "label": sc.label,
            "ksm_id": sc.ksm_id,
            "bkm_id": sc.bkm_id,
            "region_id": sc.region_id,
        },
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
        "lang": request.lang,
        "unmask_nik": request.unmask_nik,
        "with_photos": request.with_photos,
        "rows": dict(result.rows),
        "file": result.path.name,
    }


async def _audit(db: Database, request: ExportRequest, result: ExportResult) -> None:
    async with db.transaction() as session:
        session.add(
            AuditLog(
                at=clock.now(),
                actor_id=request.person_id,
                action="export",
                entity="export",
                entity_id=None,
                new=audit_record(request, result),
                note=(
                    f"{request.fmt.value} {request.scope.label} "
                    f"{request.start.isoformat()}..{request.end.isoformat()}"
                ),
            )
        )
