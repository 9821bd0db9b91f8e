"""The CSV export joins the repeated parts of its rows itself (`CsvFile.quoted`, `text_field`); what it
joins is what `csv.writer` writes for the whole row."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from kotaku.exports.csv import CsvFile, plain, text_field

TEXTS = ["cor tahap 1", "a,b", 'kata "kutip"', "baris\nbaru", "cr\rlf", " spasi ", "", "✓ é", "semi;colon"]


def _writer_row(values: list[object]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([plain(v) for v in values])
    return buf.getvalue()


@pytest.mark.parametrize("text", [*TEXTS, None])
def test_a_text_field_is_quoted_as_csv_writer_quotes_it(text: str | None) -> None:
    assert f"2026-11-26,{text_field(text)},7\n" == _writer_row([date(2026, 11, 26), text, 7])


def test_quoted_parts_join_into_the_writer_row(tmp_path: Path) -> None:
    f = CsvFile(tmp_path, "kendala")
    for text in TEXTS:
        head = [text, 12, None, date(2026, 11, 26), True, 0.5]
        tail = [text, "x"]
        assert f"{f.quoted(head)},{f.quoted(tail)}\n" == _writer_row([*head, *tail])
    f.close()
    # A row joined here and one written by `add` read back the same.
    g = CsvFile(tmp_path, "foto")
    tricky = 'a, "b"'
    g.add_lines([f"{g.quoted(list(range(15)))},{text_field(tricky)}\n"], 16)
    g.add([*range(15), tricky])
    g.close()
    rows = list(csv.reader((tmp_path / "foto.csv").open(encoding="utf-8")))
    assert rows[1] == rows[2] == [*map(str, range(15)), tricky] and g.rows == 2
    with pytest.raises(ValueError, match="15 values for 16 columns"):
        g.add_lines(["x\n"], 15)
