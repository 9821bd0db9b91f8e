"""The empty-but-explained workbook (or CSV folder) administrators fill in: one sheet per table, a header
row, the example program (Kelurahan Bejalen) as rows, and a bilingual instructions sheet."""

from __future__ import annotations

import csv
from datetime import date, time
from pathlib import Path
from typing import Any

from kotaku.importer.messages import normalize_lang
from kotaku.importer.spec import EXAMPLE, INSTRUCTIONS_SHEET, SHEET_ORDER, SHEETS

GENERAL = [
    (
        "Satu lembar per tabel. Baris 1 adalah judul kolom; jangan diubah. Kolom bertanda * wajib diisi.",
        "One sheet per table. Row 1 holds the column headers; keep them. Columns marked * are required.",
    ),
    (
        "Baris contoh (Kelurahan Bejalen, Ambarawa, Kabupaten Semarang) boleh diimpor untuk mencoba, "
        "lalu diganti dengan data program Anda.",
        "The example rows (Kelurahan Bejalen, Ambarawa, Kabupaten Semarang) can be imported to try it, "
        "then replaced with your program's data.",
    ),
    (
        "Impor bersifat semua-atau-tidak-sama-sekali: satu kesalahan saja membuat tidak ada yang disimpan; "
        "semua kesalahan dilaporkan dengan lembar, baris dan kolomnya.",
        "The import is all-or-nothing: any error means nothing is saved; every error is reported with "
        "its sheet, row and column.",
    ),
    (
        "Mengimpor berkas yang sama lagi tidak mengubah apa pun: data dicocokkan dengan kode "
        "(pekerja: KSM + NIK).",
        "Importing the same file again changes nothing: rows are matched by code (workers: KSM + NIK).",
    ),
    (
        "Tanggal: sel tanggal Excel, atau teks 2021-09-01, 01-09-2021, 01/09/2021.",
        "Dates: Excel date cells, or text 2021-09-01, 01-09-2021, 01/09/2021.",
    ),
    (
        "Format kolom kode, NIK dan telepon sebagai Teks agar angka nol di depan dan digit akhir NIK "
        "tidak hilang.",
        "Format code, NIK and phone columns as Text so leading zeros and the NIK's last digits are kept.",
    ),
    (
        "Kegiatan tanpa baris di lembar rencana memakai kurva-S bawaan dari tanggal mulai sampai selesai.",
        "Activities with no rows in the rencana sheet use the default S-curve from start to end date.",
    ),
    (
        "NIK disimpan terenkripsi dan tidak pernah ditampilkan utuh.",
        "NIKs are stored encrypted and never shown in full.",
    ),
]

CHOICES = {
    "tingkat": "provinsi,kabkota,kecamatan,kelurahan",
    "indikator": "bangunan gedung,jalan lingkungan,penyediaan air minum,drainase lingkungan,"
    "pengelolaan air limbah,pengelolaan persampahan,proteksi kebakaran",
    "peran": "worker,ketua_ksm,bkm,fasilitator,askot,korkot,provinsi,nasional,admin",
    "jenis_kelamin": "L,P",
    "keahlian": "pekerja,tukang,mandor",
    "punya_daftar_pekerja": "ya,tidak",
    "phk": "ya,tidak",
    "bahasa": "id,en",
}
TEXT_COLUMNS = {
    "kode",
    "kode_induk",
    "kode_kelurahan",
    "kode_bkm",
    "kode_ksm",
    "kode_kegiatan",
    "nik",
    "telepon",
}


def write_template(path: Path, lang: str = "id", *, overwrite: bool = False) -> Path:
    """Write the template to `path`: an .xlsx workbook, or a folder of CSV files for any other name."""
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        if path.exists() and not overwrite:
            raise FileExistsError(str(path))
        _write_xlsx(path, normalize_lang(lang))
    else:
        if path.exists() and not path.is_dir():
            raise FileExistsError(str(path))
        if not overwrite and any((path / f"{name}.csv").exists() for name in SHEET_ORDER):
            raise FileExistsError(str(path))
        _write_csv(path, normalize_lang(lang))
    return path


def instruction_rows(lang: str = "id") -> list[list[Any]]:
    first, second = (0, 1) if lang == "id" else (1, 0)
    rows: list[list[Any]] = [["Petunjuk / Instructions"], []]
    for pair in GENERAL:
        rows.append([pair[first], pair[second]])
    rows.append([])
    heads = (
        ("lembar / sheet", "kolom / column", "wajib / required", "jenis / type")
        + (("keterangan", "description") if lang == "id" else ("description", "keterangan"))
        + ("contoh / example",)
    )
    rows.append(list(heads))
    for sheet in SHEET_ORDER:
        for i, col in enumerate(SHEETS[sheet]):
            example = EXAMPLE[sheet][0][i] if EXAMPLE[sheet] else None
            descs = (col.id, col.en) if lang == "id" else (col.en, col.id)
            rows.append(
                [sheet, col.name, "ya / yes" if col.required else "", col.kind, *descs, _plain(example)]
            )
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, date | time):
        return value.isoformat(timespec="minutes") if isinstance(value, time) else value.isoformat()
    return value


def _write_xlsx(path: Path, lang: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    info = wb.active
    assert info is not None
    info.title = INSTRUCTIONS_SHEET
    for row in instruction_rows(lang):
        info.append(row)
    info["A1"].font = Font(bold=True, size=14)
    for letter, width in zip("ABCDEFG", (14, 22, 14, 22, 50, 50, 22), strict=True):
        info.column_dimensions[letter].width = width
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for sheet in SHEET_ORDER:
        ws = wb.create_sheet(sheet)
        columns = SHEETS[sheet]
        ws.append([c.name for c in columns])
        for row in EXAMPLE[sheet]:
            ws.append(list(row))
        ws.freeze_panes = "A2"
        last = max(len(EXAMPLE[sheet]) + 1, 500)
        for i, col in enumerate(columns, start=1):
            letter = get_column_letter(i)
            cell = ws.cell(row=1, column=i)
            cell.font, cell.fill = bold, fill
            ws.column_dimensions[letter].width = max(12, len(col.name) + 4)
            if col.name in TEXT_COLUMNS:
                for r in range(2, len(EXAMPLE[sheet]) + 2):
                    ws.cell(row=r, column=i).number_format = "@"
            if col.kind == "date":
                for r in range(2, len(EXAMPLE[sheet]) + 2):
                    ws.cell(row=r, column=i).number_format = "yyyy-mm-dd"
            if col.name in CHOICES:
                dv = DataValidation(type="list", formula1=f'"{CHOICES[col.name]}"', allow_blank=True)
                dv.showErrorMessage = False  # aliases such as "jalan" are accepted by the importer
                dv.add(f"{letter}2:{letter}{last}")
                ws.add_data_validation(dv)
    wb.save(path)


def _write_csv(folder: Path, lang: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for sheet in SHEET_ORDER:
        with (folder / f"{sheet}.csv").open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([c.name for c in SHEETS[sheet]])
            for row in EXAMPLE[sheet]:
                writer.writerow(["" if x is None else _plain(x) for x in row])
    with (folder / "petunjuk.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(instruction_rows(lang))
