"""Quick-command parsing: counts, names, dates and Rupiah amounts as people type them."""

from __future__ import annotations

from datetime import date

import pytest

from kotaku.dialog.quick import (
    Count,
    CountError,
    closest_names,
    is_all,
    match_name,
    match_names,
    normalize_name,
    parse_count,
    parse_day,
    parse_rupiah,
    split_names,
)

ROSTER = [
    (1, "Budi Santoso"),
    (2, "Sari Wulandari"),
    (3, "Joko Susilo"),
    (4, "Siti Aminah"),
    (5, "Budi Hartono"),
    (6, "Dewi Lestari"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("23", Count(23)),
        ("23 orang", Count(23)),
        ("0", Count(0)),
        ("18L 5P", Count(23, 18, 5)),
        ("18 L 5 P", Count(23, 18, 5)),
        ("18l,5p", Count(23, 18, 5)),
        ("5P 18L", Count(23, 18, 5)),
        ("L18 P5", Count(23, 18, 5)),
        ("18 laki-laki 5 perempuan", Count(23, 18, 5)),
        ("18 lk dan 5 pr", Count(23, 18, 5)),
        ("7 P", Count(7, 0, 7)),
    ],
)
def test_parse_count(text: str, expected: Count) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("dua puluh", "format"),
        ("", "format"),
        ("18L 3L", "format"),
        ("2,5", "format"),
        ("18 X", "format"),
        ("-5", "negative"),
        ("18 L -5 P", "negative"),
    ],
)
def test_parse_count_errors(text: str, code: str) -> None:
    with pytest.raises(CountError) as info:
        parse_count(text)
    assert info.value.code == code


def test_count_by_gender_flag() -> None:
    assert not parse_count("23").by_gender
    assert parse_count("23 L").by_gender


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("Budi Santoso", (1,)),
        ("budi santoso", (1,)),
        ("BÜDI  santoso", (1,)),
        ("Sari", (2,)),
        ("sary", (2,)),
        ("jokoo", (3,)),
        ("Joko Susilo", (3,)),
        ("wulan", (2,)),
        ("siti", (4,)),
        ("Budi S", (1,)),
        ("xavier", ()),
        ("", ()),
    ],
)
def test_match_name(query: str, ids: tuple[int, ...]) -> None:
    assert match_name(query, ROSTER) == ids


def test_ambiguous_first_name_lists_both() -> None:
    assert set(match_name("Budi", ROSTER)) == {1, 5}


def test_match_names_keeps_order_and_flags() -> None:
    found = match_names("Sari, budi, Dewi dan Xavier", ROSTER)
    assert [m.query for m in found] == ["Sari", "budi", "Dewi", "Xavier"]
    assert [m.resolved for m in found] == [True, False, True, False]


def test_closest_names_suggests_for_unknown() -> None:
    assert closest_names("Joki Susilo", ROSTER)[0] == 3
    assert closest_names("Zzzz", ROSTER) == []


def test_split_and_normalize() -> None:
    assert split_names("Budi, Sari dan Joko;Siti\nDewi") == ["Budi", "Sari", "Joko", "Siti", "Dewi"]
    assert normalize_name("  Dewi-Lestàri ") == "dewi lestari"
    assert is_all("Semua") and is_all("semua hadir") and not is_all("Budi")


TODAY = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hari ini", TODAY),
        ("Kemarin", date(2026, 11, 25)),
        ("24/11", date(2026, 11, 24)),
        ("24-11-2026", date(2026, 11, 24)),
        ("24.11.26", date(2026, 11, 24)),
        ("2026-11-24", date(2026, 11, 24)),
        ("31/02", None),
        ("besok lusa", None),
    ],
)
def test_parse_day(text: str, expected: date | None) -> None:
    assert parse_day(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("85000", 85_000),
        ("85.000", 85_000),
        ("Rp 85.000", 85_000),
        ("Rp85.000,-", 85_000),
        ("rp. 120.000", 120_000),
        ("85rb", 85_000),
        ("85 ribu", 85_000),
        ("85k", 85_000),
        ("1,5 juta", 1_500_000),
        ("-5000", -5_000),
        ("delapan puluh", None),
    ],
)
def test_parse_rupiah(text: str, expected: int | None) -> None:
    assert parse_rupiah(text) == expected
