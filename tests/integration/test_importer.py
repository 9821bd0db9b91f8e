"""`kotaku import`: template round trip, every kind of bad input (all-or-nothing), CSV folders, the CLI."""

from __future__ import annotations

import copy
import csv
import json
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.importer import (
    SHEETS,
    ImportFailed,
    ImportIssue,
    SourceUnreadable,
    import_program,
    write_template,
)
from kotaku.importer.spec import EXAMPLE
from kotaku.models import Activity, Bkm, Ksm, Person, PlanPoint, Region, Worker
from kotaku.security import NikVault, generate_key, mask_nik

TABLES = (Region, Bkm, Ksm, Activity, PlanPoint, Person, Worker)
FIRST_NIK = EXAMPLE["pekerja"][0][4]

Book = dict[str, list[list[Any]]]


def example_book() -> Book:
    """The example program as {sheet: [header, row, ...]}; row index i is spreadsheet row i + 1."""
    return {name: [[c.name for c in cols], *copy.deepcopy(EXAMPLE[name])] for name, cols in SHEETS.items()}


def empty_book() -> Book:
    return {name: [[c.name for c in cols]] for name, cols in SHEETS.items()}


def put(book: Book, sheet: str, row: int, column: str, value: Any) -> None:
    """Set a cell by spreadsheet row number (2 = first data row) and column name."""
    book[sheet][row - 1][book[sheet][0].index(column)] = value


def write_xlsx(path: Path, book: Book) -> Path:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in book.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


async def run(db: Database, path: Path, settings: Settings, vault: NikVault, lang: str = "id") -> Any:
    return await import_program(db, path, vault=vault, settings=settings, lang=lang)


async def fails(
    db: Database, path: Path, settings: Settings, vault: NikVault, lang: str = "id"
) -> list[ImportIssue]:
    with pytest.raises(ImportFailed) as info:
        await run(db, path, settings, vault, lang)
    await assert_empty(db)
    return info.value.errors


def find(errors: list[ImportIssue], sheet: str | None, row: int | None, column: str | None, key: str) -> str:
    for e in errors:
        if (e.sheet, e.row, e.column, e.key) == (sheet, row, column, key):
            return e.message
    raise AssertionError(f"no {key} at {sheet}/{row}/{column} in {errors}")


async def counts(db: Database) -> dict[str, int]:
    async with db.session() as s:
        return {
            m.__tablename__: (await s.execute(select(func.count()).select_from(m))).scalar_one()
            for m in TABLES
        }


async def assert_empty(db: Database) -> None:
    assert set((await counts(db)).values()) == {0}


# --- round trips ---------------------------------------------------------------------------------------


async def test_template_round_trip(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    path = write_template(tmp_path / "program.xlsx")
    first = await run(db, path, settings, vault)
    assert {k: c.created for k, c in first.sheets.items()} == {
        "wilayah": 4,
        "bkm": 1,
        "ksm": 2,
        "kegiatan": 3,
        "rencana": 5,
        "orang": 4,
        "pekerja": 4,
    }
    async with db.session() as s:
        bejalen = (await s.execute(select(Region).where(Region.code == "33.22.10.1006"))).scalar_one()
        assert bejalen.path == "33/33.22/33.22.10/33.22.10.1006"
        assert bejalen.timezone == "Asia/Jakarta"
        assert bejalen.level == "kelurahan"
        road = (await s.execute(select(Activity).where(Activity.code == "KEG-BJL-01"))).scalar_one()
        assert road.indicator == "jalan_lingkungan" and road.start_date == date(2021, 9, 1)
        assert road.budget == 150_000_000 and road.wage_budget == 105_000_000
        n_points = select(func.count()).select_from(PlanPoint)
        assert (await s.execute(n_points.where(PlanPoint.activity_id == road.id))).scalar_one() == 5
        drain = (await s.execute(select(Activity).where(Activity.code == "KEG-BJL-02"))).scalar_one()
        assert (await s.execute(n_points.where(PlanPoint.activity_id == drain.id))).scalar_one() == 0
        ksm2 = (await s.execute(select(Ksm).where(Ksm.code == "KSM-BJL-02"))).scalar_one()
        assert ksm2.keeps_roster is False
        askot = (await s.execute(select(Person).where(Person.code == "P-SMG-01"))).scalar_one()
        assert askot.phone == "+6285726001004" and askot.language == "en" and askot.scope_region_id
    before = await counts(db)

    again = await run(db, path, settings, vault)
    assert not again.changed
    assert all(c.created == c.updated == c.deleted == 0 for c in again.sheets.values())
    assert again.sheets["pekerja"].unchanged == 4
    assert await counts(db) == before


async def test_csv_folder_import(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    folder = write_template(tmp_path / "program")
    assert (folder / "wilayah.csv").is_file() and (folder / "petunjuk.csv").is_file()
    # Excel in an Indonesian locale saves CSV with ";" and dd/mm/yyyy dates.
    rows = list(csv.reader((folder / "kegiatan.csv").open(encoding="utf-8")))
    for row in rows[1:]:
        for i in (8, 9):
            row[i] = date.fromisoformat(row[i]).strftime("%d/%m/%Y")
    with (folder / "kegiatan.csv").open("w", newline="", encoding="utf-8-sig") as fh:
        csv.writer(fh, delimiter=";").writerows(rows)
    report = await run(db, folder, settings, vault)
    assert report.kind == "csv" and report.sheets["kegiatan"].created == 3
    async with db.session() as s:
        road = (await s.execute(select(Activity).where(Activity.code == "KEG-BJL-01"))).scalar_one()
        assert road.end_date == date(2021, 10, 30)
    # The xlsx template holds the same data: importing it changes nothing.
    again = await run(db, write_template(tmp_path / "program.xlsx"), settings, vault)
    assert not again.changed


async def test_reimport_with_changes(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    await run(db, write_xlsx(tmp_path / "a.xlsx", example_book()), settings, vault)
    book = example_book()
    put(book, "ksm", 2, "nama", "KSM Rawa Pening Jaya")
    put(book, "rencana", 3, "persen_rencana", 20)
    del book["rencana"][5]  # the 100% point on 2021-10-30 goes
    put(book, "pekerja", 5, "upah_harian", 90_000)
    report = await run(db, write_xlsx(tmp_path / "b.xlsx", book), settings, vault)
    assert report.sheets["ksm"].updated == 1 and report.sheets["ksm"].unchanged == 1
    rencana = report.sheets["rencana"]
    assert (rencana.updated, rencana.unchanged, rencana.deleted) == (1, 3, 1)
    assert report.sheets["pekerja"].updated == 1 and report.sheets["pekerja"].created == 0
    assert (await counts(db))["worker"] == 4


async def test_parents_from_the_database(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    await run(db, write_xlsx(tmp_path / "a.xlsx", example_book()), settings, vault)
    book = empty_book()
    book["ksm"].append(["KSM-BJL-03", "KSM Baru", "BKM-BJL", "ya", None, None, None])
    book["kegiatan"].append(
        ["KEG-BJL-04", "KSM-BJL-03", "Sumur bor", "air minum", "unit", 1, 50_000_000, 25_000_000,
         "01-10-2021", "2021/11/30", None, None, None]
    )  # fmt: skip
    book["rencana"].append(["KEG-BJL-01", date(2021, 10, 1), 60])  # activity from the DB
    book["wilayah"].append(["33.22.10.1007", "Tambakboyo", "desa", "33.22.10", None])
    book["orang"].append(["P-NEW", "Rina", "Ketua KSM", "KSM-BJL-03", None, None])
    book["pekerja"].append(
        ["KSM-BJL-03", "Wati", "Perempuan", "Pekerja", "3322104406920005", "85.000", None, None]
    )
    report = await run(db, write_xlsx(tmp_path / "b.xlsx", book), settings, vault)
    assert report.sheets["kegiatan"].created == 1 and report.sheets["rencana"].created == 1
    async with db.session() as s:
        desa = (await s.execute(select(Region).where(Region.code == "33.22.10.1007"))).scalar_one()
        assert desa.path == "33/33.22/33.22.10/33.22.10.1007" and desa.timezone == "Asia/Jakarta"
        well = (await s.execute(select(Activity).where(Activity.code == "KEG-BJL-04"))).scalar_one()
        assert (well.indicator, well.start_date, well.end_date) == (
            "air_minum",
            date(2021, 10, 1),
            date(2021, 11, 30),
        )
        wati = (await s.execute(select(Worker).where(Worker.name == "Wati"))).scalar_one()
        assert (wati.gender, wati.skill, wati.daily_rate, wati.is_phk) == ("P", "pekerja", 85_000, None)


# --- bad input: one test per kind, nothing written --------------------------------------------------


async def test_missing_sheet(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    del book["pekerja"]
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "pekerja" in find(errors, "pekerja", None, None, "missing_sheet")


async def test_wrong_and_missing_headers(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    book = example_book()
    book["ksm"][0][1] = "nama ksm"  # unknown header, and so "nama" is missing
    book["kegiatan"][0].append("kode")  # duplicate header
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "nama_ksm" in find(errors, "ksm", 1, "nama_ksm", "unknown_column")
    find(errors, "ksm", 1, "nama", "missing_column")
    find(errors, "kegiatan", 1, "kode", "duplicate_column")


async def test_duplicate_codes(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "ksm", 3, "kode", "KSM-BJL-01")
    book["pekerja"].append(copy.deepcopy(book["pekerja"][1]))  # same KSM and NIK as row 2
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "baris 2" in find(errors, "ksm", 3, "kode", "duplicate_code")
    message = find(errors, "pekerja", 6, "nik", "duplicate_worker")
    assert mask_nik(FIRST_NIK) in message and FIRST_NIK not in message


async def test_unknown_parents(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "wilayah", 3, "kode_induk", "34")
    put(book, "bkm", 2, "kode_kelurahan", "33.22.10")
    put(book, "ksm", 3, "kode_bkm", "BKM-XXX")
    put(book, "kegiatan", 4, "kode_ksm", "KSM-XXX")
    put(book, "rencana", 2, "kode_kegiatan", "KEG-XXX")
    put(book, "orang", 2, "cakupan", "ksm:KSM-XXX")
    put(book, "pekerja", 3, "kode_ksm", "KSM-XXX")
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "'34'" in find(errors, "wilayah", 3, "kode_induk", "unknown_region")
    assert "kecamatan" in find(errors, "bkm", 2, "kode_kelurahan", "not_kelurahan")
    assert "BKM-XXX" in find(errors, "ksm", 3, "kode_bkm", "unknown_bkm")
    find(errors, "kegiatan", 4, "kode_ksm", "unknown_ksm")
    find(errors, "rencana", 2, "kode_kegiatan", "unknown_activity")
    find(errors, "orang", 2, "cakupan", "unknown_ksm")
    find(errors, "pekerja", 3, "kode_ksm", "unknown_ksm")


async def test_region_hierarchy_errors(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    book = example_book()
    put(book, "wilayah", 2, "zona_waktu", None)  # province without a time zone
    put(book, "wilayah", 4, "kode_induk", "33")  # kecamatan under a province
    book["wilayah"].append(["99.01", "Loop A", "kabkota", "99.02", None])
    book["wilayah"].append(["99.02", "Loop B", "kabkota", "99.01", None])
    book["wilayah"].append(["35", "Jawa Timur", "provinsi", "33", "Asia/Jakarta"])
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    find(errors, "wilayah", 2, "zona_waktu", "timezone_required")
    assert "provinsi" in find(errors, "wilayah", 4, "kode_induk", "wrong_parent_level")
    assert any(e.key == "region_cycle" and e.row in (6, 7) for e in errors)
    find(errors, "wilayah", 8, "kode_induk", "province_with_parent")


async def test_bad_dates(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "kegiatan", 2, "tanggal_mulai", "31-02-2021")
    put(book, "kegiatan", 3, "tanggal_selesai", "besok")
    put(book, "kegiatan", 4, "tanggal_mulai", datetime(2021, 9, 6, 0, 0))  # a real Excel date: fine
    put(book, "kegiatan", 4, "tanggal_selesai", "05/11/2021")  # dd/mm/yyyy: fine
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "31-02-2021" in find(errors, "kegiatan", 2, "tanggal_mulai", "bad_date")
    find(errors, "kegiatan", 3, "tanggal_selesai", "bad_date")
    assert not [e for e in errors if e.row == 4]


async def test_end_before_start(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "kegiatan", 3, "tanggal_selesai", date(2021, 8, 31))
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    message = find(errors, "kegiatan", 3, "tanggal_selesai", "end_before_start")
    assert "2021-08-31" in message and "2021-09-06" in message


async def test_plan_points(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "rencana", 4, "persen_rencana", 10)  # 2021-09-30: 10 after 15 on 09-15
    put(book, "rencana", 5, "tanggal", date(2021, 11, 15))  # after the end date
    book["rencana"].append(["KEG-BJL-02", "2021-09-10", 101])
    book["rencana"].append(["KEG-BJL-02", "2021-09-20", -5])
    book["rencana"].append(["KEG-BJL-01", "2021-09-15", 16])  # date already given
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    message = find(errors, "rencana", 4, "persen_rencana", "plan_decreasing")
    assert "15" in message and "2021-09-15" in message
    assert "2021-10-30" in find(errors, "rencana", 5, "tanggal", "plan_outside")
    assert "101" in find(errors, "rencana", 7, "persen_rencana", "percent_range")
    find(errors, "rencana", 8, "persen_rencana", "percent_range")
    find(errors, "rencana", 9, "tanggal", "duplicate_plan_date")


async def test_wage_budget_over_budget(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    book = example_book()
    put(book, "kegiatan", 2, "anggaran_upah", "Rp160.000.000")
    put(book, "kegiatan", 3, "volume_target", 0)
    put(book, "kegiatan", 4, "anggaran", "empat puluh juta")
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "160.000.000" in find(errors, "kegiatan", 2, "anggaran_upah", "wage_over_budget")
    find(errors, "kegiatan", 3, "volume_target", "not_positive")
    find(errors, "kegiatan", 4, "anggaran", "bad_integer")


async def test_bad_nik_is_masked(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    bad_date = "3322109913800001"  # day 99
    put(book, "pekerja", 2, "nik", bad_date)
    put(book, "pekerja", 3, "nik", "33221012038")
    put(book, "pekerja", 4, "nik", None)
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    message = find(errors, "pekerja", 2, "nik", "bad_nik")
    assert "tanggal lahir" in message and mask_nik(bad_date) in message and bad_date not in message
    assert "16 angka" in find(errors, "pekerja", 3, "nik", "bad_nik")
    find(errors, "pekerja", 4, "nik", "required")
    assert not any(bad_date in e.message or "33221012038" in e.message for e in errors)


async def test_bad_phone(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "orang", 3, "telepon", "12345")
    put(book, "pekerja", 2, "telepon", "telepon saya")
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "12345" in find(errors, "orang", 3, "telepon", "bad_phone")
    find(errors, "pekerja", 2, "telepon", "bad_phone")


async def test_unknown_time_zone(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "wilayah", 2, "zona_waktu", "Asia/Bandung")
    put(book, "wilayah", 3, "zona_waktu", "../../etc/passwd")
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "Asia/Bandung" in find(errors, "wilayah", 2, "zona_waktu", "bad_timezone")
    find(errors, "wilayah", 3, "zona_waktu", "bad_timezone")


async def test_unknown_vocabulary(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "wilayah", 3, "tingkat", "negara bagian")
    put(book, "kegiatan", 2, "indikator", "jembatan")
    put(book, "orang", 2, "peran", "bupati")
    put(book, "pekerja", 2, "jenis_kelamin", "X")
    put(book, "pekerja", 3, "keahlian", "arsitek")
    put(book, "ksm", 2, "punya_daftar_pekerja", "mungkin")
    put(book, "orang", 3, "bahasa", "jawa")
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    find(errors, "wilayah", 3, "tingkat", "bad_level")
    assert "jalan lingkungan" in find(errors, "kegiatan", 2, "indikator", "bad_indicator")
    assert "ketua_ksm" in find(errors, "orang", 2, "peran", "bad_role")
    find(errors, "pekerja", 2, "jenis_kelamin", "bad_gender")
    find(errors, "pekerja", 3, "keahlian", "bad_skill")
    find(errors, "ksm", 2, "punya_daftar_pekerja", "bad_bool")
    find(errors, "orang", 3, "bahasa", "bad_language")


async def test_scope_not_fitting_role(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    book = example_book()
    put(book, "orang", 2, "cakupan", "33.22")  # ketua_ksm scoped to a kabupaten
    put(book, "orang", 3, "cakupan", "nasional")  # bkm with national scope
    put(book, "orang", 5, "peran", "nasional")  # nasional scoped to a kabupaten
    book["orang"].append(["P-X", "X", "askot", "wilayah:", None, None])
    book["orang"].append(["P-Y", "Y", "askot", "ZZ-404", None, None])
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    message = find(errors, "orang", 2, "cakupan", "scope_role_mismatch")
    assert "ketua_ksm" in message and "kabkota" in message
    find(errors, "orang", 3, "cakupan", "scope_role_mismatch")
    find(errors, "orang", 5, "cakupan", "scope_role_mismatch")
    find(errors, "orang", 6, "cakupan", "bad_scope")
    find(errors, "orang", 7, "cakupan", "unknown_scope")


async def test_required_cells_and_coordinates(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    book = example_book()
    put(book, "bkm", 2, "nama", "   ")
    put(book, "ksm", 2, "bujur", None)  # latitude without longitude
    put(book, "kegiatan", 2, "lintang", 91)
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert find(errors, "bkm", 2, "nama", "required") == "Wajib diisi."
    find(errors, "ksm", 2, "bujur", "coordinate_pair")
    find(errors, "kegiatan", 2, "lintang", "latitude_range")


async def test_english_messages(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    book = example_book()
    put(book, "kegiatan", 2, "anggaran_upah", 200_000_000)
    put(book, "pekerja", 3, "nik", "12")
    del book["orang"]
    path = write_xlsx(tmp_path / "x.xlsx", book)
    errors = await fails(db, path, settings, vault, lang="en")
    assert "Sheet 'orang' is missing" in find(errors, "orang", None, None, "missing_sheet")
    book["orang"] = example_book()["orang"]
    errors = await fails(db, write_xlsx(path, book), settings, vault, lang="en")
    assert "is more than anggaran (budget)" in find(
        errors, "kegiatan", 2, "anggaran_upah", "wage_over_budget"
    )
    assert "16 digits" in find(errors, "pekerja", 3, "nik", "bad_nik")


# --- files that are not workbooks --------------------------------------------------------------------


async def test_not_a_workbook(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    fake = tmp_path / "program.xlsx"
    fake.write_text("kode,nama\n33,Jawa Tengah\n")
    with pytest.raises(SourceUnreadable) as info:
        await run(db, fake, settings, vault)
    assert info.value.exit_code == 2 and info.value.errors[0].key == "not_workbook"
    other_zip = tmp_path / "other.xlsx"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("hello.txt", "not a workbook")
    with pytest.raises(SourceUnreadable, match="1 import error"):
        await run(db, other_zip, settings, vault)
    with pytest.raises(SourceUnreadable) as info:
        await run(db, tmp_path / "missing.xlsx", settings, vault, lang="en")
    assert info.value.errors[0].message.startswith("File or folder not found")
    await assert_empty(db)


async def test_zip_bomb_and_oversized(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    settings.importer.max_bytes = 64 * 1024
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (4 * 1024 * 1024))
    assert bomb.stat().st_size < settings.importer.max_bytes
    with pytest.raises(SourceUnreadable) as info:
        await run(db, bomb, settings, vault)
    assert info.value.errors[0].key == "zip_bomb"

    big = tmp_path / "big.xlsx"
    big.write_bytes(b"PK" + b"x" * (settings.importer.max_bytes + 1))
    with pytest.raises(SourceUnreadable) as info:
        await run(db, big, settings, vault)
    assert info.value.errors[0].key == "too_big" and "importer.max_bytes" in info.value.errors[0].message
    await assert_empty(db)


async def test_too_many_rows(db: Database, settings: Settings, vault: NikVault, tmp_path: Path) -> None:
    settings.importer.max_rows = 10
    with pytest.raises(SourceUnreadable) as info:
        await run(db, write_template(tmp_path / "t.xlsx"), settings, vault)
    assert info.value.errors[0].key == "too_many_rows"
    with pytest.raises(SourceUnreadable):
        await run(db, write_template(tmp_path / "csv"), settings, vault)
    await assert_empty(db)


async def test_percent_formatted_cells_and_blank_rows(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    path = write_template(tmp_path / "t.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["rencana"]
    ws["C4"] = 0.45  # shown as 45% in Excel
    ws["C4"].number_format = "0%"
    ws.append([None, None, None])
    ws.append(["KEG-BJL-01", "2021-10-20", 90])  # after a blank row
    wb.save(path)
    await run(db, path, settings, vault)
    async with db.session() as s:
        points = (await s.execute(select(PlanPoint.plan_date, PlanPoint.planned_percent))).all()
    assert (date(2021, 9, 30), 45.0) in points and (date(2021, 10, 20), 90.0) in points


# --- NIK at rest -----------------------------------------------------------------------------------


async def test_nik_never_stored_in_plain_text(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    await run(db, write_template(tmp_path / "t.xlsx"), settings, vault)
    niks = {row[4] for row in EXAMPLE["pekerja"]}
    async with db.session() as s:
        rows = (await s.execute(text("SELECT * FROM worker"))).all()
        workers = (await s.execute(select(Worker))).scalars().all()
    dump = repr(rows)
    assert not any(n in dump for n in niks)
    assert {vault.decrypt(w.nik_encrypted) for w in workers if w.nik_encrypted} == niks
    assert {w.nik_hash for w in workers} == {vault.hash(n) for n in niks}


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from kotaku.cli import app

    monkeypatch.setenv("KOTAKU_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("KOTAKU_SECURITY__NIK_KEY", generate_key())
    monkeypatch.setenv("KOTAKU_APP__DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return runner


def kotaku(runner: CliRunner, *args: str) -> Any:
    from kotaku.cli import app

    return runner.invoke(app, list(args))


def test_cli_template_and_import(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "program.xlsx"
    result = kotaku(cli, "import", "--template", str(path))
    assert result.exit_code == 0 and path.is_file()
    assert kotaku(cli, "import", "--template", str(path)).exit_code == 2  # no silent overwrite
    assert kotaku(cli, "import", "--template", "--force", str(path)).exit_code == 0

    result = kotaku(cli, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "wilayah" in result.stdout and "Baru" in result.stdout
    assert FIRST_NIK not in result.output

    result = kotaku(cli, "import", str(path), "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["changed"] is False and doc["sheets"]["pekerja"]["unchanged"] == 4

    result = kotaku(cli, "import", str(path), "--lang", "en")
    assert "Unchanged" in result.stdout and "Nothing changed" in result.stdout

    folder = tmp_path / "csv"
    assert kotaku(cli, "import", "--template", str(folder)).exit_code == 0
    assert json.loads(kotaku(cli, "import", str(folder), "--json").stdout)["kind"] == "csv"


def test_cli_validation_errors(cli: CliRunner, tmp_path: Path) -> None:
    book = example_book()
    put(book, "pekerja", 2, "nik", "3322109913800001")
    book["pekerja"].append(copy.deepcopy(book["pekerja"][2]))
    put(book, "kegiatan", 2, "tanggal_selesai", "2021-08-01")
    path = write_xlsx(tmp_path / "bad.xlsx", book)

    result = kotaku(cli, "import", str(path))
    assert result.exit_code == 1
    assert "Tidak ada yang disimpan" in result.output and "kegiatan" in result.output
    assert "3322109913800001" not in result.output
    assert EXAMPLE["pekerja"][1][4] not in result.output

    result = kotaku(cli, "import", str(path), "--json", "--lang", "en")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1
    keys = {(e["sheet"], e["row"], e["column"], e["key"]) for e in doc["errors"]}
    assert ("pekerja", 2, "nik", "bad_nik") in keys and ("pekerja", 6, "nik", "duplicate_worker") in keys
    assert ("kegiatan", 2, "tanggal_selesai", "end_before_start") in keys
    assert "3322109913800001" not in result.output and EXAMPLE["pekerja"][1][4] not in result.output
    # nothing written
    counts_doc = json.loads(kotaku(cli, "import", "--template", str(tmp_path / "ok.xlsx"), "--json").stdout)
    assert counts_doc["ok"]
    first = json.loads(kotaku(cli, "import", str(tmp_path / "ok.xlsx"), "--json").stdout)
    assert first["sheets"]["wilayah"]["created"] == 4


def test_cli_unreadable_file(cli: CliRunner, tmp_path: Path) -> None:
    fake = tmp_path / "program.xlsx"
    fake.write_text("this is not a workbook")
    result = kotaku(cli, "import", str(fake))
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "Berkas ditolak" in result.output
    result = kotaku(cli, "import", str(fake), "--json", "--lang", "en")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"][0]["key"] == "not_workbook"
    assert kotaku(cli, "import", str(tmp_path / "nope.xlsx")).exit_code == 2


# --- values people typed: bounded, ASCII digits, a window of dates (issue 12) ------------------------


def test_cli_time_zone_too_long_for_the_file_system(cli: CliRunner, tmp_path: Path) -> None:
    """`Etc/GMT+` and 300 nines made ZoneInfo raise OSError (file name too long): a traceback."""
    book = example_book()
    put(book, "wilayah", 2, "zona_waktu", "Etc/GMT+" + "9" * 300)
    put(book, "wilayah", 3, "zona_waktu", "Asia")  # a folder of the zone database, not a zone
    path = write_xlsx(tmp_path / "zones.xlsx", book)
    result = kotaku(cli, "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    keys = {(e["sheet"], e["row"], e["column"], e["key"]) for e in json.loads(result.stdout)["errors"]}
    assert {
        ("wilayah", 2, "zona_waktu", "bad_timezone"),
        ("wilayah", 3, "zona_waktu", "bad_timezone"),
    } <= keys


async def test_values_out_of_range_or_in_other_digits(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path
) -> None:
    fullwidth = str.maketrans("0123456789", "０１２３４５６７８９")
    book = example_book()
    put(book, "kegiatan", 2, "tanggal_mulai", "5088-01-01")
    put(book, "kegiatan", 3, "tanggal_mulai", datetime(1990, 1, 1))
    put(book, "kegiatan", 4, "volume_target", "١٢٣")  # Arabic-Indic 123
    put(book, "kegiatan", 4, "anggaran", "9" * 400)
    put(book, "rencana", 2, "tanggal", "２０２１-０９-０１")
    put(book, "pekerja", 2, "nik", EXAMPLE["pekerja"][0][4].translate(fullwidth))
    errors = await fails(db, write_xlsx(tmp_path / "x.xlsx", book), settings, vault)
    assert "5088-01-01" in find(errors, "kegiatan", 2, "tanggal_mulai", "date_range")
    find(errors, "kegiatan", 3, "tanggal_mulai", "date_range")
    find(errors, "kegiatan", 4, "volume_target", "bad_number")
    find(errors, "kegiatan", 4, "anggaran", "bad_integer")
    find(errors, "rencana", 2, "tanggal", "bad_date")
    assert "16 angka" in find(errors, "pekerja", 2, "nik", "bad_nik")
    assert not [e for e in errors if e.sheet == "pekerja" and e.key == "duplicate_worker"]
