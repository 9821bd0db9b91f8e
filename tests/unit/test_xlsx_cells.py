"""The workbook's own cell writer (`kotaku.exports.xlsx.Sheet` and `Cells`) writes the sheet XML byte for byte
as xlsxwriter's `write_*` and `set_row` calls would in `constant_memory` mode: cells, inline strings and
their escapes, style numbers (given in the order xlsxwriter gives them: a sheet's last row when the
workbook closes), row heights and the sheet's extent."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from kotaku.exports.xlsx import Cells, Sheet, _zip_level

WITA = timezone(timedelta(hours=8))


def _old_write(ws: Worksheet, row: int, col: int, value: Any, fmt: Format | None) -> None:
    """The chain the workbook used before it wrote its own XML (xlsxwriter's API, cell by cell)."""
    kind = type(value)
    if kind is str and value:
        ws.write_string(row, col, value, fmt)
    elif kind is int or kind is float:
        ws.write_number(row, col, value, fmt)
    elif value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value.replace(tzinfo=None), fmt)
    elif isinstance(value, date):
        ws.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt)
    else:
        ws.write_string(row, col, str(value), fmt)


def _rows(fmts: list[Format]) -> list[tuple[str, Any]]:
    """What a sheet gets: ("line", (cells, start, height)), ("write", (col, value, fmt)),
    ("formula", (col, text, fmt, value)), ("blank", n)."""
    a, b, c, d, e = fmts
    texts = [
        "Bejalen",
        "A & B <c>",
        " leading",
        "trailing ",
        "ctrl\x01char",
        "_x0000_ literal",
        "20261125_KSM-BJL-01_umum_42.jpg",
        "tab\tinside",
        "✓",
        "x" * 40_000,
    ]
    return [
        ("line", ([(t, a) for t in texts], 0, None)),
        ("line", ([(1, b), (2.5, b), (0.1, None), (1e20, b), (-3, c), (True, c), (False, None)], 1, 16.0)),
        ("line", ([(None, a), ("", b), (None, None), ("", None), ("text", None)], 2, None)),
        ("blank", 2),
        ("line", ([(date(2026, 11, 26), d), (datetime(2026, 11, 26, 16, 5, tzinfo=WITA), d)], 0, 30.0)),
        ("line", ([(datetime(2026, 11, 26, 16, 5, tzinfo=UTC), d), (date(2026, 11, 26), None)], 0, 15.0)),
        ("line", ([(None, None)], 0, 20.0)),
        ("write", (3, "", b)),
        ("write", (0, "Jumlah", e)),
        ("formula", (2, "=SUM(C1:C4)", e, 12)),
        ("blank", 1),
        ("line", ([("Rp", e), (5, e)], 4, None)),
        ("line", ([("last row, its own format", fmts[4])], 0, 12.0)),
    ]


def _book(path: Path) -> tuple[Any, list[Format]]:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent)})
    props = [
        {"bold": True},
        {"num_format": "#,##0"},
        {"italic": True},
        {"num_format": "d mmm yyyy"},
        {"top": 2},
    ]
    return book, [book.add_format(p) for p in props]


def _sheet_xml(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {
            n: zf.read(n) for n in zf.namelist() if n.startswith("xl/worksheets/") or n == "xl/styles.xml"
        }


def test_sheet_writes_what_xlsxwriter_writes(tmp_path: Path) -> None:
    # The old way: xlsxwriter's API for every cell and row height.
    old_path = tmp_path / "old.xlsx"
    book, fmts = _book(old_path)
    # Formats first used in each sheet's last row get their numbers when the workbook closes.
    late = [book.add_format({"bg_color": "#F4B6B6"}), book.add_format({"bg_color": "#D5E8D4"})]
    for n in range(2):
        ws = book.add_worksheet(f"S{n}")
        row = 0
        for op, args in _rows([*fmts[:4], late[n]]):
            if op == "line":
                cells, start, height = args
                for i, (value, fmt) in enumerate(cells):
                    _old_write(ws, row, start + i, value, fmt)
                if height is not None:
                    ws.set_row(row, height)
                row += 1
            elif op == "write":
                _old_write(ws, row, *args)
            elif op == "formula":
                col, text, fmt, value = args
                ws.write_formula(row, col, text, fmt, value)
            else:
                row += args
    book.close()

    # The new way: Sheet, which renders the XML itself.
    new_path = tmp_path / "new.xlsx"
    book, fmts = _book(new_path)
    late = [book.add_format({"bg_color": "#F4B6B6"}), book.add_format({"bg_color": "#D5E8D4"})]
    writer = SimpleNamespace(book=book, footer="", cells=Cells(book), closing=[])
    for n in range(2):
        sheet = Sheet.__new__(Sheet)
        # A bare sheet: the same worksheet as the old way gets (no page set-up), the writer's cells.
        sheet.writer, sheet.cells, sheet.breaks = writer, writer.cells, []
        sheet._pending, sheet._height, sheet._out, sheet._last = {}, None, [], None
        sheet.on_part_end = sheet.on_new_part = None
        sheet.ws = book.add_worksheet(f"S{n}")
        writer.cells.ws = sheet.ws
        sheet.row = 0
        for op, args in _rows([*fmts[:4], late[n]]):
            if op == "line":
                cells, start, height = args
                sheet.line(cells, start=start, height=height)
            elif op == "write":
                sheet.write(*args)
            elif op == "formula":
                sheet.formula(*args)
            else:
                sheet.blank(args)
        sheet.finish()
    for sheet, ws, row in writer.closing:
        sheet.write_last(ws, row)
    with _zip_level(1):
        book.close()

    old, new = _sheet_xml(old_path), _sheet_xml(new_path)
    assert set(old) == set(new) == {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/styles.xml"}
    for name in old:
        assert new[name] == old[name], name
    assert b"_x0001_" in new["xl/worksheets/sheet1.xml"]  # escaped as xlsxwriter escapes it
    assert b'<dimension ref="A1:J11"' in new["xl/worksheets/sheet1.xml"]


def test_cells_numbers_and_dates() -> None:
    book = xlsxwriter.Workbook("unused.xlsx", {"constant_memory": True, "in_memory": True})
    cells = Cells(book)
    cells.ws = book.add_worksheet()
    assert cells.cell(0, 0, 12, None) == '<c r="A1"><v>12</v></c>'
    assert cells.cell(9, 27, 0.5, None) == '<c r="AB10"><v>0.5</v></c>'
    assert cells.cell(0, 1, None, None) == ""
    # An aware time is shown as its local clock time, whatever other zone has the same instant.
    wib = datetime(2026, 11, 26, 7, 0, tzinfo=timezone(timedelta(hours=7)))
    wita = wib.astimezone(WITA)
    assert wib == wita and cells.cell(0, 0, wib, None) != cells.cell(0, 0, wita, None)
    assert cells.cell(0, 0, date(2026, 11, 26), None) == '<c r="A1"><v>46352</v></c>'
