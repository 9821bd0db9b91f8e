"""Reading the source into plain rows: an .xlsx workbook (openpyxl, read-only) or a folder of CSV files.

The reader refuses, with a message and no traceback, anything that is not a workbook, is bigger than
`importer.max_bytes`, expands to far more than that (a zip bomb), or holds more than `importer.max_rows`
rows. It does not judge the content: that is the validator's job.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kotaku.config import Settings
from kotaku.importer.spec import SHEETS, normalize_header
from kotaku.importer.values import is_blank

# A workbook's XML typically compresses 5-30x; anything expanding beyond this many times the byte
# limit is refused before openpyxl sees it.
EXPANSION_FACTOR = 50

ProgressFn = Callable[[str, int, int], None]


class SourceError(Exception):
    """The source cannot be read at all (exit code 2); `key`/`params` name a catalogue message."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass
class RawSheet:
    name: str
    headers: list[str]
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)  # (row number, cells)


@dataclass
class RawSource:
    path: Path
    kind: str  # "xlsx" or "csv"
    sheets: dict[str, RawSheet]

    @property
    def row_count(self) -> int:
        return sum(len(s.rows) for s in self.sheets.values())


def read_source(path: Path, settings: Settings, on_progress: ProgressFn | None = None) -> RawSource:
    """The sheets the importer knows (others are ignored), each as its header and non-blank rows."""
    path = Path(path)
    if path.is_dir():
        return _read_csv_folder(path, settings, on_progress)
    if not path.is_file():
        raise SourceError("file_not_found", path=str(path))
    if path.suffix.lower() == ".csv":
        raise SourceError("single_csv", sheets=", ".join(f"{s}.csv" for s in SHEETS))
    if path.suffix.lower() == ".xls":
        raise SourceError("old_xls", path=str(path))
    return _read_xlsx(path, settings, on_progress)


class _RowBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> None:
        self.used += 1
        if self.used > self.limit:
            raise SourceError("too_many_rows", limit=self.limit)


def _check_size(size: int, settings: Settings) -> None:
    if size > settings.importer.max_bytes:
        raise SourceError("too_big", size=size, limit=settings.importer.max_bytes)


def _read_xlsx(path: Path, settings: Settings, on_progress: ProgressFn | None) -> RawSource:
    from openpyxl import load_workbook

    _check_size(path.stat().st_size, settings)
    if not zipfile.is_zipfile(path):
        raise SourceError("not_workbook", path=str(path))
    limit = settings.importer.max_bytes * EXPANSION_FACTOR
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            expanded = sum(i.file_size for i in infos)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError("not_workbook", path=str(path)) from exc
    if expanded > limit:
        raise SourceError("zip_bomb", size=expanded, limit=limit)
    if "xl/workbook.xml" not in names:
        raise SourceError("not_workbook", path=str(path))

    budget = _RowBudget(settings.importer.max_rows)
    sheets: dict[str, RawSheet] = {}
    try:
        with path.open("rb") as fh:
            # A file object skips openpyxl's check of the file name's extension.
            wb = load_workbook(fh, read_only=True, data_only=True)
            try:
                by_name = {normalize_header(ws.title): ws for ws in wb.worksheets}
                for name in SHEETS:
                    ws = by_name.get(name)
                    if ws is None:
                        continue
                    total = ws.max_row if isinstance(ws.max_row, int) else 0
                    sheets[name] = _read_rows(name, _xlsx_rows(ws), budget, on_progress, max(total - 1, 0))
            finally:
                wb.close()
    except SourceError:
        raise
    except Exception as exc:  # openpyxl raises many kinds on a damaged file; all mean "unreadable"
        raise SourceError("not_workbook", path=str(path)) from exc
    return RawSource(path, "xlsx", sheets)


def _xlsx_rows(ws: Any) -> Any:
    for cells in ws.iter_rows():
        values = []
        for cell in cells:
            value = getattr(cell, "value", None)
            fmt = getattr(cell, "number_format", None) or ""
            if isinstance(value, int | float) and not isinstance(value, bool) and "%" in fmt:
                value = round(value * 100, 6)  # a cell formatted as 45% holds 0.45
            values.append(value)
        yield values


def _read_rows(
    name: str, rows: Any, budget: _RowBudget, on_progress: ProgressFn | None, total: int
) -> RawSheet:
    sheet = RawSheet(name, [])
    for number, values in enumerate(rows, start=1):
        if number == 1:
            sheet.headers = [normalize_header(v) for v in values]
            while sheet.headers and not sheet.headers[-1]:
                sheet.headers.pop()
            continue
        if all(is_blank(v) for v in values):
            continue
        budget.take()
        cleaned = [v.strip() if isinstance(v, str) else v for v in values]
        sheet.rows.append((number, cleaned))
        if on_progress is not None and len(sheet.rows) % 500 == 0:
            on_progress(name, len(sheet.rows), total)
    if on_progress is not None:
        on_progress(name, len(sheet.rows), len(sheet.rows))
    return sheet


def _read_csv_folder(folder: Path, settings: Settings, on_progress: ProgressFn | None) -> RawSource:
    files = {
        p.stem.strip().lower(): p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file()
    }
    _check_size(sum(p.stat().st_size for p in files.values()), settings)
    budget = _RowBudget(settings.importer.max_rows)
    sheets: dict[str, RawSheet] = {}
    for name in SHEETS:
        file = files.get(name)
        if file is None:
            continue
        data = file.read_bytes()
        if b"\x00" in data:
            raise SourceError("csv_unreadable", reason=f"{file.name}: binary data")
        try:
            content = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            content = data.decode("cp1252", errors="replace")  # Excel's "CSV (Comma delimited)" on Windows
        first = content.split("\n", 1)[0]
        delimiter = ";" if first.count(";") > first.count(",") else ","
        try:
            rows = list(csv.reader(io.StringIO(content, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise SourceError("csv_unreadable", reason=f"{file.name}: {exc}") from exc
        sheets[name] = _read_rows(name, iter(rows), budget, on_progress, max(len(rows) - 1, 0))
    return RawSource(folder, "csv", sheets)
