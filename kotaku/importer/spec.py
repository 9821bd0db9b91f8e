"""The workbook layout: sheets, their columns (Indonesian headers), types, and the example program.

The same tables drive the reader (which headers exist and which are required), the template writer
and docs/import.md, so the three cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text, code, date, time, integer, number, percent, yesno, enum..., used in docs
    required: bool
    id: str  # Indonesian description
    en: str  # English description
    max_len: int | None = None


def _c(name: str, kind: str, required: bool, id_: str, en: str, max_len: int | None = None) -> Column:
    return Column(name, kind, required, id_, en, max_len)


SHEETS: dict[str, tuple[Column, ...]] = {
    "wilayah": (
        _c("kode", "code", True, "Kode Kemendagri wilayah", "Kemendagri region code", 20),
        _c("nama", "text", True, "Nama wilayah", "Region name", 120),
        _c(
            "tingkat",
            "provinsi|kabkota|kecamatan|kelurahan",
            True,
            "Tingkat wilayah",
            "Region level",
        ),
        _c(
            "kode_induk",
            "code",
            False,
            "Kode wilayah induk (kosong untuk provinsi)",
            "Parent region code (empty for a province)",
            20,
        ),
        _c(
            "zona_waktu",
            "time zone",
            False,
            "Zona waktu IANA; wajib untuk provinsi, lainnya mewarisi induk",
            "IANA time zone; required for a province, inherited below",
            40,
        ),
    ),
    "bkm": (
        _c("kode", "code", True, "Kode BKM/LKM", "BKM/LKM code", 40),
        _c("nama", "text", True, "Nama BKM/LKM", "BKM/LKM name", 160),
        _c("kode_kelurahan", "code", True, "Kode kelurahan/desa BKM", "Code of the BKM's kelurahan", 20),
    ),
    "ksm": (
        _c("kode", "code", True, "Kode KSM", "KSM code", 40),
        _c("nama", "text", True, "Nama KSM", "KSM name", 160),
        _c("kode_bkm", "code", True, "Kode BKM yang membawahi", "Code of the overseeing BKM", 40),
        _c(
            "punya_daftar_pekerja",
            "yesno",
            False,
            "ya = absensi per nama pekerja; tidak = hanya jumlah (bawaan: ya)",
            "yes = attendance by worker name; no = head counts only (default: yes)",
        ),
        _c("lintang", "number", False, "Lintang lokasi (-90..90)", "Site latitude (-90..90)"),
        _c("bujur", "number", False, "Bujur lokasi (-180..180)", "Site longitude (-180..180)"),
        _c(
            "jam_pengingat",
            "time",
            False,
            "Jam pengingat laporan harian (waktu setempat), mis. 15:00",
            "Local time of the daily report reminder, e.g. 15:00",
        ),
    ),
    "kegiatan": (
        _c("kode", "code", True, "Kode kegiatan", "Activity code", 40),
        _c("kode_ksm", "code", True, "Kode KSM pelaksana", "Code of the KSM doing the work", 40),
        _c("nama", "text", True, "Nama kegiatan", "Activity name", 200),
        _c(
            "indikator",
            "indicator",
            True,
            "Salah satu dari 7 indikator kumuh",
            "One of the 7 slum indicators",
        ),
        _c("satuan", "text", True, "Satuan volume (m, m2, unit, ...)", "Volume unit (m, m2, unit, ...)", 20),
        _c("volume_target", "number", True, "Volume target (> 0)", "Target volume (> 0)"),
        _c("anggaran", "integer", True, "Anggaran (rupiah)", "Budget (rupiah)"),
        _c(
            "anggaran_upah",
            "integer",
            True,
            "Bagian anggaran untuk upah (rupiah, <= anggaran)",
            "Wage part of the budget (rupiah, <= budget)",
        ),
        _c("tanggal_mulai", "date", True, "Tanggal mulai", "Start date"),
        _c("tanggal_selesai", "date", True, "Tanggal selesai (>= mulai)", "End date (>= start)"),
        _c("lintang", "number", False, "Lintang lokasi kegiatan", "Activity latitude"),
        _c("bujur", "number", False, "Bujur lokasi kegiatan", "Activity longitude"),
        _c("keterangan", "text", False, "Keterangan", "Description", 2000),
    ),
    "rencana": (
        _c("kode_kegiatan", "code", True, "Kode kegiatan", "Activity code", 40),
        _c("tanggal", "date", True, "Tanggal titik rencana", "Date of the plan point"),
        _c(
            "persen_rencana",
            "percent",
            True,
            "Progres kumulatif rencana pada tanggal itu (0..100)",
            "Planned cumulative progress on that date (0..100)",
        ),
    ),
    "orang": (
        _c("kode", "code", True, "Kode orang", "Person code", 40),
        _c("nama", "text", True, "Nama", "Name", 160),
        _c("peran", "role", True, "Peran", "Role"),
        _c(
            "cakupan",
            "scope",
            True,
            "ksm:KODE, bkm:KODE, kode wilayah, atau nasional",
            "ksm:CODE, bkm:CODE, a region code, or nasional",
        ),
        _c("telepon", "phone", False, "Nomor HP (disimpan +62...)", "Mobile number (stored as +62...)"),
        _c("bahasa", "id|en", False, "Bahasa chat (bawaan id)", "Chat language (default id)"),
    ),
    "pekerja": (
        _c("kode_ksm", "code", True, "Kode KSM", "KSM code", 40),
        _c("nama", "text", True, "Nama pekerja", "Worker name", 160),
        _c("jenis_kelamin", "L|P", True, "L = laki-laki, P = perempuan", "L = male, P = female"),
        _c("keahlian", "pekerja|tukang|mandor", True, "Keahlian", "Skill"),
        _c(
            "nik",
            "NIK",
            True,
            "NIK KTP, 16 angka (disimpan terenkripsi)",
            "KTP NIK, 16 digits (stored encrypted)",
        ),
        _c("upah_harian", "integer", True, "Upah harian (rupiah)", "Daily wage (rupiah)"),
        _c("telepon", "phone", False, "Nomor HP", "Mobile number"),
        _c("phk", "yesno", False, "Korban PHK? ya/tidak", "Lost their job (PHK)? yes/no"),
        _c("kode", "code", False, "Kode pekerja (opsional)", "Worker code (optional)", 40),
    ),
}

SHEET_ORDER = tuple(SHEETS)
INSTRUCTIONS_SHEET = "Petunjuk - Instructions"


def normalize_header(value: Any) -> str:
    """`Kode Induk `, `KODE-INDUK`, `kode_induk*` all read as `kode_induk`."""
    text = str(value if value is not None else "").strip().lower().rstrip("*").strip()
    return re.sub(r"[\s\-]+", "_", text)


# The example program: Kelurahan Bejalen, Kecamatan Ambarawa, Kabupaten Semarang (Jawa Tengah).
# Region codes follow the Kemendagri pattern; treat them as illustrative.
EXAMPLE: dict[str, list[list[Any]]] = {
    "wilayah": [
        ["33", "Jawa Tengah", "provinsi", None, "Asia/Jakarta"],
        ["33.22", "Kabupaten Semarang", "kabkota", "33", None],
        ["33.22.10", "Ambarawa", "kecamatan", "33.22", None],
        ["33.22.10.1006", "Bejalen", "kelurahan", "33.22.10", None],
    ],
    "bkm": [["BKM-BJL", "BKM Bejalen Sejahtera", "33.22.10.1006"]],
    "ksm": [
        ["KSM-BJL-01", "KSM Rawa Pening Maju", "BKM-BJL", "ya", -7.2655, 110.4132, "15:00"],
        ["KSM-BJL-02", "KSM Guyub Rukun", "BKM-BJL", "tidak", -7.2671, 110.4105, None],
    ],
    "kegiatan": [
        [
            "KEG-BJL-01",
            "KSM-BJL-01",
            "Paving jalan lingkungan RT 03 RW 02",
            "jalan lingkungan",
            "m",
            163,
            150_000_000,
            105_000_000,
            date(2021, 9, 1),
            date(2021, 10, 30),
            -7.2651,
            110.4128,
            "Padat Karya Tunai 2021",
        ],
        [
            "KEG-BJL-02",
            "KSM-BJL-02",
            "Saluran drainase RW 04",
            "drainase lingkungan",
            "m",
            136,
            110_000_000,
            77_000_000,
            date(2021, 9, 6),
            date(2021, 11, 5),
            None,
            None,
            None,
        ],
        [
            "KEG-BJL-03",
            "KSM-BJL-02",
            "MCK komunal",
            "pengelolaan air limbah",
            "unit",
            4,
            40_000_000,
            20_000_000,
            date(2021, 9, 6),
            date(2021, 11, 5),
            None,
            None,
            None,
        ],
    ],
    "rencana": [
        ["KEG-BJL-01", date(2021, 9, 1), 0],
        ["KEG-BJL-01", date(2021, 9, 15), 15],
        ["KEG-BJL-01", date(2021, 9, 30), 45],
        ["KEG-BJL-01", date(2021, 10, 15), 80],
        ["KEG-BJL-01", date(2021, 10, 30), 100],
    ],
    "orang": [
        ["P-BJL-01", "Sutrisno", "ketua_ksm", "ksm:KSM-BJL-01", "0812-2600-1001", "id"],
        ["P-BJL-02", "Siti Aminah", "bkm", "bkm:BKM-BJL", "0812-2600-1002", "id"],
        ["P-BJL-03", "Budi Santoso", "fasilitator", "33.22.10.1006", "0813-2600-1003", "id"],
        ["P-SMG-01", "Dewi Lestari", "askot", "33.22", "0857-2600-1004", "en"],
    ],
    "pekerja": [
        [
            "KSM-BJL-01",
            "Slamet Riyadi",
            "L",
            "mandor",
            "3322101203800001",
            125_000,
            "0812-2600-2001",
            "tidak",
            None,
        ],
        ["KSM-BJL-01", "Joko Susilo", "L", "tukang", "3322102507850002", 110_000, None, "ya", None],
        ["KSM-BJL-01", "Sri Wahyuni", "P", "pekerja", "3322105508900003", 85_000, None, "ya", None],
        ["KSM-BJL-01", "Agus Prasetyo", "L", "pekerja", "3322100101950004", 85_000, None, "ya", None],
    ],
}
