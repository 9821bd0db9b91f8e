"""The importer's own small message catalogue (Bahasa Indonesia first, English), rendered with str.format."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("id", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # --- the file as a whole (exit code 2) ---
    "file_not_found": {
        "id": "Berkas atau folder tidak ditemukan: {path}",
        "en": "File or folder not found: {path}",
    },
    "not_workbook": {
        "id": "Bukan buku kerja Excel (.xlsx) yang dapat dibaca: {path}. Simpan ulang sebagai "
        "'Excel Workbook (.xlsx)' atau berikan folder berisi berkas CSV.",
        "en": "Not a readable Excel workbook (.xlsx): {path}. Save it again as "
        "'Excel Workbook (.xlsx)' or give a folder of CSV files.",
    },
    "old_xls": {
        "id": "Format Excel lama (.xls) tidak didukung: {path}. Simpan ulang sebagai .xlsx.",
        "en": "The old Excel format (.xls) is not supported: {path}. Save it again as .xlsx.",
    },
    "single_csv": {
        "id": "Satu berkas CSV tidak cukup: berikan folder berisi satu CSV per lembar ({sheets}).",
        "en": "A single CSV file is not enough: give a folder with one CSV per sheet ({sheets}).",
    },
    "too_big": {
        "id": "Berkas terlalu besar: {size} byte, batas {limit} byte (importer.max_bytes).",
        "en": "File too big: {size} bytes, the limit is {limit} bytes (importer.max_bytes).",
    },
    "zip_bomb": {
        "id": "Isi buku kerja terlalu besar setelah dibuka ({size} byte, batas {limit} byte); berkas ditolak.",
        "en": "The workbook expands to too much data ({size} bytes, limit {limit} bytes); file refused.",
    },
    "too_many_rows": {
        "id": "Terlalu banyak baris: lebih dari {limit} (importer.max_rows).",
        "en": "Too many rows: more than {limit} (importer.max_rows).",
    },
    "csv_unreadable": {
        "id": "Berkas CSV tidak dapat dibaca: {reason}",
        "en": "The CSV file cannot be read: {reason}",
    },
    "target_exists": {
        "id": "Sudah ada: {path} (pakai --force untuk menimpa).",
        "en": "Already exists: {path} (use --force to overwrite).",
    },
    # --- structure (exit code 1) ---
    "missing_sheet": {
        "id": "Lembar '{sheet}' tidak ada (untuk folder CSV: berkas {sheet}.csv). Lembar boleh kosong, "
        "tetapi harus ada dengan baris judulnya.",
        "en": "Sheet '{sheet}' is missing (for a CSV folder: file {sheet}.csv). A sheet may be empty "
        "but must be present with its header row.",
    },
    "missing_column": {
        "id": "Kolom wajib '{column}' tidak ada di baris judul (baris 1).",
        "en": "Required column '{column}' is missing from the header row (row 1).",
    },
    "unknown_column": {
        "id": "Kolom '{header}' tidak dikenal. Kolom lembar ini: {known}.",
        "en": "Unknown column '{header}'. This sheet's columns: {known}.",
    },
    "duplicate_column": {
        "id": "Kolom '{column}' muncul lebih dari sekali di baris judul.",
        "en": "Column '{column}' appears more than once in the header row.",
    },
    # --- cells ---
    "required": {"id": "Wajib diisi.", "en": "Required."},
    "too_long": {
        "id": "Terlalu panjang: {length} karakter, paling banyak {max}.",
        "en": "Too long: {length} characters, at most {max}.",
    },
    "bad_text": {
        "id": "Harus teks, bukan '{value}'.",
        "en": "Must be text, not '{value}'.",
    },
    "bad_date": {
        "id": "Tanggal tidak dapat dibaca: '{value}'. Gunakan sel tanggal Excel, 2021-09-01, "
        "01-09-2021 atau 01/09/2021.",
        "en": "Cannot read the date '{value}'. Use an Excel date cell, 2021-09-01, 01-09-2021 or 01/09/2021.",
    },
    "date_range": {
        "id": "Tanggal di luar rentang yang masuk akal ({earliest} s.d. {latest}): '{value}'.",
        "en": "Date outside the sensible range ({earliest} to {latest}): '{value}'.",
    },
    "bad_time": {
        "id": "Jam tidak dapat dibaca: '{value}'. Gunakan JJ:MM, misalnya 15:00.",
        "en": "Cannot read the time '{value}'. Use HH:MM, e.g. 15:00.",
    },
    "bad_number": {"id": "Bukan angka: '{value}'.", "en": "Not a number: '{value}'."},
    "number_too_big": {"id": "Angka terlalu besar: '{value}'.", "en": "Number too large: '{value}'."},
    "bad_integer": {
        "id": "Harus bilangan bulat (rupiah tanpa desimal): '{value}'.",
        "en": "Must be a whole number (rupiah without decimals): '{value}'.",
    },
    "negative": {"id": "Tidak boleh negatif: {value}.", "en": "Must not be negative: {value}."},
    "not_positive": {"id": "Harus lebih dari 0: {value}.", "en": "Must be more than 0: {value}."},
    "percent_range": {
        "id": "Persen harus antara 0 dan 100, bukan {value}.",
        "en": "Percent must be between 0 and 100, not {value}.",
    },
    "latitude_range": {
        "id": "Lintang harus antara -90 dan 90, bukan {value}.",
        "en": "Latitude must be between -90 and 90, not {value}.",
    },
    "longitude_range": {
        "id": "Bujur harus antara -180 dan 180, bukan {value}.",
        "en": "Longitude must be between -180 and 180, not {value}.",
    },
    "coordinate_pair": {
        "id": "Isi lintang dan bujur keduanya, atau kosongkan keduanya.",
        "en": "Give both latitude and longitude, or leave both empty.",
    },
    "bad_bool": {
        "id": "Isi 'ya' atau 'tidak', bukan '{value}'.",
        "en": "Use 'ya' (yes) or 'tidak' (no), not '{value}'.",
    },
    "bad_level": {
        "id": "Tingkat wilayah tidak dikenal: '{value}'. Pilih: {choices}.",
        "en": "Unknown region level '{value}'. Choose: {choices}.",
    },
    "bad_indicator": {
        "id": "Indikator kumuh tidak dikenal: '{value}'. Pilih salah satu dari 7 indikator: {choices}.",
        "en": "Unknown slum indicator '{value}'. Choose one of the 7 indicators: {choices}.",
    },
    "bad_role": {
        "id": "Peran tidak dikenal: '{value}'. Pilih: {choices}.",
        "en": "Unknown role '{value}'. Choose: {choices}.",
    },
    "bad_gender": {
        "id": "Jenis kelamin tidak dikenal: '{value}'. Isi L (laki-laki) atau P (perempuan).",
        "en": "Unknown gender '{value}'. Use L (male) or P (female).",
    },
    "bad_skill": {
        "id": "Keahlian tidak dikenal: '{value}'. Pilih: {choices}.",
        "en": "Unknown skill '{value}'. Choose: {choices}.",
    },
    "bad_language": {
        "id": "Bahasa tidak dikenal: '{value}'. Isi id (Indonesia) atau en (Inggris).",
        "en": "Unknown language '{value}'. Use id (Indonesian) or en (English).",
    },
    "bad_timezone": {
        "id": "Zona waktu tidak dikenal: '{value}'. Gunakan Asia/Jakarta (WIB), Asia/Makassar (WITA) "
        "atau Asia/Jayapura (WIT).",
        "en": "Unknown time zone '{value}'. Use Asia/Jakarta (WIB), Asia/Makassar (WITA) "
        "or Asia/Jayapura (WIT).",
    },
    "bad_nik": {
        "id": "NIK tidak valid ({nik}): {reason}.",
        "en": "Invalid NIK ({nik}): {reason}.",
    },
    "nik_digits": {"id": "harus 16 angka", "en": "it must be 16 digits"},
    "nik_province": {"id": "kode provinsi tidak valid", "en": "the province part is not valid"},
    "nik_birthdate": {"id": "tanggal lahir di NIK tidak valid", "en": "the birth date part is not valid"},
    "nik_text": {
        "id": "tulis NIK sebagai teks, bukan angka (Excel membulatkan angka 16 digit)",
        "en": "write the NIK as text, not as a number (Excel rounds 16-digit numbers)",
    },
    "bad_phone": {
        "id": "Nomor telepon tidak valid: '{value}'. Contoh: 0812-3456-7890 atau +62 812 3456 7890.",
        "en": "Invalid phone number '{value}'. Example: 0812-3456-7890 or +62 812 3456 7890.",
    },
    "bad_scope": {
        "id": "Cakupan tidak dapat dibaca: '{value}'. Contoh: ksm:KSM-BJL-01, bkm:BKM-BJL, 33.22, nasional.",
        "en": "Cannot read the scope '{value}'. Examples: ksm:KSM-BJL-01, bkm:BKM-BJL, 33.22, nasional.",
    },
    "unknown_scope": {
        "id": "Cakupan '{value}' tidak ditemukan: bukan KSM, BKM atau wilayah di berkas maupun di basis data.",
        "en": "Scope '{value}' not found: no KSM, BKM or region with that code in the file or the database.",
    },
    # --- rows and references ---
    "duplicate_code": {
        "id": "Kode '{code}' sudah dipakai di baris {first_row}.",
        "en": "Code '{code}' is already used in row {first_row}.",
    },
    "duplicate_worker": {
        "id": "NIK {nik} sudah ada untuk KSM {ksm} di baris {first_row}.",
        "en": "NIK {nik} is already listed for KSM {ksm} in row {first_row}.",
    },
    "duplicate_plan_date": {
        "id": "Tanggal {date} untuk kegiatan {activity} sudah ada di baris {first_row}.",
        "en": "Date {date} for activity {activity} is already given in row {first_row}.",
    },
    "unknown_region": {
        "id": "Wilayah '{code}' tidak ada di lembar wilayah maupun di basis data.",
        "en": "Region '{code}' is neither in the wilayah sheet nor in the database.",
    },
    "unknown_bkm": {
        "id": "BKM '{code}' tidak ada di lembar bkm maupun di basis data.",
        "en": "BKM '{code}' is neither in the bkm sheet nor in the database.",
    },
    "unknown_ksm": {
        "id": "KSM '{code}' tidak ada di lembar ksm maupun di basis data.",
        "en": "KSM '{code}' is neither in the ksm sheet nor in the database.",
    },
    "unknown_activity": {
        "id": "Kegiatan '{code}' tidak ada di lembar kegiatan maupun di basis data.",
        "en": "Activity '{code}' is neither in the kegiatan sheet nor in the database.",
    },
    "province_with_parent": {
        "id": "Provinsi tidak berinduk: kosongkan kode_induk.",
        "en": "A province has no parent: leave kode_induk empty.",
    },
    "parent_required": {
        "id": "kode_induk wajib diisi untuk tingkat {level}.",
        "en": "kode_induk is required for level {level}.",
    },
    "wrong_parent_level": {
        "id": "Induk '{parent}' bertingkat {parent_level}; wilayah tingkat {level} harus berinduk {expected}.",
        "en": "Parent '{parent}' is a {parent_level}; a {level} must have a {expected} as parent.",
    },
    "region_cycle": {
        "id": "Rantai kode_induk berputar kembali ke '{code}'.",
        "en": "The kode_induk chain loops back to '{code}'.",
    },
    "region_moved": {
        "id": "Wilayah '{code}' sudah ada di basis data sebagai {old}; mengubah tingkat atau induk "
        "wilayah tidak didukung lewat impor.",
        "en": "Region '{code}' already exists in the database as {old}; changing a region's level or "
        "parent is not supported by the import.",
    },
    "path_too_long": {
        "id": "Jalur kode wilayah terlalu panjang ({length} karakter, paling banyak {max}).",
        "en": "The region code path is too long ({length} characters, at most {max}).",
    },
    "timezone_required": {
        "id": "zona_waktu wajib diisi untuk provinsi (mis. Asia/Jakarta); tingkat di bawahnya mewarisinya.",
        "en": "zona_waktu is required for a province (e.g. Asia/Jakarta); lower levels inherit it.",
    },
    "not_kelurahan": {
        "id": "Wilayah '{code}' bertingkat {level}, bukan kelurahan.",
        "en": "Region '{code}' is a {level}, not a kelurahan.",
    },
    "end_before_start": {
        "id": "tanggal_selesai {end} lebih awal dari tanggal_mulai {start}.",
        "en": "tanggal_selesai (end) {end} is before tanggal_mulai (start) {start}.",
    },
    "wage_over_budget": {
        "id": "anggaran_upah {wage} melebihi anggaran {budget}.",
        "en": "anggaran_upah (wage budget) {wage} is more than anggaran (budget) {budget}.",
    },
    "plan_decreasing": {
        "id": "persen_rencana {percent} lebih kecil dari {prev_percent} pada {prev_date} (baris {prev_row}); "
        "rencana kumulatif tidak boleh turun.",
        "en": "persen_rencana {percent} is lower than {prev_percent} on {prev_date} (row {prev_row}); "
        "the cumulative plan must not go down.",
    },
    "plan_outside": {
        "id": "Tanggal rencana {date} di luar masa kegiatan {activity} ({start} s.d. {end}).",
        "en": "Plan date {date} is outside activity {activity}'s dates ({start} to {end}).",
    },
    "scope_role_mismatch": {
        "id": "Peran {role} memerlukan cakupan {expected}, bukan {actual}.",
        "en": "Role {role} needs a scope of {expected}, not {actual}.",
    },
    # --- output ---
    "summary_title": {"id": "Impor selesai: {source}", "en": "Import finished: {source}"},
    "summary_nothing": {
        "id": "Tidak ada perubahan: data sudah sama dengan berkas.",
        "en": "Nothing changed: the data already matches the file.",
    },
    "errors_title": {
        "id": "Tidak ada yang disimpan: {count} kesalahan di {source}",
        "en": "Nothing was saved: {count} errors in {source}",
    },
    "refused": {"id": "Berkas ditolak", "en": "File refused"},
    "col_sheet": {"id": "Lembar", "en": "Sheet"},
    "col_row": {"id": "Baris", "en": "Row"},
    "col_column": {"id": "Kolom", "en": "Column"},
    "col_problem": {"id": "Masalah", "en": "Problem"},
    "col_created": {"id": "Baru", "en": "Created"},
    "col_updated": {"id": "Diubah", "en": "Updated"},
    "col_unchanged": {"id": "Tetap", "en": "Unchanged"},
    "col_deleted": {"id": "Dihapus", "en": "Deleted"},
    "template_written": {
        "id": "Templat ditulis: {path} (berisi baris contoh; hapus atau ganti sebelum impor).",
        "en": "Template written: {path} (it holds example rows; delete or replace them before importing).",
    },
    "reading": {"id": "Membaca {sheet}", "en": "Reading {sheet}"},
    "database_error": {
        "id": "Basis data menolak impor ({reason}); tidak ada yang disimpan. Periksa database.url dan "
        "jalankan `kotaku db upgrade`, lalu ulangi.",
        "en": "The database refused the import ({reason}); nothing was saved. Check database.url and "
        "run `kotaku db upgrade`, then try again.",
    },
    "config_error": {"id": "Konfigurasi salah: {reason}", "en": "Configuration error: {reason}"},
}


def normalize_lang(lang: str | None) -> str:
    lang = (lang or "id").strip().lower()[:2]
    return lang if lang in LANGUAGES else "id"


def msg(key: str, lang: str = "id", **params: Any) -> str:
    """The message `key` in `lang` (falling back to Indonesian), with `params` filled in."""
    entry = MESSAGES[key]
    text = entry.get(normalize_lang(lang)) or entry["id"]
    return text.format(**params) if params else text
