"""Pieces of the exports without a database: amounts in words (terbilang), NIK masking, CSV values,
photo file names, the payment periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotaku.config import load_settings
from kotaku.exports import payment_periods
from kotaku.exports.csv import plain
from kotaku.exports.data import ActivityInfo, UpahLine, export_mask, photo_file_name
from kotaku.exports.words import terbilang


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (1_445_000, "satu juta empat ratus empat puluh lima ribu rupiah"),
        (0, "nol rupiah"),
        (1, "satu rupiah"),
        (11, "sebelas rupiah"),
        (100, "seratus rupiah"),
        (110, "seratus sepuluh rupiah"),
        (1_000, "seribu rupiah"),
        (1_100, "seribu seratus rupiah"),
        (11_000, "sebelas ribu rupiah"),
        (85_000, "delapan puluh lima ribu rupiah"),
        (101_000, "seratus satu ribu rupiah"),
        (1_000_000, "satu juta rupiah"),
        (7_950_000, "tujuh juta sembilan ratus lima puluh ribu rupiah"),
        (300_000_000, "tiga ratus juta rupiah"),
        (1_500_000_000, "satu miliar lima ratus juta rupiah"),
        (2_000_000_000_000, "dua triliun rupiah"),
    ],
)
def test_terbilang_indonesian(amount: int, words: str) -> None:
    assert terbilang(amount) == words


def test_terbilang_english_and_refusals() -> None:
    assert terbilang(1_445_000, "en") == "one million four hundred and forty-five thousand rupiah"
    assert terbilang(1_000, "en") == "one thousand rupiah"
    with pytest.raises(ValueError):
        terbilang(-5)


def test_export_mask_keeps_four_and_four() -> None:
    assert export_mask("3322051201850001") == "3322********0001"
    assert export_mask("123") == "***"


def test_plain_csv_values() -> None:
    assert plain(None) == "" and plain(True) == "true" and plain(False) == "false"
    assert plain(date(2026, 11, 26)) == "2026-11-26"
    wita = timezone(timedelta(hours=8))
    assert plain(datetime(2026, 11, 26, 16, 5, 7, 123, tzinfo=wita)) == "2026-11-26T16:05:07+08:00"
    assert plain(datetime(2026, 11, 26, 9, 0, tzinfo=UTC)) == "2026-11-26T09:00:00+00:00"
    assert plain(15.0) == "15" and plain(12.5) == "12.5" and plain(-15.51) == "-15.51"
    assert plain(0.1 + 0.2) == "0.3" and plain(1e-7) == "0" and plain(1_445_000) == "1445000"


def test_photo_file_names() -> None:
    act = ActivityInfo(
        id=1,
        code="KEG-BJL-01",
        name="Rabat beton",
        indicator="jalan_lingkungan",
        unit="m",
        target_volume=163.0,
        budget=1,
        wage_budget=1,
        start_date=date(2026, 11, 1),
        end_date=date(2026, 12, 31),
        latitude=None,
        longitude=None,
    )
    day = date(2026, 11, 25)
    assert photo_file_name(day, "KSM-BJL-01", act, 42, "ab/cd/abcd.jpg", "image/jpeg") == (
        "20261125_KSM-BJL-01_KEG-BJL-01_42.jpg"
    )
    assert photo_file_name(day, "KSM/X 1", None, 7, None, "image/png") == "20261125_KSM-X-1_umum_7.png"
    assert photo_file_name(day, "KSM_A", None, 8, "x/y.tar.gz", None) == "20261125_KSM-A_umum_8.gz"
    assert photo_file_name(day, "K", None, 9, "x/.hidden", None) == "20261125_K_umum_9.jpg"


@settings(max_examples=300, deadline=None)
@given(
    code=st.text(max_size=12),
    path=st.text(alphabet=st.sampled_from("ab./_"), max_size=10),
)
def test_photo_file_name_parts_as_a_character_walk(code: str, path: str) -> None:
    """The name's parts are made safe character by character (letters and digits of any script, "-" and
    "." kept, anything else a "-") and the suffix is the stored path's, as `PurePosixPath` says."""

    def walk(text: str) -> str:
        return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text)

    day = date(2026, 11, 25)
    suffix = PurePosixPath(path).suffix if path else ""
    expected = f"20261125_{walk(code)}_umum_3{suffix or '.jpg'}"
    assert photo_file_name(day, code, None, 3, path or None, None) == expected


def test_payment_status_of_a_wage_line() -> None:
    def line(total: int, paid: int) -> UpahLine:
        return UpahLine(name="x", skill="pekerja", days=1, hok=1.0, rate=total, total=total, paid_amount=paid)

    assert line(85_000, 85_000).status == "paid"
    assert line(85_000, 0).status == "unpaid"
    assert line(170_000, 85_000).status == "partial"
    assert line(0, 0).status == "paid"  # nothing owed


def test_payment_periods_cut_to_the_range() -> None:
    settings = load_settings(app={"env": "test"})
    # Wednesday 18 to Tuesday 1 December: the rest of one week, a whole week, the start of the next.
    assert payment_periods(date(2026, 11, 18), date(2026, 12, 1), settings) == [
        (date(2026, 11, 18), date(2026, 11, 22)),
        (date(2026, 11, 23), date(2026, 11, 29)),
        (date(2026, 11, 30), date(2026, 12, 1)),
    ]
    monthly = settings.model_copy(
        update={"exports": settings.exports.model_copy(update={"period": "monthly"})}
    )
    assert payment_periods(date(2026, 1, 20), date(2026, 3, 3), monthly) == [
        (date(2026, 1, 20), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 3)),
    ]
