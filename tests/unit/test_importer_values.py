"""Cell parsers of the importer and its message catalogue."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from kotaku.importer import MESSAGES, SHEETS, msg
from kotaku.importer import values as v
from kotaku.importer.spec import EXAMPLE, normalize_header
from kotaku.models import Gender, Indicator, RegionLevel, Role, Skill


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (datetime(2021, 9, 1, 0, 0), date(2021, 9, 1)),
        (date(2021, 9, 1), date(2021, 9, 1)),
        ("2021-09-01", date(2021, 9, 1)),
        ("01-09-2021", date(2021, 9, 1)),
        ("01/09/2021", date(2021, 9, 1)),
        ("2021-09-01 00:00:00", date(2021, 9, 1)),
        (44440, date(2021, 9, 1)),  # Excel serial number
    ],
)
def test_dates(raw: object, expected: date) -> None:
    assert v.to_date(raw) == expected


@pytest.mark.parametrize("raw", ["31-02-2021", "besok", "2021-13-01", 12, "09/01/21", True])
def test_bad_dates(raw: object) -> None:
    with pytest.raises(v.CellError) as info:
        v.to_date(raw)
    assert info.value.key == "bad_date"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(150_000_000, 150_000_000), ("150.000.000", 150_000_000), ("Rp150.000.000", 150_000_000),
     ("Rp 1,500,000", 1_500_000), ("85000", 85_000), (85000.0, 85_000), ("1.500", 1_500)],
)  # fmt: skip
def test_integers(raw: object, expected: int) -> None:
    assert v.to_integer(raw) == expected


@pytest.mark.parametrize("raw", ["85.5", 85.5, "delapan puluh", "1.5.0"])
def test_bad_integers(raw: object) -> None:
    with pytest.raises(v.CellError, match="bad_integer"):
        v.to_integer(raw)


def test_numbers_and_ranges() -> None:
    assert v.to_number("163,5") == 163.5
    assert v.to_number("1.234,5") == 1234.5
    assert v.to_number("1,234.5") == 1234.5
    assert v.percent("45%") == 45.0
    for parser, raw, key in [
        (v.percent, 100.5, "percent_range"),
        (v.percent, -1, "percent_range"),
        (v.positive_number, 0, "not_positive"),
        (v.non_negative_integer, -5, "negative"),
        (v.latitude, -91, "latitude_range"),
        (v.longitude, 181, "longitude_range"),
        (v.to_number, "nan", "bad_number"),
    ]:
        with pytest.raises(v.CellError) as info:
            parser(raw)
        assert info.value.key == key


def test_vocabularies() -> None:
    assert v.indicator("Jalan Lingkungan") == Indicator.JALAN_LINGKUNGAN
    assert v.indicator("pengelolaan air limbah") == Indicator.AIR_LIMBAH
    assert v.indicator("drainage") == Indicator.DRAINASE
    assert v.indicator("Proteksi-Kebakaran") == Indicator.PROTEKSI_KEBAKARAN
    assert v.region_level("Kabupaten/Kota") == RegionLevel.KABKOTA
    assert v.region_level("Desa") == RegionLevel.KELURAHAN
    assert v.role("Ketua KSM") == Role.KETUA_KSM
    assert v.role("faskel") == Role.FASILITATOR
    assert v.gender("Laki-laki") == Gender.L
    assert v.gender("perempuan") == Gender.P
    assert v.skill("Tukang") == Skill.TUKANG
    assert v.yes_no("Ya") is True and v.yes_no("tidak") is False and v.yes_no(False) is False
    assert v.language("English") == "en"
    assert v.timezone("WITA") == "Asia/Makassar"
    assert v.to_time("15.30") == time(15, 30)
    assert v.to_time(0.625) == time(15, 0)
    for parser, raw in [(v.indicator, "jembatan"), (v.role, "bupati"), (v.gender, "X"), (v.skill, "arsitek"),
                        (v.yes_no, "mungkin"), (v.timezone, "Mars/Olympus"), (v.to_time, "25:00")]:  # fmt: skip
        with pytest.raises(v.CellError):
            parser(raw)


def test_nik_errors_are_masked() -> None:
    assert v.nik("3322 1012 0380 0001") == "3322101203800001"
    with pytest.raises(v.CellError) as info:
        v.nik("3322109913800001")
    assert info.value.params["nik"] == "3322••••••••0001"
    assert info.value.params["reason_key"] == "nik_birthdate"
    with pytest.raises(v.CellError) as info:
        v.nik("0022101203800001")
    assert info.value.params["reason_key"] == "nik_province"
    with pytest.raises(v.CellError) as info:
        v.nik("12345")
    assert info.value.params == {"nik": "•••••", "reason_key": "nik_digits"}


def test_phones() -> None:
    assert v.phone("0812-2600-1001") == "+6281226001001"
    assert v.phone(81226001001) == "+6281226001001"  # Excel dropped the leading 0
    with pytest.raises(v.CellError, match="bad_phone"):
        v.phone("12345")


def test_text_and_headers() -> None:
    assert v.text(33.0) == "33"
    assert v.text("  Bejalen   Baru ") == "Bejalen Baru"
    with pytest.raises(v.CellError, match="too_long"):
        v.text("x" * 41, 40)
    assert normalize_header(" Kode Induk* ") == "kode_induk"
    assert normalize_header("KODE-INDUK") == "kode_induk"


def test_catalogue_is_complete_and_consistent() -> None:
    fmt = string.Formatter()
    for key, entry in MESSAGES.items():
        assert set(entry) == {"id", "en"}, key
        fields = [{f for _, f, _, _ in fmt.parse(entry[lang]) if f} for lang in ("id", "en")]
        assert fields[0] == fields[1], key
    assert msg("required", "en") == "Required."
    assert msg("required", "xx") == "Wajib diisi."


def test_examples_fit_the_columns() -> None:
    for sheet, rows in EXAMPLE.items():
        assert all(len(row) == len(SHEETS[sheet]) for row in rows), sheet


# --- issue 12: bounded values, ASCII digits, a window of dates, no exception but CellError -------------


@pytest.mark.parametrize(
    ("parser", "raw", "key"),
    [
        (v.nik, float("nan"), "bad_nik"),  # int(nan) raised ValueError
        (v.nik, float("inf"), "bad_nik"),  # int(inf) raised OverflowError
        (v.nik, 3322101203800001.0, "bad_nik"),  # Excel's number has lost the 16th digit
        (v.nik, "3322101203800001".translate(str.maketrans("0123456789", "０１２３４５６７８９")), "bad_nik"),
        (v.timezone, "Etc/GMT+" + "9" * 300, "bad_timezone"),  # OSError: file name too long
        (v.timezone, "Asia", "bad_timezone"),  # IsADirectoryError
        (v.timezone, "localtime", "bad_timezone"),
        (v.to_date, "5088-01-01", "date_range"),
        (v.to_date, "01-01-1999", "date_range"),
        (v.to_date, date(9999, 12, 31), "date_range"),
        (v.to_date, "２０２１-０９-０１", "bad_date"),
        (v.to_date, "2021-09-01" + "0" * 5000, "bad_date"),
        (v.to_time, "１５:００", "bad_time"),
        (v.to_number, "١٢٣", "bad_number"),
        (v.to_number, "1_000", "bad_number"),
        (v.to_number, "inf", "bad_number"),
        (v.to_number, "9" * 400, "bad_number"),
        (v.to_number, 1e300, "number_too_big"),
        (v.to_number, 10**400, "number_too_big"),  # float() of it raised OverflowError
        (v.to_integer, "9" * 20, "number_too_big"),
        (v.to_integer, "١٢٣", "bad_integer"),
        (v.phone, "０８１２-２６００-１００１", "bad_phone"),
        (v.phone, float("nan"), "bad_phone"),
    ],
)
def test_values_refused_with_a_cell_error(parser: Any, raw: object, key: str) -> None:
    with pytest.raises(v.CellError) as info:
        parser(raw)
    assert info.value.key == key
    assert msg(key, "id", **info.value.params, reason="-") and msg(key, "en", **info.value.params, reason="-")


def test_the_date_window_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(v.clock, "now", lambda: datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert v.latest_date() == date(2028, 12, 1)
    assert v.to_date("2028-12-01") == date(2028, 12, 1)
    with pytest.raises(v.CellError, match="date_range"):
        v.to_date("2028-12-02")
    assert v.to_date("2000-01-01") == v.EARLIEST_DATE
    monkeypatch.setattr(v.clock, "now", lambda: datetime(2028, 2, 29, 3, 0, tzinfo=UTC))
    assert v.latest_date() == date(2030, 2, 28)
