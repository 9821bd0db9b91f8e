"""The XLSX workbook: one print-ready sheet per table, streamed with xlsxwriter's `constant_memory` mode.

Sheets, in this order (those asked for): Ringkasan (every scope but a single KSM), Daftar Hadir, Daftar
Pembayaran Upah, Progres, Kendala, Foto. Every sheet prints on A4 landscape, fitted to the page width,
with the page number and the print date in the footer.

Daftar Hadir and Daftar Pembayaran Upah are paper forms: one block per KSM and payment period (the form
header with Program KOTAKU, kelurahan, BKM, KSM, kegiatan and periode; the grid or the list; totals; the
signature block), all on one sheet, each block starting on a new printed page. One sheet for all KSMs (not
one sheet per KSM) keeps a national export to a few sheets and each paper on its own page; a sheet that
would pass Excel's 1,023 page breaks or its row limit goes on in "Daftar Hadir (2)" and so on.

Progres, Kendala, Foto and Ringkasan are tables: title, scope and period, one header row (repeated on
every printed page, frozen on screen, with a filter), then the rows and a totals line.

Rows are written in order as they are read (a batch of KSMs at a time), so memory stays flat however
large the scope; only Ringkasan, sorted worst first, is held whole (one small entry per KSM).
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import pickle
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from math import isfinite
from pathlib import Path
from typing import Any

import xlsxwriter
import xlsxwriter.workbook
from babel.dates import format_date as babel_date
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import (
    CellBooleanTuple,
    CellFormulaTuple,
    CellStringTuple,
    RowInfo,
    Worksheet,
    _utf16_len,
    _utf16_truncate,
)

from kotaku import catalogue, clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.domain import figures
from kotaku.domain.plan import Status
from kotaku.exports import MIME_TYPES, ExportKind, ExportRequest, ExportResult, ProgressCallback
from kotaku.exports.data import (
    ExportData,
    FotoRow,
    HadirBlock,
    KendalaRow,
    KsmInfo,
    ProgresRow,
    RingkasanKsm,
    UpahBlock,
)
from kotaku.exports.parallel import PartJob, parallel_processes, ringkasan_in_worker, spawned_pool
from kotaku.exports.photos import PhotoZip
from kotaku.exports.words import terbilang
from kotaku.i18n import fmt_date, fmt_number, fmt_rupiah, locale

# Excel's limits: 1,048,576 rows and 1,023 page breaks per sheet; a sheet goes on in "<name> (2)" before.
MAX_ROWS = 1_000_000
MAX_BREAKS = 1_000
# Rows rendered before they are handed to the sheet's file in one write; strings, dates kept rendered.
ROWS_BUFFERED = 500
CACHED = 100_000
# Cells' rendered strings: labels and KSM names come again and again, a worker's name and NIK only within
# its KSM's papers; emptied when full (a national workbook has more than 130,000 distinct ones, two per worker).
STRINGS_CACHED = 20_000
ZIP_LEVEL = 1
ROW_1 = '<row r="1"'
# What makes xlsxwriter change a string in a cell: XML escapes, control characters and its own `_xHHHH_`
# escapes, leading or trailing whitespace (`xml:space`), a rich string (`<r>`).
_ESCAPED = re.compile(r'[&<>"\n\x00-\x1f]|_x[0-9a-fA-F]{4}_|^\s|\s$')
# Rows of a tabular sheet above its header row (title, scope and period, program, blank).
TABLE_HEADER_ROW = 4

RUPIAH_FORMAT = "[$Rp-421]#,##0"
DATE_FORMATS = {"id": "[$-421]d mmmm yyyy", "en": "[$-409]mmmm d, yyyy"}
DATETIME_FORMATS = {"id": "[$-421]d mmm yyyy hh:mm", "en": "[$-409]mmm d, yyyy hh:mm"}
STATUS_FILLS = {
    Status.CRITICAL: "#F4B6B6",
    Status.BEHIND: "#FCE4B6",
    Status.DONE: "#D5E8D4",
    Status.AHEAD: "#E2F0D9",
}
HEADER_FILL = "#D9E1F2"
OFF_DAY_FILL = "#E7E6E6"
KSM_ROW_FILL = "#F2F2F2"

# Order of the sheets in the workbook.
SHEET_ORDER = (
    ExportKind.RINGKASAN,
    ExportKind.HADIR,
    ExportKind.UPAH,
    ExportKind.PROGRES,
    ExportKind.KENDALA,
    ExportKind.FOTO,
)


def kinds_for(request: ExportRequest) -> list[ExportKind]:
    """The sheets of a request in workbook order; Ringkasan only for a scope larger than one KSM."""
    wanted = set(request.kinds)
    return [
        k
        for k in SHEET_ORDER
        if k in wanted and not (k == ExportKind.RINGKASAN and request.scope.ksm_id is not None)
    ]


# --- formats --------------------------------------------------------------------------------------


class Formats:
    """Cell formats of one workbook, made once per combination of properties."""

    def __init__(self, book: xlsxwriter.Workbook, lang: str) -> None:
        self.book = book
        self.lang = lang
        self._cache: dict[tuple[tuple[str, Any], ...], Format] = {}
        # The named formats, and the plain cell of each kind: by name, no key to build per cell.
        self._named: dict[str, Format] = {}
        self._cells: dict[str, Format] = {}

    def get(self, **props: Any) -> Format:
        key = tuple(sorted(props.items()))
        fmt = self._cache.get(key)
        if fmt is None:
            fmt = self._cache[key] = self.book.add_format({"valign": "vcenter", **props})
        return fmt

    def _once(self, name: str, **props: Any) -> Format:
        """A named format, looked up by its name after the first time."""
        fmt = self._named.get(name)
        if fmt is None:
            fmt = self._named[name] = self.get(**props)
        return fmt

    # Named formats
    def title(self) -> Format:
        return self._once("title", bold=True, font_size=12, align="center_across")

    def subtitle(self) -> Format:
        return self._once("subtitle", align="center_across")

    def label(self) -> Format:
        return self._once("label", bold=True)

    def plain(self) -> Format:
        return self._once("plain")

    def italic(self) -> Format:
        return self._once("italic", italic=True)

    def header(self) -> Format:
        return self._once("header", bold=True, border=1, bg_color=HEADER_FILL, text_wrap=True, align="center")

    def cell(self, kind: str = "text", **extra: Any) -> Format:
        """A bordered table cell of a kind: text, wrap, center, int, dec1, signed, pct, rp, date,
        datetime, coord, meters, general."""
        if not extra:
            fmt = self._cells.get(kind)
            if fmt is None:
                fmt = self._cells[kind] = self._cell(kind)
            return fmt
        return self._cell(kind, **extra)

    def _cell(self, kind: str, **extra: Any) -> Format:
        props: dict[str, Any] = {"border": 1, **extra}
        if kind == "wrap":
            props["text_wrap"] = True
        elif kind == "center":
            props["align"] = "center"
        elif kind == "int":
            props["num_format"] = "#,##0"
        elif kind == "dec1":
            props["num_format"] = "#,##0.0"
        elif kind == "pct":
            props["num_format"] = "0.0"
        elif kind == "signed":
            props["num_format"] = "+0.0;-0.0;0.0"
        elif kind == "rp":
            props["num_format"] = RUPIAH_FORMAT
        elif kind == "date":
            props["num_format"] = DATE_FORMATS.get(self.lang, DATE_FORMATS["id"])
            props.setdefault("align", "left")
        elif kind == "datetime":
            props["num_format"] = DATETIME_FORMATS.get(self.lang, DATETIME_FORMATS["id"])
            props.setdefault("align", "left")
        elif kind == "coord":
            props["num_format"] = "0.000000"
        elif kind == "meters":
            props["num_format"] = "#,##0"
        elif kind == "general":
            props["align"] = props.get("align", "center")
        return self.get(**props)


# --- sheets ---------------------------------------------------------------------------------------


class Cells:
    """The XML of cells and rows exactly as xlsxwriter's `constant_memory` mode writes it, made fast.

    A format's style index is taken (and, the first time, given) in the order the cells are written, as
    xlsxwriter does when it writes a row. A string's element is made once and kept: here when nothing in
    it needs escaping, else by xlsxwriter's own `_write_cell` (escapes, `xml:space`); so are the row tags
    of each height (by xlsxwriter's `_write_row`) and the serial number of each date."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.ws: Worksheet | None = None  # any worksheet of the book: the one rendering rare cells
        self._xf: dict[Format, str] = {}
        self._strings: dict[str, str] = {}
        self._dates: dict[date | datetime, str] = {}
        self._rows: dict[float | None, str] = {}
        self._cols: list[str] = [xl_col_to_name(c) for c in range(64)]
        self._ref_lists: dict[tuple[int, int], list[str]] = {}

    def col(self, col: int) -> str:
        cols = self._cols
        if col < len(cols):
            return cols[col]
        while len(cols) <= col:
            cols.append(xl_col_to_name(len(cols)))
        return cols[col]

    def xf(self, fmt: Format | None) -> str:
        if fmt is None:
            return ""
        attr = self._xf.get(fmt)
        if attr is None:
            attr = self._xf[fmt] = f' s="{fmt._get_xf_index()}"'
        return attr

    def row_tag(self, row: int, height: float | None, *, empty: bool = False) -> str:
        """`<row r="5">`, with the height of `set_row(row, height)` when given."""
        tail = self._rows.get(height)
        if tail is None:
            info = None
            if height is not None:
                info = RowInfo(height=int(height * 4.0 / 3.0 + 0.5))
            tail = self._rows[height] = self._xlsxwriter(lambda ws: ws._write_row(0, None, info))[
                len(ROW_1) :
            ]
        if empty:
            return f'<row r="{row + 1}"{tail[:-1]}/>'
        return f'<row r="{row + 1}"{tail}'

    def row(
        self, row: int, start: int, cells: Sequence[tuple[Any, Format | None]]
    ) -> tuple[str, int, int] | None:
        """The `<c>` elements of one row of cells from column `start` (None: no cell stored), with the
        first and last column stored. The common cells (text, numbers, blanks) are made inline here."""
        parts: list[str] = []
        first = last = -1
        r = str(row + 1)
        refs = self._refs(start, len(cells))
        strings, xfs = self._strings, self._xf
        for i, (value, fmt) in enumerate(cells):
            kind = type(value)
            if kind is str and value:
                tail = strings.get(value)
                if tail is None:
                    tail = self._string(value)
                attr = "" if fmt is None else xfs.get(fmt)
                if attr is None:
                    attr = self.xf(fmt)
                parts.append(f'{refs[i]}{r}"{attr}{tail}')
            elif (kind is int or kind is float) and isfinite(value):
                attr = "" if fmt is None else xfs.get(fmt)
                if attr is None:
                    attr = self.xf(fmt)
                parts.append(f'{refs[i]}{r}"{attr}><v>{value:.16G}</v></c>')
            elif value is None or (kind is str and not value):
                if fmt is None:
                    continue
                attr = xfs.get(fmt)
                if attr is None:
                    attr = self.xf(fmt)
                parts.append(f'{refs[i]}{r}"{attr}/>')
            else:
                xml = self.cell_r(r, row, start + i, value, fmt)
                if not xml:
                    continue
                parts.append(xml)
            if first < 0:
                first = start + i
            last = start + i
        if not parts:
            return None
        return "".join(parts), first, last

    def _refs(self, start: int, n: int) -> list[str]:
        """`<c r="B`, `<c r="C`, ...: the openings of `n` cells from column `start`."""
        key = (start, n)
        refs = self._ref_lists.get(key)
        if refs is None:
            refs = self._ref_lists[key] = [f'<c r="{self.col(start + i)}' for i in range(n)]
        return refs

    def cells(self, row: int, cells: Sequence[tuple[int, Any, Format | None]]) -> tuple[str, int, int] | None:
        """Like `row`, for (column, value, format) cells in column order."""
        parts = []
        first = last = -1
        r = str(row + 1)
        for col, value, fmt in cells:
            xml = self.cell_r(r, row, col, value, fmt)
            if xml:
                parts.append(xml)
                if first < 0:
                    first = col
                last = col
        if not parts:
            return None
        return "".join(parts), first, last

    def cell(self, row: int, col: int, value: Any, fmt: Format | None) -> str:
        return self.cell_r(str(row + 1), row, col, value, fmt)

    def cell_r(self, r: str, row: int, col: int, value: Any, fmt: Format | None) -> str:
        """One `<c>` element ("" for a blank cell without a format: xlsxwriter stores none)."""
        kind = type(value)  # exact types first: a bool is an int, a datetime a date
        if kind is str and value:
            tail = self._strings.get(value)
            if tail is None:
                tail = self._string(value)
            attr = self._xf.get(fmt) if fmt is not None else ""
            if attr is None:
                attr = self.xf(fmt)
            return f'<c r="{self.col(col)}{r}"{attr}{tail}'
        if kind is int or kind is float:
            if not isfinite(value):
                raise TypeError("NAN/INF not supported in write_number()")
            return f'<c r="{self.col(col)}{r}"{self.xf(fmt)}><v>{value:.16G}</v></c>'
        if value is None or value == "":
            return "" if fmt is None else f'<c r="{self.col(col)}{r}"{self.xf(fmt)}/>'
        if kind is date or kind is datetime:
            if kind is datetime and value.tzinfo is not None:
                value = value.replace(tzinfo=None)  # the local time shown (aware ones equal across zones)
            serial = self._dates.get(value)
            if serial is None:
                serial = self._dates[value] = f"{self._serial(value):.16G}"
                if len(self._dates) > CACHED:
                    self._dates.clear()
            return f'<c r="{self.col(col)}{r}"{self.xf(fmt)}><v>{serial}</v></c>'
        return self._rare(row, col, value, fmt)

    def _serial(self, value: date | datetime) -> float:
        dt = (
            value.replace(tzinfo=None)
            if isinstance(value, datetime)
            else datetime(value.year, value.month, value.day)
        )
        ws = self.ws
        assert ws is not None
        return float(ws._convert_date_time(dt))

    def _string(self, value: str) -> str:
        if len(self._strings) > STRINGS_CACHED:
            self._strings.clear()
        if len(value) < 16_000 and not _ESCAPED.search(value):
            # Nothing to escape, no whitespace to keep: what xlsxwriter's `_xml_inline_string` writes.
            tail = self._strings[value] = f' t="inlineStr"><is><t>{value}</t></is></c>'
            return tail
        ws = self.ws
        assert ws is not None
        text = value
        if len(text) > ws.xls_strmax // 2 and _utf16_len(text) > ws.xls_strmax:
            text = _utf16_truncate(text, ws.xls_strmax)
        tail = self._xlsxwriter(lambda w: w._write_cell(0, 0, CellStringTuple(text, None)))[
            len('<c r="A1"') :
        ]
        if len(self._strings) > STRINGS_CACHED:
            self._strings.clear()
        self._strings[value] = tail
        return tail

    def _rare(self, row: int, col: int, value: Any, fmt: Format | None) -> str:
        """Formulas, booleans, datetimes with a zone, numbers of other types, anything else as text: the
        cell xlsxwriter's own `write()` of Sheet's old chain would store, rendered by xlsxwriter."""
        if isinstance(value, _Formula):
            ws = self.ws
            assert ws is not None
            cell: Any = CellFormulaTuple(ws._prepare_formula(value.formula), fmt, value.value)
        elif isinstance(value, bool):
            cell = CellBooleanTuple(1 if value else 0, fmt)
        elif isinstance(value, int | float):
            return self.cell(row, col, float(value) if isinstance(value, float) else int(value), fmt)
        elif isinstance(value, date):
            return self.cell(
                row,
                col,
                datetime(*value.timetuple()[:6], value.microsecond)  # the local clock time, a plain datetime
                if isinstance(value, datetime)
                else date(value.year, value.month, value.day),
                fmt,
            )
        else:
            return self.cell(row, col, str(value), fmt)
        return self._xlsxwriter(lambda ws: ws._write_cell(row, col, cell))

    def _xlsxwriter(self, write: Callable[[Worksheet], None]) -> str:
        """What one of xlsxwriter's own XML writers of a worksheet writes."""
        ws = self.ws
        assert ws is not None
        buf, fh = io.StringIO(), ws.fh
        ws.fh = buf
        try:
            write(ws)
        finally:
            ws.fh = fh
        return buf.getvalue()


class _Formula:
    """A formula cell waiting in the row buffer: its text and the value shown until Excel recalculates."""

    __slots__ = ("formula", "value")

    def __init__(self, formula: str, value: Any) -> None:
        self.formula = formula
        self.value = value


class Sheet:
    """A worksheet written row by row, going on in "<name> (2)" near Excel's limits.

    The rows go straight into the sheet data of xlsxwriter's `constant_memory` mode as the XML xlsxwriter
    itself writes for them (`<row>` and `<c>` elements, inline strings): a national workbook has about
    22 million cells, and xlsxwriter's `write_*` calls cost several microseconds each (checks, a tuple per
    cell, a method call per attribute). `Cells` makes the XML: plain strings, numbers and dates in
    xlsxwriter's own format, strings that need escaping, formulas and the rare types by xlsxwriter's own
    `_write_cell`; tests/unit/test_xlsx_cells.py holds the result equal to xlsxwriter's. A row is rendered
    when the next one is written and a sheet's last row when the workbook closes, as xlsxwriter does (the
    order in which formats get their style numbers). xlsxwriter keeps the sheet's extent, page set-up,
    filters and the packaging; it never sees a cell, so it keeps no per-row state either."""

    def __init__(
        self,
        writer: WorkbookWriter,
        name: str,
        widths: Sequence[float],
        *,
        freeze: tuple[int, int] | None = None,
        on_new_part: Callable[[Sheet], None] | None = None,
        on_part_end: Callable[[Sheet], None] | None = None,
    ) -> None:
        self.writer = writer
        self.on_part_end = on_part_end
        self.base_name = name
        self.widths = list(widths)
        self.freeze = freeze
        self.on_new_part = on_new_part
        self.part = 0
        self.breaks: list[int] = []
        self.cells = writer.cells
        self._pending: dict[int, tuple[Any, Format | None]] = {}  # cells written to the current row
        self._height: float | None = None
        self._out: list[str] = []  # rendered rows not yet handed to the file
        self._last: _Row | None = None  # the row written last, rendered when the next one is
        self.ws: Worksheet = self._new_worksheet()
        self.row = 0

    @property
    def last_col(self) -> int:
        return len(self.widths) - 1

    def _new_worksheet(self) -> Worksheet:
        self.part += 1
        name = self.base_name if self.part == 1 else f"{self.base_name[:25]} ({self.part})"
        ws = self.writer.book.add_worksheet(name)
        self.cells.ws = ws
        for col, width in enumerate(self.widths):
            ws.set_column(col, col, width)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        # The page width, as many pages down as needed; the forms' manual page breaks still apply
        # ("fit to 1 page wide by automatic tall").
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.4, bottom=0.5)
        ws.center_horizontally()
        ws.hide_gridlines(1)  # no grid on paper; the tables draw their own borders
        ws.set_footer(self.writer.footer, {"margin": 0.2})
        if self.freeze:
            ws.freeze_panes(*self.freeze)
        return ws

    def _close_part(self) -> None:
        self._flush()
        if self._last is not None:
            # xlsxwriter writes a sheet's last row when the workbook closes (and gives the formats first
            # used there their style numbers then): so does this sheet.
            self.writer.closing.append((self, self.ws, self._last))
            self._last = None
        self._drain()
        if self.breaks:
            self.ws.set_h_pagebreaks(self.breaks)

    def room(self, rows: int = 1, page_break: bool = False) -> None:
        """Make sure `rows` more rows (and a page break) fit on this part; else start the next part."""
        if self.row + rows > MAX_ROWS or (page_break and len(self.breaks) >= MAX_BREAKS):
            self._flush()
            if self.on_part_end is not None:
                self.on_part_end(self)
            self._close_part()
            self.breaks = []
            self.ws = self._new_worksheet()
            self.row = 0
            if self.on_new_part is not None:
                self.on_new_part(self)

    def page_break(self) -> None:
        """The next row starts a new printed page (not before the first row of a part)."""
        if self.row > 0:
            self.breaks.append(self.row)

    def write(self, col: int, value: Any, fmt: Format | None = None) -> None:
        """One cell of the current row (written out when the row ends)."""
        self._pending[col] = (value, fmt)

    def formula(self, col: int, formula: str, fmt: Format, value: Any) -> None:
        self._pending[col] = (_Formula(formula, value), fmt)

    def line(
        self, cells: Sequence[tuple[Any, Format | None]], *, start: int = 0, height: float | None = None
    ) -> int:
        """Write one row of cells from column `start`; returns its row number and moves down."""
        row = self.row
        if self._pending:
            for i, (value, fmt) in enumerate(cells):
                self._pending[start + i] = (value, fmt)
            self._height = height
            self._flush()
        else:
            if self._last is not None:
                self._emit(self.ws, self._last)
            self._last = (row, start, cells, height)
        self.row += 1
        return row

    def across(self, text: str, fmt: Format, *, first: int = 0, last: int | None = None) -> int:
        """A line centred across columns `first`..`last` (no merged cells: "center across selection")."""
        last = self.last_col if last is None else last
        return self.line([(text, fmt), *([("", fmt)] * (last - first))], start=first)

    def blank(self, n: int = 1) -> None:
        self._flush()
        self.row += n

    def finish(self) -> None:
        self._close_part()

    def _flush(self) -> None:
        """End the current row of the cells given one by one (`write`, `formula`)."""
        if not self._pending and self._height is None:
            return
        pending = self._pending
        row: _Row = (self.row, None, [(col, *pending[col]) for col in sorted(pending)], self._height)
        self._pending, self._height = {}, None
        if self._last is not None:
            self._emit(self.ws, self._last)
        self._last = row

    def _emit(self, ws: Worksheet, row: _Row) -> None:
        """Render one row (when xlsxwriter would: once a later row is written) and keep xlsxwriter's
        extent of the sheet (its `<dimension>`) as its own writes would: the cells stored, and
        `set_row`'s check of the row."""
        n, start, cells, height = row
        rendered = self.cells.cells(n, cells) if start is None else self.cells.row(n, start, cells)
        if rendered is not None:
            xml, first, last = rendered
            self._out.append(self.cells.row_tag(n, height) + xml + "</row>")
            _dims(ws, n, first, last)
        elif height is not None and n == 0:
            # A row with a height and no cell: xlsxwriter writes it only as the sheet's first row (the row
            # it starts at); any later one it never writes.
            self._out.append(self.cells.row_tag(n, height, empty=True))
        if height is not None:
            col = ws.dim_colmin if ws.dim_colmin is not None else 0
            _dims(ws, n, col, col)
        if len(self._out) >= ROWS_BUFFERED:
            self._drain(ws)

    def _drain(self, ws: Worksheet | None = None) -> None:
        if self._out:
            (ws or self.ws).row_data_fh.write("".join(self._out))
            self._out.clear()

    def write_last(self, ws: Worksheet, row: _Row) -> None:
        """A part's last row, when the workbook closes."""
        self._emit(ws, row)
        self._drain(ws)


# (row, first column or None, cells, height): a row waiting to be rendered. With a first column the cells
# are (value, format) from it on; without, (column, value, format) in column order.
_Row = tuple[int, int | None, Sequence[Any], float | None]


def _dims(ws: Worksheet, row: int, first: int, last: int) -> None:
    if ws.dim_rowmin is None or row < ws.dim_rowmin:
        ws.dim_rowmin = row
    if ws.dim_rowmax is None or row > ws.dim_rowmax:
        ws.dim_rowmax = row
    if ws.dim_colmin is None or first < ws.dim_colmin:
        ws.dim_colmin = first
    if ws.dim_colmax is None or last > ws.dim_colmax:
        ws.dim_colmax = last


@dataclass
class Column:
    key: str  # catalogue key of the header
    width: float
    kind: str = "text"


class TableSheet:
    """A tabular sheet: title lines, one header row repeated on every page and frozen, rows, totals."""

    def __init__(
        self,
        writer: WorkbookWriter,
        kind: ExportKind,
        title_key: str,
        columns: Sequence[Column],
        freeze_cols: int = 2,
        note_line: str | None = None,
    ) -> None:
        self.writer = writer
        self.kind = kind
        self.title_key = title_key
        self.note_line = note_line
        self.columns = list(columns)
        # Each column's own cell format, made once (not looked up again for every cell).
        self._cell_fmts = [writer.fmt.cell(c.kind) for c in self.columns]
        self._wrap_cols = [i for i, c in enumerate(self.columns) if c.kind == "wrap"]
        # The longest text that surely fits one line of a wrapped column (`wrapped_lines` gives it 1).
        self._one_line = {i: max(1, int(self.columns[i].width * 1.1)) for i in self._wrap_cols}
        self.count = 0
        self.first_data_row = TABLE_HEADER_ROW + 1
        self.sheet = Sheet(
            writer,
            writer.t(f"export.sheet.{kind.value}"),
            [c.width for c in columns],
            freeze=(TABLE_HEADER_ROW + 1, freeze_cols),
            on_new_part=self._heading,
            on_part_end=lambda _sheet: self.close_data(),
        )
        self._heading(self.sheet)

    def _heading(self, sheet: Sheet) -> None:
        f = self.writer.fmt
        sheet.across(self.writer.t(self.title_key), f.title())
        sheet.across(self.writer.scope_line(), f.subtitle())
        sheet.across(self.writer.t("export.program"), f.subtitle())
        if self.note_line:
            sheet.line([(self.note_line, f.italic())])
        else:
            sheet.blank()
        assert sheet.row == TABLE_HEADER_ROW
        headers = [self.writer.t(c.key) for c in self.columns]
        lines = max(wrapped_lines(h, c.width) for h, c in zip(headers, self.columns, strict=True))
        sheet.line([(h, f.header()) for h in headers], height=12.0 * max(2, lines) + 4)
        sheet.ws.repeat_rows(TABLE_HEADER_ROW)
        self.first_data_row = sheet.row

    def add(self, values: Sequence[Any], fmts: dict[int, Format] | None = None) -> None:
        self.sheet.room()
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns")
        cells = list(zip(values, self._cell_fmts, strict=True))
        if fmts:
            for i, fmt in fmts.items():
                if fmt:
                    cells[i] = (values[i], fmt)
        lines = 1
        for i in self._wrap_cols:
            value = values[i]
            # (a line break, which `splitlines` counts, is never printable)
            if isinstance(value, str) and (len(value) > self._one_line[i] or not value.isprintable()):
                lines = max(lines, wrapped_lines(value, self.columns[i].width))
        # Row heights are not fitted when the file opens: give wrapped text the lines it needs.
        self.sheet.line(cells, height=min(409, 12.0 * lines + 3) if lines > 1 else None)
        self.count += 1

    def note(self, text: str, fmt: Format | None = None) -> None:
        self.sheet.room()
        self.sheet.line([(text, fmt or self.writer.fmt.italic())])

    def close_data(self) -> None:
        """The data rows end here: the filter covers the header and the rows of this part."""
        last = max(self.sheet.row - 1, TABLE_HEADER_ROW)
        self.sheet.ws.autofilter(TABLE_HEADER_ROW, 0, last, len(self.columns) - 1)

    def finish(self) -> None:
        if self.count == 0:
            self.note(self.writer.t("export.none"))
        self.sheet.finish()


class BlockSpool:
    """Wage-list blocks kept in a temporary file (pickled a batch of KSMs at a time) between the pass
    that makes them and the sheet that writes them; memory stays flat. The file lies beside the workbook's
    own temporary files (the same private folder) and is gone when closed."""

    def __init__(self, folder: Path) -> None:
        self._fh = tempfile.TemporaryFile(dir=folder, prefix=".kotaku-upah-")  # noqa: SIM115 (closed by close())

    def add(self, blocks: Iterable[UpahBlock]) -> None:
        pickle.dump([(b.ksm.id, b.start, b.end, b.lines) for b in blocks], self._fh, pickle.HIGHEST_PROTOCOL)

    def blocks(self, ksms: dict[int, KsmInfo]) -> Iterator[UpahBlock]:
        self._fh.seek(0)
        while True:
            try:
                batch = pickle.load(self._fh)  # our own file, written above
            except EOFError:
                return
            for ksm_id, start, end, lines in batch:
                yield UpahBlock(ksm=ksms[ksm_id], start=start, end=end, lines=lines)

    def close(self) -> None:
        self._fh.close()


# --- the workbook ---------------------------------------------------------------------------------


class WorkbookWriter:
    def __init__(
        self,
        path: Path,
        data: ExportData,
        settings: Settings,
        request: ExportRequest,
        on_progress: ProgressCallback | None,
        photos: PhotoZip | None,
    ) -> None:
        self.path = path
        self.data = data
        self.settings = settings
        self.request = request
        self.lang = request.lang if request.lang in catalogue.LANGUAGES else catalogue.DEFAULT_LANG
        self.on_progress = on_progress
        self.photos = photos
        self._texts: dict[str, str] = {}
        self._dates: dict[tuple[date, bool], str] = {}
        self._day_heads: dict[date, str] = {}
        self._rupiah: dict[int, str] = {}
        self.book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "tmpdir": str(path.parent),
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "default_format_properties": {"font_name": "Arial", "font_size": 9},
            },
        )
        self.fmt = Formats(self.book, self.lang)
        self.cells = Cells(self.book)
        self.closing: list[tuple[Sheet, Worksheet, _Row]] = []  # each part's last row
        self.upah_spool: BlockSpool | None = None
        self._ksm_row_fmts: dict[int, Format] | None = None
        self._status_fmts: dict[Status | None, Format] = {}
        self.printed = clock.local_today(settings.app.default_timezone, data.now)
        self.footer = (
            f"&L&7{_footer_safe(self.t('export.footer', date=fmt_date(self.printed, self.lang)))}"
            f"&R&7{_footer_safe(self.t('export.footer.page'))}"
        )
        self.position = {k.id: i for i, k in enumerate(data.ksms)}
        # Ringkasan's entries being computed by a worker process (`write_xlsx`, a large scope), and its
        # sheet waiting for them.
        self.ringkasan_elsewhere: asyncio.Future[list[RingkasanKsm]] | None = None
        self._ringkasan_waiting: TableSheet | None = None
        self.book.set_properties(
            {
                "title": f"KOTAKU {self.scope_label()} {self.request.start.isoformat()}..{self.request.end.isoformat()}",
                "author": "KOTAKU chatbot",
                "company": "Program KOTAKU",
            }
        )

    # --- text -------------------------------------------------------------------------------------

    def t(self, key: str, **kwargs: Any) -> str:
        if kwargs:
            return catalogue.t(key, self.lang, **kwargs)
        text = self._texts.get(key)  # the same few labels on every line: looked up once
        if text is None:
            text = self._texts[key] = catalogue.t(key, self.lang)
        return text

    def fdate(self, d: date, weekday: bool = False) -> str:
        key = (d, weekday)
        text = self._dates.get(key)  # a few dozen dates in an export, each formatted by Babel once
        if text is None:
            text = self._dates[key] = fmt_date(d, self.lang, with_weekday=weekday)
        return text

    def period(self, start: date, end: date) -> str:
        return self.t("export.period", start=self.fdate(start), end=self.fdate(end))

    def day_head(self, day: date) -> str:
        """`Sen\n23/11`: a day column of Daftar Hadir."""
        text = self._day_heads.get(day)
        if text is None:
            text = self._day_heads[day] = f"{babel_date(day, 'EEE', locale=locale(self.lang))}\n{day:%d/%m}"
        return text

    def rupiah(self, amount: int) -> str:
        text = self._rupiah.get(amount)
        if text is None:
            if len(self._rupiah) > CACHED:
                self._rupiah.clear()
            text = self._rupiah[amount] = fmt_rupiah(amount, self.lang)
        return text

    def scope_label(self) -> str:
        sc = self.request.scope
        return self.t("export.scope.national") if sc.is_national else sc.label

    def scope_line(self) -> str:
        return (
            f"{self.t('export.head.scope')}: {self.scope_label()} · "
            f"{self.t('export.head.periode')}: {self.period(self.request.start, self.request.end)}"
        )

    def place(self, ksm: KsmInfo) -> str:
        """`Bejalen, Kecamatan Ambarawa, Kabupaten Semarang, Jawa Tengah`."""
        parts = [ksm.kelurahan_name]
        if ksm.kecamatan:
            parts.append(self.t("export.place.kecamatan", name=ksm.kecamatan))
        parts += [p for p in (ksm.kabkota, ksm.provinsi) if p]
        return ", ".join(parts)

    def skill(self, skill: str | None) -> str:
        return self.t(f"export.skill.{skill}") if skill else ""

    def gender(self, gender: str | None) -> str:
        return self.t(f"export.gender.{gender}") if gender else ""

    def status(self, status: Status | None) -> str:
        return self.t(f"export.status.{status.value}") if status else ""

    def progress(self, kind: ExportKind, ksm_id: int) -> None:
        if self.on_progress is not None:
            self.on_progress(kind.value, self.position.get(ksm_id, 0) + 1, self.data.ksm_count)

    # --- the form parts ---------------------------------------------------------------------------

    def form_header(self, sheet: Sheet, title_key: str, ksm: KsmInfo, start: date, end: date) -> None:
        f = self.fmt
        sheet.across(self.t(title_key), f.title())
        sheet.across(self.t("export.program"), f.subtitle())
        for key, value in (
            ("export.head.kelurahan", self.place(ksm)),
            ("export.head.bkm", f"{ksm.bkm_name} ({ksm.bkm_code})"),
            ("export.head.ksm", f"{ksm.name} ({ksm.code})"),
            ("export.head.kegiatan", ksm.kegiatan or "-"),
            ("export.head.periode", self.period(start, end)),
        ):
            sheet.line([(self.t(key), f.label()), (f": {value}", f.plain())], start=1)
        sheet.blank()

    def signatures(
        self,
        sheet: Sheet,
        ksm: KsmInfo,
        day: date,
        cols: tuple[int, int, int],
        paid_by: bool = False,
        compact: bool = False,
    ) -> None:
        """Mengetahui: the BKM and the facilitator on the left; place, date and the ketua KSM on the right;
        room to sign, then each name in brackets (dots when nobody holds the role). `compact` (Daftar
        Hadir, so that a KSM's paper fits one page): no blank line before, less room to sign."""
        f = self.fmt
        if not compact:
            sheet.blank()
        sheet.room(8)
        place_date = self.t("export.sign.place_date", place=ksm.kelurahan_name, date=self.fdate(day))
        ketua = self.t("export.sign.ketua_paid" if paid_by else "export.sign.ketua")
        lines = [
            (self.t("export.sign.known"), "", place_date),
            (self.t("export.sign.bkm"), self.t("export.sign.fasil"), ketua),
        ]
        for texts in lines:
            for col, text in zip(cols, texts, strict=True):
                sheet.write(col, text, f.plain())
            sheet.blank()
        sheet.blank(2 if compact else 3)
        for col, name in zip(cols, (ksm.bkm_person, ksm.fasilitator, ksm.ketua), strict=True):
            sheet.write(col, f"( {name} )" if name else self.t("export.sign.blank"), f.label())
        sheet.blank()

    # --- Daftar Hadir -----------------------------------------------------------------------------

    def _slots(self) -> int:
        return max(((e - s).days + 1 for s, e in self.data.periods), default=7)

    async def hadir(self) -> int:
        slots = self._slots()
        widths = [5, 28, 20, 5, 11, *([6.5] * slots), 9, 20]
        sheet = Sheet(self, self.t("export.sheet.hadir"), widths, freeze=(0, 2))
        rows = 0
        # With the wage lists to come, their blocks are made from the same attendance rows now and kept
        # on disk for the Upah sheet: the attendance is read once, not twice.
        if ExportKind.UPAH in kinds_for(self.request):
            self.upah_spool = BlockSpool(self.path.parent)
        async for batch, days, records, workers in self.data.attendance_batches():
            for block in self.data.hadir_blocks_of(batch, days, records, workers):
                self.progress(ExportKind.HADIR, block.ksm.id)
                rows += self._hadir_block(sheet, block, slots)
            if self.upah_spool is not None:
                self.upah_spool.add(self.data.upah_blocks_of(batch, days, records, workers))
        if rows == 0:
            sheet.line([(self.t("export.none"), self.fmt.italic())])
        sheet.finish()
        return rows

    def _hadir_block(self, sheet: Sheet, block: HadirBlock, slots: int) -> int:
        f = self.fmt
        hok_col, sign_col = 5 + slots, 6 + slots
        needed = 20 + len(block.workers) + len(block.counts)
        sheet.room(needed, page_break=True)
        sheet.page_break()
        self.form_header(sheet, "export.hadir.title", block.ksm, block.start, block.end)
        if block.workers:
            head = [
                (self.t("export.col.no"), f.header()),
                (self.t("export.col.name"), f.header()),
                (self.t("export.col.nik"), f.header()),
                (self.t("export.col.gender"), f.header()),
                (self.t("export.col.skill"), f.header()),
            ]
            for i in range(slots):
                day = block.days[i] if i < len(block.days) else None
                text = self.day_head(day) if day else ""
                fill = OFF_DAY_FILL if day in block.off_days else HEADER_FILL
                head.append((text, f.get(bold=True, border=1, bg_color=fill, text_wrap=True, align="center")))
            head += [(self.t("export.col.hok"), f.header()), (self.t("export.col.signature"), f.header())]
            sheet.line(head, height=30)
            # The formats of a worker's row, and each slot's day and format, made once per block.
            center, text, hok_fmt = f.cell("center"), f.cell(), f.cell("general", bold=True)
            sign_fmts = (f.cell(align="right"), f.cell(align="left"))
            day_cells = []
            for i in range(slots):
                day = block.days[i] if i < len(block.days) else None
                off = day in block.off_days if day else True
                day_cells.append((day, f.cell("center", **({"bg_color": OFF_DAY_FILL} if off else {}))))
            for n, w in enumerate(block.workers, start=1):
                cells: list[tuple[Any, Format | None]] = [
                    (n, center),
                    (w.name, text),
                    (w.nik, center),
                    (self.gender(w.gender), center),
                    (self.skill(w.skill), text),
                ]
                for day, day_fmt in day_cells:
                    hok = w.present.get(day) if day else None
                    mark = "✓" if hok == 1.0 else (fmt_number(hok, self.lang) if hok else "")
                    cells.append((mark, day_fmt))
                cells.append((w.hok, hok_fmt))
                # Paper forms stagger the signature lines so neighbours do not sign over each other.
                cells.append((f"{n}. ........", sign_fmts[n % 2]))
                sheet.line(cells, height=16)
            totals: list[tuple[Any, Format | None]] = [
                ("", f.cell(bold=True)),
                (self.t("export.hadir.total_day"), f.cell(bold=True)),
                ("", f.cell()),
                ("", f.cell()),
                ("", f.cell()),
            ]
            for i in range(slots):
                day = block.days[i] if i < len(block.days) else None
                on_day = block.hok_on(day) if day else 0.0
                to_come = day is not None and day > block.today
                shown = on_day if day and (on_day or (day not in block.off_days and not to_come)) else ""
                totals.append((shown, f.cell("general", bold=True)))
            totals += [(block.roster_hok, f.cell("general", bold=True)), ("", f.cell())]
            sheet.line(totals)
            male = sum(1 for w in block.workers if w.gender == "L")
            female = len(block.workers) - male
            totals_text = self.t(
                "export.hadir.totals",
                workers=len(block.workers),
                male=male,
                female=female,
                hok=fmt_number(block.roster_hok, self.lang),
            )
            legend = self.t("export.hadir.legend", hours=fmt_number(self.settings.monitoring.hok_hours))
            sheet.line([(f"{totals_text} {legend}", f.plain())], start=1)
        if block.counts:
            if block.workers:
                sheet.blank()
            sheet.line([(self.t("export.hadir.count_title"), f.label())], start=1)
            sheet.line(
                [
                    (self.t(k), f.header())
                    for k in (
                        "export.col.no",
                        "export.col.date",
                        "export.gender.L",
                        "export.gender.P",
                        "export.col.workers",
                        "export.col.hok_day",
                    )
                ],
                height=30,
            )
            first = sheet.row
            for n, c in enumerate(block.counts, start=1):
                sheet.line(
                    [
                        (n, f.cell("center")),
                        (self.fdate(c.work_date, weekday=True), f.cell()),
                        (c.male, f.cell("int")),
                        (c.female, f.cell("int")),
                        (c.workers, f.cell("int")),
                        (c.hok, f.cell("general")),
                    ]
                )
            last = sheet.row - 1
            sheet.write(0, "", f.cell())
            sheet.write(1, self.t("export.total"), f.cell(bold=True))
            for col, value in (
                (2, sum(c.male for c in block.counts)),
                (3, sum(c.female for c in block.counts)),
                (4, sum(c.workers for c in block.counts)),
                (5, block.count_hok),
            ):
                sheet.formula(
                    col, _sum(first, last, col), f.cell("int" if col < 5 else "general", bold=True), value
                )
            sheet.blank()
        self.signatures(sheet, block.ksm, block.end, (1, 5, hok_col), compact=True)
        _ = sign_col
        return block.rows

    # --- Daftar Pembayaran Upah -------------------------------------------------------------------

    async def upah(self) -> int:
        widths = [5, 28, 20, 5, 12, 8, 7, 13, 15, 15, 22]
        sheet = Sheet(self, self.t("export.sheet.upah"), widths, freeze=(0, 2))
        rows = 0
        if self.upah_spool is not None:
            ksms = {k.id: k for k in self.data.ksms}
            for block in self.upah_spool.blocks(ksms):
                self.progress(ExportKind.UPAH, block.ksm.id)
                rows += self._upah_block(sheet, block)
        else:
            async for block in self.data.upah_blocks():
                self.progress(ExportKind.UPAH, block.ksm.id)
                rows += self._upah_block(sheet, block)
        if rows == 0:
            sheet.line([(self.t("export.none"), self.fmt.italic())])
        sheet.finish()
        return rows

    def _upah_block(self, sheet: Sheet, block: UpahBlock) -> int:
        f = self.fmt
        sheet.room(22 + len(block.lines), page_break=True)
        sheet.page_break()
        self.form_header(sheet, "export.upah.title", block.ksm, block.start, block.end)
        by_count = all(ln.work_date is not None for ln in block.lines)
        sheet.line(
            [
                (self.t(k), f.header())
                for k in (
                    "export.col.no",
                    "export.col.date" if by_count else "export.col.name",
                    "export.col.workers" if by_count else "export.col.nik",
                    "export.col.gender",
                    "export.col.skill",
                    "export.col.days",
                    "export.col.hok_day",
                    "export.col.rate",
                    "export.col.total",
                    "export.col.pay_status",
                    "export.col.thumb",
                )
            ],
            height=30,
        )
        first = sheet.row
        center, text, int_fmt = f.cell("center"), f.cell(), f.cell("int")
        general, rp = f.cell("general"), f.cell("rp")
        sign_fmts = (f.cell(align="right"), f.cell(align="left"))
        for n, ln in enumerate(block.lines, start=1):
            if ln.work_date is not None:
                name = self.fdate(ln.work_date, weekday=True)
                who = self.t("export.upah.count_line", workers=ln.workers, male=ln.male, female=ln.female)
            else:
                name, who = ln.name, ln.nik
            sheet.line(
                [
                    (n, center),
                    (name, text),
                    (who, center),
                    (self.gender(ln.gender), center),
                    (self.skill(ln.skill), text),
                    (ln.days, int_fmt),
                    (ln.hok, general),
                    (ln.rate, rp),
                    (ln.total, rp),
                    (self.t(f"export.pay.{ln.status}"), center),
                    (f"{n}. ........", sign_fmts[n % 2]),
                ],
                height=16,
            )
        last = sheet.row - 1
        for col in (0, 2, 3, 4, 7, 9, 10):
            sheet.write(col, "", f.cell(bold=True))
        sheet.write(1, self.t("export.total"), f.cell(bold=True))
        sheet.formula(5, _sum(first, last, 5), f.cell("int", bold=True), sum(ln.days for ln in block.lines))
        sheet.formula(6, _sum(first, last, 6), f.cell("general", bold=True), block.hok)
        sheet.formula(8, _sum(first, last, 8), f.cell("rp", bold=True), block.total)
        sheet.blank()  # (the totals row)
        sheet.line(
            [
                (
                    self.t("export.upah.words", words=terbilang(block.total, self.lang)),
                    f.get(italic=True, bold=True),
                )
            ],
            start=1,
        )
        paid_line = self.t(
            "export.upah.paid_line",
            paid=self.rupiah(block.paid),
            unpaid=self.rupiah(block.unpaid),
        )
        if not self.request.unmask_nik and not by_count:
            paid_line += " " + self.t("export.masked_note")
        sheet.line([(paid_line, f.plain())], start=1)
        self.signatures(sheet, block.ksm, block.end, (1, 4, 8), paid_by=True, compact=True)
        return len(block.lines)

    # --- Progres ----------------------------------------------------------------------------------

    async def progres(self) -> int:
        table = TableSheet(
            self,
            ExportKind.PROGRES,
            "export.progres.title",
            [
                Column("export.col.kelurahan", 16),
                Column("export.col.ksm", 24),
                Column("export.col.activity_code", 13),
                Column("export.col.activity", 30, "wrap"),
                Column("export.col.date", 18, "date"),
                Column("export.col.planned", 10, "pct"),
                Column("export.col.actual", 10, "pct"),
                Column("export.col.deviation", 10, "signed"),
                Column("export.col.status", 15, "center"),
                Column("export.col.volume", 10, "dec1"),
                Column("export.col.unit", 8, "center"),
                Column("export.col.target", 10, "dec1"),
                Column("export.col.photos", 7, "int"),
                Column("export.col.note", 24, "wrap"),
            ],
            freeze_cols=4,
        )
        activities: set[int] = set()
        critical = photos = 0
        first = table.first_data_row
        ksm_id = None
        async for r in self.data.progres_rows():
            if r.ksm.id != ksm_id:  # progress once per KSM, not per report
                ksm_id = r.ksm.id
                self.progress(ExportKind.PROGRES, ksm_id)
            table.add(self._progres_values(r), {8: self._status_fmt(r.status)})
            activities.add(r.activity.id)
            critical += r.status == Status.CRITICAL
            photos += r.photos
        table.close_data()
        if table.count and table.sheet.part == 1:
            f = self.fmt
            sheet = table.sheet
            for col in range(len(table.columns)):
                sheet.write(col, "", f.cell(bold=True))
            sheet.write(0, self.t("export.total"), f.cell(bold=True))
            sheet.formula(12, _sum(first, sheet.row - 1, 12), f.cell("int", bold=True), photos)
            sheet.blank()
        if table.count:
            table.note(
                self.t("export.progres.totals", n=table.count, activities=len(activities), critical=critical)
            )
        table.finish()
        return table.count

    def _progres_values(self, r: ProgresRow) -> list[Any]:
        a = r.activity
        return [
            r.ksm.kelurahan_name,
            r.ksm.name,
            a.code,
            a.name,
            r.report_date,
            r.planned,
            r.actual,
            r.deviation,
            self.status(r.status),
            r.volume,
            a.unit,
            a.target_volume,
            r.photos,
            r.note,
        ]

    def _status_fmt(self, status: Status | None) -> Format:
        fmt = self._status_fmts.get(status)
        if fmt is None:
            fmt = self._status_fmts[status] = self._make_status_fmt(status)
        return fmt

    def _make_status_fmt(self, status: Status | None) -> Format:
        fill = STATUS_FILLS.get(status) if status else None
        extra: dict[str, Any] = {"bg_color": fill} if fill else {}
        if status == Status.CRITICAL:
            extra["bold"] = True
        return self.fmt.cell("center", **extra)

    # --- Kendala ----------------------------------------------------------------------------------

    async def kendala(self) -> int:
        table = TableSheet(
            self,
            ExportKind.KENDALA,
            "export.kendala.title",
            [
                Column("export.col.obstacle_id", 9, "center"),
                Column("export.col.kelurahan", 14),
                Column("export.col.ksm", 24),
                Column("export.col.activity", 22, "wrap"),
                Column("export.col.opened", 18, "date"),
                Column("export.col.category", 14),
                Column("export.col.severity", 14, "wrap"),
                Column("export.col.description", 40, "wrap"),
                Column("export.col.status", 9, "center"),
                Column("export.col.closed", 18, "date"),
                Column("export.col.days_open", 7, "int"),
                Column("export.col.reported_by", 16),
                Column("export.col.closed_by", 16),
                Column("export.col.follow_up", 32, "wrap"),
            ],
            freeze_cols=3,
        )
        opened = 0
        async for r in self.data.kendala_rows():
            self.progress(ExportKind.KENDALA, r.ksm.id)
            table.add(self._kendala_values(r), self._kendala_fmts(r))
            opened += r.status == "open"
        table.close_data()
        if table.count:
            table.note(
                self.t("export.kendala.totals", total=table.count, open=opened, closed=table.count - opened)
            )
        table.finish()
        return table.count

    def _kendala_values(self, r: KendalaRow) -> list[Any]:
        return [
            r.short_id,
            r.ksm.kelurahan_name,
            r.ksm.name,
            f"{r.activity.name} ({r.activity.code})" if r.activity else self.t("export.activity.none"),
            r.report_date,
            self.t(f"export.cat.{r.category}"),
            self.t(f"export.sev.{r.severity}"),
            r.description,
            self.t(f"export.obstacle.{r.status}"),
            r.closed_date,
            r.days_open,
            r.reported_by,
            r.closed_by,
            r.close_note,
        ]

    def _kendala_fmts(self, r: KendalaRow) -> dict[int, Format]:
        fmts: dict[int, Format] = {}
        if r.severity == "tinggi":
            fmts[6] = self.fmt.cell(bold=True, bg_color=STATUS_FILLS[Status.CRITICAL])
        if r.status == "open":
            fmts[8] = self.fmt.cell("center", bold=True)
        return fmts

    # --- Foto -------------------------------------------------------------------------------------

    async def foto(self) -> int:
        table = TableSheet(
            self,
            ExportKind.FOTO,
            "export.foto.title",
            [
                Column("export.col.date", 18, "date"),
                Column("export.col.kelurahan", 14),
                Column("export.col.ksm", 24),
                Column("export.col.activity_code", 13),
                Column("export.col.activity", 24, "wrap"),
                Column("export.col.milestone", 8, "int"),
                Column("export.col.latitude", 11, "coord"),
                Column("export.col.longitude", 11, "coord"),
                Column("export.col.distance", 10, "meters"),
                Column("export.col.taken", 18, "datetime"),
                Column("export.col.file", 36),
                Column("export.col.caption", 28, "wrap"),
            ],
            freeze_cols=3,
        )
        radius = self.settings.monitoring.photo_radius_m
        async for r in self.data.foto_rows():
            self.progress(ExportKind.FOTO, r.ksm.id)
            far = r.distance_m is not None and r.distance_m > radius
            fmts = (
                {8: self.fmt.cell("meters", bold=True, bg_color=STATUS_FILLS[Status.CRITICAL])} if far else {}
            )
            table.add(self._foto_values(r), fmts)
            if self.photos is not None:
                self.photos.add(r)
        table.close_data()
        if table.count:
            table.note(self.t("export.foto.totals", n=table.count))
            if self.photos is not None:
                table.note(self.t("export.foto.zip_note"))
        table.finish()
        return table.count

    def _foto_values(self, r: FotoRow) -> list[Any]:
        return [
            r.report_date,
            r.ksm.kelurahan_name,
            r.ksm.name,
            r.activity.code if r.activity else "",
            r.activity.name if r.activity else self.t("export.activity.none"),
            r.milestone,
            r.latitude,
            r.longitude,
            r.distance_m,
            r.taken_at,
            r.file_name,
            r.caption,
        ]

    # --- Ringkasan --------------------------------------------------------------------------------

    async def ringkasan(self) -> int:
        if self.ringkasan_elsewhere is not None:
            # Computed by a worker process meanwhile: the sheet comes first in the workbook now, its rows
            # once the other sheets are written (`write`).
            self._ringkasan_waiting = self._ringkasan_table(self._ringkasan_as_of())
            return 0
        report = self.on_progress
        entries = await self.data.ringkasan(
            on_ksm=(lambda done, total: report("ringkasan", done, total)) if report is not None else None
        )
        return self._ringkasan_rows(self._ringkasan_table(self._ringkasan_as_of()), entries)

    def _ringkasan_as_of(self) -> date:
        """The latest local date of the summary's moment over the scope's time zones (each KSM's row is
        as of its own)."""
        at = self.data.as_of()
        return max(
            (clock.local_today(tz, at) for tz in {k.timezone for k in self.data.ksms}),
            default=self.request.end,
        )

    def _ringkasan_rows(self, table: TableSheet, entries: list[RingkasanKsm]) -> int:
        for e in entries:
            self._ringkasan_ksm(table, e)
        table.close_data()
        if entries:
            self._ringkasan_total(table, entries)
        table.finish()
        return table.count

    def _ringkasan_table(self, as_of: date) -> TableSheet:
        return TableSheet(
            self,
            ExportKind.RINGKASAN,
            "export.ringkasan.title",
            [
                Column("export.col.kelurahan", 14),
                Column("export.col.ksm", 24),
                Column("export.col.activity_code", 12),
                Column("export.col.activity", 26, "wrap"),
                Column("export.col.planned", 9, "pct"),
                Column("export.col.actual", 9, "pct"),
                Column("export.col.deviation", 9, "signed"),
                Column("export.col.status", 15, "center"),
                Column("export.col.last_report", 18, "date"),
                Column("export.col.hok_day", 8, "dec1"),
                Column("export.col.worker_days", 9, "int"),
                Column(figures.WAGES_RECORDED, 15, "rp"),
                Column("export.col.wages_paid", 15, "rp"),
                Column("export.col.wage_budget", 15, "rp"),
                Column("export.col.wage_share", 10, "pct"),
                Column(figures.WORK_VALUE, 16, "rp"),
                Column("export.col.budget", 16, "rp"),
                Column("export.col.work_value_share", 10, "pct"),
                Column("export.col.open_obstacles", 9, "int"),
                Column("export.col.open_alerts", 9, "int"),
            ],
            freeze_cols=2,
            note_line=self.t("export.ringkasan.as_of", date=self.fdate(as_of)),
        )

    def _ringkasan_ksm(self, table: TableSheet, e: RingkasanKsm) -> None:
        f = self.fmt

        def bold(kind: str) -> Format:
            return f.cell(kind, bold=True, bg_color=KSM_ROW_FILL)

        worst = e.worst_status
        if self._ksm_row_fmts is None:  # the same for every KSM row: made once
            self._ksm_row_fmts = {i: bold(c.kind) for i, c in enumerate(table.columns)}
        ksm_fmts = dict(self._ksm_row_fmts)
        ksm_fmts[7] = self._status_fmt(worst) if worst in STATUS_FILLS else bold("center")
        table.add(
            [
                e.ksm.kelurahan_name,
                e.ksm.name,
                e.ksm.code,
                self.t("export.ringkasan.activities", n=len(e.activities)),
                None,
                None,
                None,
                self.status(worst),
                None,
                e.hok,
                e.workers,
                e.wages,
                e.wages_paid,
                e.wage_budget,
                _share(e.wages_paid, e.wage_budget),
                round(e.work_value),
                e.budget,
                _share(e.work_value, e.budget),
                e.open_obstacles,
                e.open_alerts,
            ],
            ksm_fmts,
        )
        for a in e.activities:
            table.add(
                [
                    e.ksm.kelurahan_name,
                    e.ksm.name,
                    a.activity.code,
                    a.activity.name,
                    a.planned,
                    a.actual,
                    a.deviation,
                    self.status(a.status),
                    a.last_report,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    round(a.work_value),
                    a.activity.budget,
                    _share(a.work_value, a.activity.budget),
                    a.open_obstacles,
                    a.open_alerts,
                ],
                {7: self._status_fmt(a.status)},
            )

    def _ringkasan_total(self, table: TableSheet, entries: list[RingkasanKsm]) -> None:
        f = self.fmt
        wages_paid = sum(e.wages_paid for e in entries)
        wage_budget = sum(e.wage_budget for e in entries)
        value = sum(round(e.work_value) for e in entries)  # the KSM rows' figures add up to it
        budget = sum(e.budget for e in entries)
        values = [
            self.t("export.total"),
            f"{len(entries)} KSM",
            None,
            self.t("export.ringkasan.activities", n=sum(len(e.activities) for e in entries)),
            None,
            None,
            None,
            None,
            None,
            sum(e.hok for e in entries),
            sum(e.workers for e in entries),
            sum(e.wages for e in entries),
            wages_paid,
            wage_budget,
            _share(wages_paid, wage_budget),
            value,
            budget,
            _share(value, budget),
            sum(e.open_obstacles for e in entries),
            sum(e.open_alerts for e in entries),
        ]
        sheet = table.sheet
        sheet.room()
        sheet.line(
            [(v, f.cell(c.kind, bold=True, top=2)) for v, c in zip(values, table.columns, strict=True)]
        )

    # --- the whole --------------------------------------------------------------------------------

    async def write(self) -> dict[str, int]:
        rows: dict[str, int] = {}
        writers = {
            ExportKind.RINGKASAN: self.ringkasan,
            ExportKind.HADIR: self.hadir,
            ExportKind.UPAH: self.upah,
            ExportKind.PROGRES: self.progres,
            ExportKind.KENDALA: self.kendala,
            ExportKind.FOTO: self.foto,
        }
        try:
            for kind in kinds_for(self.request):
                rows[kind.value] = await writers[kind]()
            if self._ringkasan_waiting is not None and self.ringkasan_elsewhere is not None:
                entries = await self.ringkasan_elsewhere
                if self.on_progress is not None:
                    self.on_progress("ringkasan", self.data.ksm_count, self.data.ksm_count)
                rows[ExportKind.RINGKASAN.value] = self._ringkasan_rows(self._ringkasan_waiting, entries)
        finally:
            if self.upah_spool is not None:
                self.upah_spool.close()
            for sheet, ws, row in self.closing:
                sheet.write_last(ws, row)
            with _zip_level(ZIP_LEVEL):
                self.book.close()
        return rows


@contextmanager
def _zip_level(level: int) -> Iterator[None]:
    """xlsxwriter zips the workbook at zlib's default level and has no option for it: its `ZipFile` is
    given `level` while the workbook closes (synchronous: no other export runs in between). A national
    workbook is about 1 GB of XML; level 1 deflates it in half the time or less, for about a third more bytes."""
    original = xlsxwriter.workbook.ZipFile
    xlsxwriter.workbook.ZipFile = functools.partial(zipfile.ZipFile, compresslevel=level)  # type: ignore[misc]
    try:
        yield
    finally:
        xlsxwriter.workbook.ZipFile = original  # type: ignore[misc]


def wrapped_lines(text: str, width: float) -> int:
    """About how many lines `text` takes wrapped in a column of this width (in characters)."""
    per_line = max(1, int(width * 1.1))
    return sum(max(1, -(-len(part) // per_line)) for part in text.splitlines() or [""])


def _sum(first: int, last: int, col: int) -> str:
    if last < first:
        return "=0"
    return f"=SUM({xl_rowcol_to_cell(first, col)}:{xl_rowcol_to_cell(last, col)})"


def _share(part: int | float, whole: int | float) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def _footer_safe(text: str) -> str:
    """A footer text with its own `&` kept (Excel's footer codes start with `&`), except &P and &N."""
    return text.replace("&", "&&").replace("&&P", "&P").replace("&&N", "&N")


# --- entry point ----------------------------------------------------------------------------------


async def write_xlsx(
    db: Database,
    settings: Settings,
    request: ExportRequest,
    out: Path,
    *,
    on_progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the workbook to `out` (with photos: a zip beside it holding the workbook and foto/)."""
    out = Path(out)
    final = out.with_suffix(".zip") if request.with_photos else out
    part = out.with_name(f".{out.name}.part")
    photos = PhotoZip(settings, final) if request.with_photos else None
    try:
        async with db.read() as session:
            data = await ExportData.load(session, settings, request)
            writer = WorkbookWriter(part, data, settings, request, on_progress, photos)
            wanted = ExportKind.RINGKASAN in kinds_for(request)
            if wanted and parallel_processes(settings, db, data.ksm_count, data.batch_size) > 1:
                # Ringkasan (a few queries and the plan rule per batch of KSMs) in a worker process, while
                # this one writes the other sheets.
                with spawned_pool(1) as pool:
                    job = PartJob.of(db, data, request)
                    writer.ringkasan_elsewhere = asyncio.get_running_loop().run_in_executor(
                        pool, ringkasan_in_worker, job
                    )
                    rows = await writer.write()
            else:
                rows = await writer.write()
        if photos is not None:
            rows["foto_files"] = photos.finish(part, arcname=out.with_suffix(".xlsx").name)
            part.unlink()
            return ExportResult(path=final, mime_type=MIME_TYPES["zip"], rows=rows)
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        if photos is not None:
            photos.abort()
        raise
    return ExportResult(path=final, mime_type=MIME_TYPES["xlsx"], rows=rows)
