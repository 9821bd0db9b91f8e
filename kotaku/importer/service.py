"""Import a program (regions, BKM, KSM, activities, plan points, people, workers) from a workbook or CSV folder.

Three steps: read the file (reader.py), check every row against the file itself and the database, then,
only when there is no error at all, upsert everything by code inside one transaction. Importing the same
file twice changes nothing. Workers are matched by (KSM, keyed hash of the NIK); the NIK itself is stored
only encrypted and appears in messages only masked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.domain.regions import child_path
from kotaku.importer import values as v
from kotaku.importer.messages import msg, normalize_lang
from kotaku.importer.reader import ProgressFn, RawSheet, RawSource, SourceError, read_source
from kotaku.importer.spec import SHEET_ORDER, SHEETS, Column
from kotaku.models import (
    Activity,
    Bkm,
    Gender,
    Indicator,
    Ksm,
    Person,
    PlanPoint,
    Region,
    RegionLevel,
    Role,
    Skill,
    Worker,
)
from kotaku.models.enums import REGION_LEVEL_ORDER
from kotaku.security import NikVault, mask_nik
from kotaku.services.scope import NATIONAL_WORDS, ROLE_SCOPES

PATH_MAX = 200
CHUNK = 500


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportIssue:
    """One problem: where (sheet, spreadsheet row number, column) and why, in the chosen language."""

    sheet: str | None
    row: int | None
    column: str | None
    key: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImportFailed(Exception):
    """The file was checked and has errors; nothing was written."""

    exit_code = 1

    def __init__(self, errors: list[ImportIssue]) -> None:
        super().__init__(f"{len(errors)} import error(s)")
        self.errors = errors


class SourceUnreadable(ImportFailed):
    """The file could not be read at all (not a workbook, too big, ...); nothing was written."""

    exit_code = 2


@dataclass
class SheetCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


@dataclass
class ImportReport:
    source: str
    kind: str  # "xlsx" or "csv"
    rows: int
    sheets: dict[str, SheetCounts] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.sheets.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": True,
            "source": self.source,
            "kind": self.kind,
            "rows": self.rows,
            "changed": self.changed,
            "sheets": {name: asdict(c) for name, c in self.sheets.items()},
        }


def render(key: str, lang: str, params: dict[str, Any]) -> str:
    params = dict(params)
    reason = params.pop("reason_key", None)
    if reason is not None:
        params["reason"] = msg(reason, lang)
    return msg(key, lang, **params)


# --- the entry point ----------------------------------------------------------------------------------


async def import_program(
    db: Database,
    source: Path,
    *,
    vault: NikVault,
    settings: Settings,
    lang: str = "id",
    on_progress: ProgressFn | None = None,
) -> ImportReport:
    """Check and load `source` (.xlsx or a folder of CSV files) in one transaction.

    Raises `SourceUnreadable` when the file cannot be read and `ImportFailed` with every problem found
    when any row is wrong; in both cases nothing is written.
    """
    lang = normalize_lang(lang)
    try:
        raw = await asyncio.to_thread(read_source, Path(source), settings, on_progress)
    except SourceError as exc:
        raise SourceUnreadable(
            [ImportIssue(None, None, None, exc.key, render(exc.key, lang, exc.params))]
        ) from None
    checker = _Checker(raw, lang)
    if not checker.parse():  # missing sheets or columns: row checks would only add noise
        raise ImportFailed(checker.errors)
    async with db.transaction() as session:
        existing = await _Existing.load(session, checker)
        checker.cross_check(existing)
        if checker.errors:
            raise ImportFailed(checker.errors)
        counts = await _apply(session, checker, existing, vault, on_progress)
    return ImportReport(str(source), raw.kind, raw.row_count, counts)


# --- typed rows ---------------------------------------------------------------------------------------


@dataclass
class RegionRow:
    row: int
    code: str
    name: str | None
    level: RegionLevel | None
    parent_code: str | None
    timezone: str | None
    timezone_given: bool = False


@dataclass
class BkmRow:
    row: int
    code: str
    name: str | None
    kelurahan_code: str | None


@dataclass
class KsmRow:
    row: int
    code: str
    name: str | None
    bkm_code: str | None
    keeps_roster: bool | None
    latitude: float | None
    longitude: float | None
    reminder_time: time | None


@dataclass
class ActivityRow:
    row: int
    code: str
    ksm_code: str | None
    name: str | None
    indicator: Indicator | None
    unit: str | None
    target_volume: float | None
    budget: int | None
    wage_budget: int | None
    start: date | None
    end: date | None
    latitude: float | None
    longitude: float | None
    description: str | None


@dataclass
class PlanRow:
    row: int
    activity_code: str | None
    plan_date: date | None
    percent: float | None


@dataclass
class PersonRow:
    row: int
    code: str
    name: str | None
    role: Role | None
    scope: str | None
    phone: str | None
    language: str | None
    scope_kind: str | None = None  # "ksm", "bkm", "region", "nasional" once resolved
    scope_code: str | None = None


@dataclass
class WorkerRow:
    row: int
    ksm_code: str | None
    name: str | None
    gender: Gender | None
    skill: Skill | None
    nik: str | None
    daily_rate: int | None
    phone: str | None
    is_phk: bool | None
    code: str | None


@dataclass(frozen=True)
class RegionInfo:
    level: RegionLevel | None
    path: str | None
    timezone: str | None


class _Cells:
    """One spreadsheet row's cells by column name; each `get` parses one cell or records its error."""

    def __init__(self, checker: _Checker, sheet: str, number: int, cells: dict[str, Any]) -> None:
        self.checker, self.sheet, self.number, self.cells = checker, sheet, number, cells
        self.columns = {c.name: c for c in SHEETS[sheet]}

    def get(self, name: str, parser: Callable[[Any], Any] | None = None) -> Any:
        col: Column = self.columns[name]
        raw = self.cells.get(name)
        if v.is_blank(raw):
            if col.required:
                self.checker.error(self.sheet, self.number, name, "required")
            return None
        try:
            if parser is None:
                return v.text(raw, col.max_len)
            return parser(raw)
        except v.CellError as exc:
            self.checker.error(self.sheet, self.number, name, exc.key, **exc.params)
            return None

    def code(self, name: str) -> str | None:
        return self.get(name)


class _Checker:
    def __init__(self, raw: RawSource, lang: str) -> None:
        self.raw = raw
        self.lang = lang
        self.errors: list[ImportIssue] = []
        self.regions: dict[str, RegionRow] = {}
        self.bkms: dict[str, BkmRow] = {}
        self.ksms: dict[str, KsmRow] = {}
        self.activities: dict[str, ActivityRow] = {}
        self.plans: list[PlanRow] = []
        self.persons: dict[str, PersonRow] = {}
        self.workers: list[WorkerRow] = []
        self.region_info: dict[str, RegionInfo] = {}

    def error(
        self, sheet: str | None, row: int | None, column: str | None, key: str, /, **params: Any
    ) -> None:
        self.errors.append(ImportIssue(sheet, row, column, key, render(key, self.lang, params)))

    # --- structure and cells ---

    def parse(self) -> bool:
        """Check the layout, then read every cell; False when the layout itself is wrong."""
        tables: dict[str, list[_Cells]] = {}
        for name in SHEET_ORDER:
            sheet = self.raw.sheets.get(name)
            if sheet is None:
                self.error(name, None, None, "missing_sheet", sheet=name)
                continue
            index = self._header_index(sheet)
            if index is None:
                continue
            tables[name] = [
                _Cells(
                    self,
                    name,
                    number,
                    {col: cells[i] if i < len(cells) else None for col, i in index.items()},
                )
                for number, cells in sheet.rows
            ]
        if self.errors:
            return False
        self._parse_regions(tables["wilayah"])
        self._parse_bkms(tables["bkm"])
        self._parse_ksms(tables["ksm"])
        self._parse_activities(tables["kegiatan"])
        self._parse_plans(tables["rencana"])
        self._parse_persons(tables["orang"])
        self._parse_workers(tables["pekerja"])
        return True

    def _header_index(self, sheet: RawSheet) -> dict[str, int] | None:
        columns = SHEETS[sheet.name]
        known = [c.name for c in columns]
        index: dict[str, int] = {}
        ok = True
        for i, header in enumerate(sheet.headers):
            if not header:
                continue
            if header not in known:
                self.error(sheet.name, 1, header, "unknown_column", header=header, known=", ".join(known))
                ok = False
            elif header in index:
                self.error(sheet.name, 1, header, "duplicate_column", column=header)
                ok = False
            else:
                index[header] = i
        for col in columns:
            if col.required and col.name not in index:
                self.error(sheet.name, 1, col.name, "missing_column", column=col.name)
                ok = False
        return index if ok else None

    def _unique(self, seen: dict[str, Any], sheet: str, cells: _Cells, code: str | None) -> bool:
        if code is None:
            return False
        if code in seen:
            self.error(sheet, cells.number, "kode", "duplicate_code", code=code, first_row=seen[code].row)
            return False
        return True

    def _coords(self, c: _Cells) -> tuple[float | None, float | None]:
        lat, lon = c.get("lintang", v.latitude), c.get("bujur", v.longitude)
        lat_blank, lon_blank = v.is_blank(c.cells.get("lintang")), v.is_blank(c.cells.get("bujur"))
        if lat_blank != lon_blank:
            c.checker.error(c.sheet, c.number, "bujur" if lon_blank else "lintang", "coordinate_pair")
        return lat, lon

    def _parse_regions(self, rows: list[_Cells]) -> None:
        for c in rows:
            code = c.code("kode")
            row = RegionRow(
                c.number,
                code or "",
                c.get("nama"),
                c.get("tingkat", v.region_level),
                c.code("kode_induk"),
                c.get("zona_waktu", v.timezone),
                not v.is_blank(c.cells.get("zona_waktu")),
            )
            if self._unique(self.regions, "wilayah", c, code):
                self.regions[row.code] = row

    def _parse_bkms(self, rows: list[_Cells]) -> None:
        for c in rows:
            code = c.code("kode")
            row = BkmRow(c.number, code or "", c.get("nama"), c.code("kode_kelurahan"))
            if self._unique(self.bkms, "bkm", c, code):
                self.bkms[row.code] = row

    def _parse_ksms(self, rows: list[_Cells]) -> None:
        for c in rows:
            code = c.code("kode")
            lat, lon = self._coords(c)
            row = KsmRow(
                c.number,
                code or "",
                c.get("nama"),
                c.code("kode_bkm"),
                c.get("punya_daftar_pekerja", v.yes_no),
                lat,
                lon,
                c.get("jam_pengingat", v.to_time),
            )
            if self._unique(self.ksms, "ksm", c, code):
                self.ksms[row.code] = row

    def _parse_activities(self, rows: list[_Cells]) -> None:
        for c in rows:
            code = c.code("kode")
            lat, lon = self._coords(c)
            row = ActivityRow(
                c.number,
                code or "",
                c.code("kode_ksm"),
                c.get("nama"),
                c.get("indikator", v.indicator),
                c.get("satuan"),
                c.get("volume_target", v.positive_number),
                c.get("anggaran", v.non_negative_integer),
                c.get("anggaran_upah", v.non_negative_integer),
                c.get("tanggal_mulai", v.to_date),
                c.get("tanggal_selesai", v.to_date),
                lat,
                lon,
                c.get("keterangan"),
            )
            if row.start and row.end and row.end < row.start:
                self.error(
                    "kegiatan",
                    c.number,
                    "tanggal_selesai",
                    "end_before_start",
                    end=row.end.isoformat(),
                    start=row.start.isoformat(),
                )
            if row.budget is not None and row.wage_budget is not None and row.wage_budget > row.budget:
                self.error(
                    "kegiatan",
                    c.number,
                    "anggaran_upah",
                    "wage_over_budget",
                    wage=f"{row.wage_budget:,}".replace(",", "."),
                    budget=f"{row.budget:,}".replace(",", "."),
                )
            if self._unique(self.activities, "kegiatan", c, code):
                self.activities[row.code] = row

    def _parse_plans(self, rows: list[_Cells]) -> None:
        for c in rows:
            self.plans.append(
                PlanRow(
                    c.number,
                    c.code("kode_kegiatan"),
                    c.get("tanggal", v.to_date),
                    c.get("persen_rencana", v.percent),
                )
            )

    def _parse_persons(self, rows: list[_Cells]) -> None:
        for c in rows:
            code = c.code("kode")
            row = PersonRow(
                c.number,
                code or "",
                c.get("nama"),
                c.get("peran", v.role),
                c.get("cakupan"),
                c.get("telepon", v.phone),
                c.get("bahasa", v.language),
            )
            if self._unique(self.persons, "orang", c, code):
                self.persons[row.code] = row

    def _parse_workers(self, rows: list[_Cells]) -> None:
        seen: dict[tuple[str, str], WorkerRow] = {}
        for c in rows:
            row = WorkerRow(
                c.number,
                c.code("kode_ksm"),
                c.get("nama"),
                c.get("jenis_kelamin", v.gender),
                c.get("keahlian", v.skill),
                c.get("nik", v.nik),
                c.get("upah_harian", v.non_negative_integer),
                c.get("telepon", v.phone),
                c.get("phk", v.yes_no),
                c.code("kode"),
            )
            if row.ksm_code is not None and row.nik is not None:
                key = (row.ksm_code, row.nik)
                if key in seen:
                    self.error(
                        "pekerja",
                        c.number,
                        "nik",
                        "duplicate_worker",
                        nik=mask_nik(row.nik),
                        ksm=row.ksm_code,
                        first_row=seen[key].row,
                    )
                    continue
                seen[key] = row
            self.workers.append(row)

    # --- references between sheets and the database ---

    def cross_check(self, existing: _Existing) -> None:
        self._check_regions(existing)
        for b in self.bkms.values():
            if b.kelurahan_code is not None:
                self._check_kelurahan(b, existing)
        for k in self.ksms.values():
            if k.bkm_code is not None and k.bkm_code not in self.bkms and k.bkm_code not in existing.bkms:
                self.error("ksm", k.row, "kode_bkm", "unknown_bkm", code=k.bkm_code)
        for a in self.activities.values():
            if a.ksm_code is not None and not self._ksm_known(a.ksm_code, existing):
                self.error("kegiatan", a.row, "kode_ksm", "unknown_ksm", code=a.ksm_code)
        self._check_plans(existing)
        for p in self.persons.values():
            self._check_person(p, existing)
        for w in self.workers:
            if w.ksm_code is not None and not self._ksm_known(w.ksm_code, existing):
                self.error("pekerja", w.row, "kode_ksm", "unknown_ksm", code=w.ksm_code)

    def _ksm_known(self, code: str, existing: _Existing) -> bool:
        return code in self.ksms or code in existing.ksms

    def _region_level(self, code: str, existing: _Existing) -> RegionLevel | bool | None:
        """The level of a region in the file or database; False when there is no such region."""
        if code in self.regions:
            return self.regions[code].level
        if code in existing.regions:
            return existing.regions[code].level
        return False

    def _check_kelurahan(self, b: BkmRow, existing: _Existing) -> None:
        code = b.kelurahan_code
        assert code is not None
        level = self._region_level(code, existing)
        if level is False:
            self.error("bkm", b.row, "kode_kelurahan", "unknown_region", code=code)
        elif level is not None and level != RegionLevel.KELURAHAN:
            self.error("bkm", b.row, "kode_kelurahan", "not_kelurahan", code=code, level=level)

    def _check_regions(self, existing: _Existing) -> None:
        for code, row in self.regions.items():
            self._region(code, existing, set())
            old = existing.regions.get(code)
            if old is not None:
                old_parent = existing.region_code_by_id.get(old.parent_id) if old.parent_id else None
                if (row.level is not None and row.level != old.level) or (
                    row.parent_code != old_parent and (row.parent_code or old_parent)
                ):
                    self.error(
                        "wilayah",
                        row.row,
                        "kode_induk" if row.level == old.level else "tingkat",
                        "region_moved",
                        code=code,
                        old=f"{old.level.value} < {old_parent or '-'}",
                    )

    def _region(self, code: str, existing: _Existing, stack: set[str]) -> RegionInfo | None:
        """Level, materialised path and effective time zone (path None when broken); None when unknown."""
        if code in self.region_info:
            return self.region_info[code]
        row = self.regions.get(code)
        if row is None:
            old = existing.regions.get(code)
            return None if old is None else RegionInfo(old.level, old.path, old.timezone)
        stack = stack | {code}
        path: str | None = None
        timezone = row.timezone
        if row.level == RegionLevel.PROVINSI:
            if row.parent_code:
                self.error("wilayah", row.row, "kode_induk", "province_with_parent")
            elif not row.timezone_given:
                self.error("wilayah", row.row, "zona_waktu", "timezone_required")
            elif row.timezone is not None:
                path = code
        elif row.parent_code is None:
            if row.level is not None:
                self.error("wilayah", row.row, "kode_induk", "parent_required", level=row.level.value)
        elif row.parent_code in stack:
            self.error("wilayah", row.row, "kode_induk", "region_cycle", code=row.parent_code)
        else:
            parent = self._region(row.parent_code, existing, stack)
            expected = _parent_level(row.level)
            if parent is None:
                self.error("wilayah", row.row, "kode_induk", "unknown_region", code=row.parent_code)
            elif row.level is not None and parent.level is not None and parent.level != expected:
                self.error(
                    "wilayah",
                    row.row,
                    "kode_induk",
                    "wrong_parent_level",
                    parent=row.parent_code,
                    parent_level=parent.level.value,
                    level=row.level.value,
                    expected=expected.value if expected else "-",
                )
            elif parent.path is not None and (row.timezone_given is False or timezone is not None):
                path, timezone = child_path(parent.path, code), timezone or parent.timezone
        if path is not None and len(path) > PATH_MAX:
            self.error("wilayah", row.row, "kode", "path_too_long", length=len(path), max=PATH_MAX)
            path = None
        info = RegionInfo(row.level, path, timezone)
        self.region_info[code] = info
        return info

    def _check_plans(self, existing: _Existing) -> None:
        by_activity: dict[str, list[PlanRow]] = {}
        for p in self.plans:
            if p.activity_code is None:
                continue
            if p.activity_code not in self.activities and p.activity_code not in existing.activities:
                self.error("rencana", p.row, "kode_kegiatan", "unknown_activity", code=p.activity_code)
                continue
            by_activity.setdefault(p.activity_code, []).append(p)
        for code, points in by_activity.items():
            file_row = self.activities.get(code)
            if file_row is not None:
                start, end = file_row.start, file_row.end
            else:
                start, end = existing.activities[code].start_date, existing.activities[code].end_date
            seen: dict[date, PlanRow] = {}
            dated = []
            for p in points:
                if p.plan_date is None:
                    continue
                if p.plan_date in seen:
                    self.error(
                        "rencana",
                        p.row,
                        "tanggal",
                        "duplicate_plan_date",
                        date=p.plan_date.isoformat(),
                        activity=code,
                        first_row=seen[p.plan_date].row,
                    )
                    continue
                seen[p.plan_date] = p
                dated.append(p)
                if start and end and not start <= p.plan_date <= end:
                    self.error(
                        "rencana",
                        p.row,
                        "tanggal",
                        "plan_outside",
                        date=p.plan_date.isoformat(),
                        activity=code,
                        start=start.isoformat(),
                        end=end.isoformat(),
                    )
            dated.sort(key=lambda p: p.plan_date or date.min)
            best: PlanRow | None = None
            for p in dated:
                if p.percent is None:
                    continue
                if best is not None and best.percent is not None and p.percent < best.percent:
                    self.error(
                        "rencana",
                        p.row,
                        "persen_rencana",
                        "plan_decreasing",
                        percent=v._fmt(p.percent),
                        prev_percent=v._fmt(best.percent),
                        prev_date=best.plan_date.isoformat() if best.plan_date else "",
                        prev_row=best.row,
                    )
                else:
                    best = p

    def _check_person(self, p: PersonRow, existing: _Existing) -> None:
        if p.scope is None:
            return
        raw = p.scope.strip()
        kind_text, sep, code = raw.partition(":")
        kind_text, code = kind_text.strip().lower(), code.strip()
        kind: str | None
        scope_code: str | None
        actual: str | None
        if raw.lower() in NATIONAL_WORDS:
            kind, scope_code, actual = "nasional", None, "nasional"
        elif sep and (kind_text not in {"ksm", "bkm", "wilayah", "region"} or not code):
            self.error("orang", p.row, "cakupan", "bad_scope", value=v.show(raw))
            return
        else:
            if not sep:
                kind_text, code = "", raw
            kind, scope_code, actual = self._resolve_scope(kind_text, code, existing)
            if kind is None:
                key = {"ksm": "unknown_ksm", "bkm": "unknown_bkm"}.get(kind_text, "unknown_region")
                if not kind_text:
                    self.error("orang", p.row, "cakupan", "unknown_scope", value=v.show(raw))
                else:
                    self.error("orang", p.row, "cakupan", key, code=code)
                return
        p.scope_kind, p.scope_code = kind, scope_code
        if p.role is not None and actual is not None and actual not in ROLE_SCOPES[p.role]:
            self.error(
                "orang",
                p.row,
                "cakupan",
                "scope_role_mismatch",
                role=p.role.value,
                expected=" / ".join(ROLE_SCOPES[p.role]),
                actual=actual,
            )

    def _resolve_scope(
        self, kind_text: str, code: str, existing: _Existing
    ) -> tuple[str | None, str | None, str | None]:
        """(kind, code, what the role check compares: "ksm", "bkm" or the region level)."""
        if kind_text in {"", "ksm"} and self._ksm_known(code, existing):
            return "ksm", code, "ksm"
        if kind_text in {"", "bkm"} and (code in self.bkms or code in existing.bkms):
            return "bkm", code, "bkm"
        if kind_text in {"", "wilayah", "region"}:
            level = self._region_level(code, existing)
            if level is not False:
                return "region", code, level.value if isinstance(level, RegionLevel) else None
        return None, None, None


def _parent_level(level: RegionLevel | None) -> RegionLevel | None:
    if level is None or level == RegionLevel.PROVINSI:
        return None
    return REGION_LEVEL_ORDER[REGION_LEVEL_ORDER.index(level) - 1]


# --- what is in the database already -------------------------------------------------------------------


class _Existing:
    regions: dict[str, Region]
    region_code_by_id: dict[int, str]
    bkms: dict[str, Bkm]
    ksms: dict[str, Ksm]
    activities: dict[str, Activity]
    persons: dict[str, Person]

    @classmethod
    async def load(cls, session: AsyncSession, checker: _Checker) -> _Existing:
        self = cls()
        self.regions = {r.code: r for r in (await session.execute(select(Region))).scalars()}
        self.region_code_by_id = {r.id: r.code for r in self.regions.values()}
        self.bkms = {b.code: b for b in (await session.execute(select(Bkm))).scalars()}
        self.ksms = {k.code: k for k in (await session.execute(select(Ksm))).scalars()}
        self.activities = await _by_codes(session, Activity, _activity_codes(checker))
        self.persons = await _by_codes(session, Person, set(checker.persons))
        return self


def _activity_codes(checker: _Checker) -> set[str]:
    return set(checker.activities) | {p.activity_code for p in checker.plans if p.activity_code}


async def _by_codes(session: AsyncSession, model: Any, codes: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(sorted(codes)):
        for obj in (await session.execute(select(model).where(model.code.in_(chunk)))).scalars():
            found[obj.code] = obj
    return found


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- writing --------------------------------------------------------------------------------------------


def _assign(obj: Any, **fields: Any) -> bool:
    """Set the fields that differ; True when anything changed."""
    changed = False
    for name, value in fields.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _upsert(
    session: AsyncSession, counts: SheetCounts, obj: Any | None, make: Callable[[], Any], **fields: Any
) -> Any:
    if obj is None:
        obj = make()
        _assign(obj, **fields)
        session.add(obj)
        counts.created += 1
    elif _assign(obj, **fields):
        counts.updated += 1
    else:
        counts.unchanged += 1
    return obj


async def _apply(
    session: AsyncSession,
    ck: _Checker,
    ex: _Existing,
    vault: NikVault,
    on_progress: ProgressFn | None,
) -> dict[str, SheetCounts]:
    counts = {name: SheetCounts() for name in SHEET_ORDER}

    def progress(sheet: str) -> None:
        if on_progress is not None:
            on_progress(sheet, 1, 1)

    # Regions, top level first so every parent has an id.
    for level in REGION_LEVEL_ORDER:
        for code, row in ck.regions.items():
            if row.level != level:
                continue
            info = ck.region_info[code]
            assert info.path is not None and info.timezone is not None
            parent_id = ex.regions[row.parent_code].id if row.parent_code else None
            ex.regions[code] = _upsert(
                session,
                counts["wilayah"],
                ex.regions.get(code),
                lambda: Region(code=code),  # noqa: B023 - called at once
                name=row.name,
                level=level,
                parent_id=parent_id,
                timezone=info.timezone,
                path=info.path,
            )
        await session.flush()
    progress("wilayah")

    for code, b in ck.bkms.items():
        assert b.kelurahan_code is not None
        ex.bkms[code] = _upsert(
            session,
            counts["bkm"],
            ex.bkms.get(code),
            lambda: Bkm(code=code),  # noqa: B023
            name=b.name,
            kelurahan_id=ex.regions[b.kelurahan_code].id,
        )
    await session.flush()
    progress("bkm")

    for code, k in ck.ksms.items():
        assert k.bkm_code is not None
        ex.ksms[code] = _upsert(
            session,
            counts["ksm"],
            ex.ksms.get(code),
            lambda: Ksm(code=code),  # noqa: B023
            name=k.name,
            bkm_id=ex.bkms[k.bkm_code].id,
            keeps_roster=True if k.keeps_roster is None else k.keeps_roster,
            latitude=k.latitude,
            longitude=k.longitude,
            reminder_time=k.reminder_time,
        )
    await session.flush()
    progress("ksm")

    for code, a in ck.activities.items():
        assert a.ksm_code is not None
        ex.activities[code] = _upsert(
            session,
            counts["kegiatan"],
            ex.activities.get(code),
            lambda: Activity(code=code),  # noqa: B023
            ksm_id=ex.ksms[a.ksm_code].id,
            name=a.name,
            indicator=a.indicator,
            unit=a.unit,
            target_volume=a.target_volume,
            budget=a.budget,
            wage_budget=a.wage_budget,
            start_date=a.start,
            end_date=a.end,
            latitude=a.latitude,
            longitude=a.longitude,
            description=a.description,
        )
    await session.flush()
    progress("kegiatan")

    await _apply_plans(session, ck, ex, counts["rencana"])
    progress("rencana")

    for code, p in ck.persons.items():
        scope_ids: dict[str, int | None] = {
            "scope_ksm_id": None,
            "scope_bkm_id": None,
            "scope_region_id": None,
        }
        if p.scope_kind == "ksm" and p.scope_code:
            scope_ids["scope_ksm_id"] = ex.ksms[p.scope_code].id
        elif p.scope_kind == "bkm" and p.scope_code:
            scope_ids["scope_bkm_id"] = ex.bkms[p.scope_code].id
        elif p.scope_kind == "region" and p.scope_code:
            scope_ids["scope_region_id"] = ex.regions[p.scope_code].id
        _upsert(
            session,
            counts["orang"],
            ex.persons.get(code),
            lambda: Person(code=code),  # noqa: B023
            name=p.name,
            role=p.role,
            phone=p.phone,
            language=p.language or "id",
            **scope_ids,
        )
    await session.flush()
    progress("orang")

    await _apply_workers(session, ck, ex, vault, counts["pekerja"])
    progress("pekerja")
    return counts


async def _apply_plans(session: AsyncSession, ck: _Checker, ex: _Existing, counts: SheetCounts) -> None:
    wanted: dict[int, dict[date, float]] = {}
    for p in ck.plans:
        assert p.activity_code is not None and p.plan_date is not None and p.percent is not None
        wanted.setdefault(ex.activities[p.activity_code].id, {})[p.plan_date] = p.percent
    current: dict[int, dict[date, PlanPoint]] = {}
    for chunk in _chunks(sorted(wanted)):
        stmt = select(PlanPoint).where(PlanPoint.activity_id.in_(chunk))
        for point in (await session.execute(stmt)).scalars():
            current.setdefault(point.activity_id, {})[point.plan_date] = point
    for activity_id, points in wanted.items():
        have = current.get(activity_id, {})
        for day, old in have.items():
            if day not in points:
                await session.delete(old)
                counts.deleted += 1
        await session.flush()
        for day, percent in sorted(points.items()):
            _upsert(
                session,
                counts,
                have.get(day),
                lambda: PlanPoint(activity_id=activity_id, plan_date=day),  # noqa: B023
                planned_percent=percent,
            )
    await session.flush()


async def _apply_workers(
    session: AsyncSession, ck: _Checker, ex: _Existing, vault: NikVault, counts: SheetCounts
) -> None:
    ksm_ids = sorted({ex.ksms[w.ksm_code].id for w in ck.workers if w.ksm_code})
    current: dict[tuple[int, str], Worker] = {}
    for chunk in _chunks(ksm_ids):
        for worker in (await session.execute(select(Worker).where(Worker.ksm_id.in_(chunk)))).scalars():
            if worker.nik_hash:
                current[(worker.ksm_id, worker.nik_hash)] = worker
    for w in ck.workers:
        assert w.ksm_code is not None and w.nik is not None
        ksm_id = ex.ksms[w.ksm_code].id
        nik_hash = vault.hash(w.nik)
        old = current.get((ksm_id, nik_hash))
        nik = w.nik

        def make(ksm_id: int = ksm_id, nik: str = nik) -> Worker:
            encrypted, hashed = vault.protect(nik)
            return Worker(ksm_id=ksm_id, nik_encrypted=encrypted, nik_hash=hashed)

        current[(ksm_id, nik_hash)] = _upsert(
            session,
            counts,
            old,
            make,
            name=w.name,
            gender=w.gender,
            skill=w.skill,
            daily_rate=w.daily_rate,
            phone=w.phone,
            is_phk=w.is_phk,
            code=w.code,
            active=True,
        )
    await session.flush()
