"""Numbers, dates, NIKs, phones and zones as people type them: ASCII digits with `.`/`,` only, bounded in
length and size, never an exception other than the reader's own, and no input a channel can carry (4,096
characters) slow to read. The inputs are the ones the security review sent (issue 12, findings 1, 3, 11).

The timing checks use a budget of 250 ms of CPU, five times the benchmark's 50 ms target
(`kotaku bench parsers`), so they fail on the quadratic readers of before (0.3 s to several seconds here)
and not on a loaded machine."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from kotaku.dialog.quick import (
    DAYS_AHEAD,
    EARLIEST_DAY,
    CountError,
    SelectionError,
    TooManyNames,
    match_names,
    name_limit,
    parse_count,
    parse_day,
    parse_roster_selection,
    parse_rupiah,
    parse_wages,
)
from kotaku.dialog.quick_report import split_report, suggest_keyword
from kotaku.i18n import MAX_INPUT_CHARS, MAX_NUMBER, fold_width, foreign_digits, parse_number
from kotaku.security import InvalidNik, InvalidPhone, NikVault, generate_key, normalize_nik, normalize_phone
from kotaku.services.progress import AmountError, parse_amount, split_quick_form

TODAY = date(2026, 11, 26)
NIK = "3322051708900001"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
CPU_BUDGET_S = 0.25
ROSTER = [f"Pekerja {chr(65 + i % 26)}{i} Santoso" for i in range(30)]
# 2,048 comma-separated names in one message of 4,095 characters
NAMES_2048 = ",".join(chr(97 + i % 26) for i in range(2_048))


def cpu_seconds(fn: Callable[..., Any], *args: Any) -> float:
    start = time.process_time()
    with contextlib.suppress(CountError, TooManyNames):
        fn(*args)
    return time.process_time() - start


# --- finding 1: crashes and nonsense accepted ----------------------------------------------------


def test_a_count_of_thousands_of_digits_is_refused_not_a_crash() -> None:
    with pytest.raises(CountError) as info:
        parse_count("9" * 4_000)  # int() refuses more than 4,300 digits; 4,000 would be a huge count
    assert info.value.code == "too_big"
    with pytest.raises(CountError) as info:
        parse_count("9" * 5_000)  # longer than any message: not read at all
    assert info.value.code == "format"
    assert parse_count("999999").total == 999_999  # six digits are a number (the flow says "too many")


@pytest.mark.parametrize("table", [FULLWIDTH, ARABIC_INDIC])
def test_counts_in_other_digits_are_not_read(table: dict[int, str]) -> None:
    for text in ("15", "15 orang", "L10 P5", "10 L 5 P"):
        with pytest.raises(CountError) as info:
            parse_count(text.translate(table))
        assert info.value.code == "format"


def test_rupiah_of_hundreds_of_nines_is_unreadable_not_an_overflow() -> None:
    assert parse_rupiah("9" * 400) is None
    assert parse_wages("total " + "9" * 400) == (None, True)
    assert parse_rupiah("9" * 15 + " juta") is None  # over MAX_NUMBER once multiplied
    assert parse_rupiah("Rp 1.500.000,-") == 1_500_000


@pytest.mark.parametrize("text", ["9" * 400, "1" + "0" * 30, "inf", "nan", "1e5", "1_000"])
def test_parse_number_is_finite_and_bounded(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize("table", [FULLWIDTH, ARABIC_INDIC])
def test_numbers_in_other_digits_are_not_read(table: dict[int, str]) -> None:
    for text in ("45", "45,5", "1.500"):
        assert parse_number(text) is not None
        assert parse_number(text.translate(table)) is None
        assert parse_rupiah(text.translate(table)) is None
        assert parse_amount(text.translate(table), "m", 100).error == AmountError.NOT_A_NUMBER
    assert parse_number(str(int(MAX_NUMBER))) == MAX_NUMBER


def test_other_digits_stay_as_typed_for_every_reader_to_refuse() -> None:
    assert fold_width("ｈａｄｉｒ m²") == "hadir m2"  # width folded as before
    assert fold_width("hadir ١٥ ３") == "hadir ١٥ ３"
    assert foreign_digits("hadir ١٥ progres ３0") == ["١٥", "３"]
    found = split_report("hadir １５ progres ٤٥")
    assert found.attendance == "１５" and found.progress == [] and found.progress_text == "٤٥"


@pytest.mark.parametrize("text", ["24/11/5088", "5088-11-24", "24-11-99", "1/1/1999", "28/11/2027"])
def test_dates_outside_the_window_are_refused(text: str) -> None:
    assert parse_day(text, TODAY) is None


def test_dates_inside_the_window_are_read() -> None:
    assert parse_day("1/1/2000", TODAY) == EARLIEST_DAY
    assert parse_day("27/11/2027", TODAY) == TODAY + timedelta(days=DAYS_AHEAD)
    assert parse_day("24/11", TODAY) == date(2026, 11, 24)
    assert parse_day("２４/１１", TODAY) is None
    assert parse_day("24/11/" + "2" * 300, TODAY) is None


# --- finding 3: the NIK in other digits -----------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [NIK.translate(FULLWIDTH), NIK.translate(ARABIC_INDIC), NIK[:8] + NIK[8:].translate(FULLWIDTH)],
)
def test_a_nik_in_other_digits_is_refused_before_hashing(raw: str) -> None:
    vault = NikVault(generate_key())
    with pytest.raises(InvalidNik):
        normalize_nik(raw)
    with pytest.raises(InvalidNik):
        vault.hash(raw)  # so it can never hash apart from the same NIK in ASCII digits
    with pytest.raises(InvalidNik):
        vault.protect(raw)


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), 3322051708900001.0, "3" * 5_000])
def test_a_nik_that_is_a_float_or_huge_is_refused(raw: Any) -> None:
    with pytest.raises(InvalidNik):
        normalize_nik(raw)


def test_the_nik_separators_are_still_taken_out() -> None:
    assert normalize_nik("3322 0517-0890.0001") == NIK
    assert normalize_nik(3322051708900001) == NIK  # an exact integer cell is the NIK


# --- phones ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["+ 812-3456-7890", "+  812 3456 7890", "+ 0812-3456-7890", "+ 62 812-3456-7890", "+62 812 3456 7890"],
)
def test_a_plus_set_apart_is_not_a_country_code(raw: str) -> None:
    assert normalize_phone(raw) == "+6281234567890"  # not Japan's +81 2-3456-7890


@pytest.mark.parametrize(
    "raw",
    [
        "0812-3456-7890".translate(FULLWIDTH),
        "0812-3456-7890".translate(ARABIC_INDIC),
        "0812-FLOWERS",  # a keypad's letters are not digits here
        "0812+3456+7890",
        "0812-3456-7890" * 5,
    ],
)
def test_phones_are_ascii_digits_of_a_bounded_length(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalize_phone(raw)


# --- finding 11: inputs a channel can carry are read quickly --------------------------------------


def test_a_list_longer_than_the_roster_allows_is_refused() -> None:
    pairs = list(enumerate(ROSTER))
    typed = NAMES_2048
    with pytest.raises(TooManyNames) as info:
        match_names(typed, pairs)
    assert (info.value.typed, info.value.limit) == (2_048, name_limit(len(ROSTER))) == (2_048, 60)
    result = parse_roster_selection(typed, ROSTER)
    assert isinstance(result, SelectionError) and not result.empty
    assert result.too_many > result.limit == 60
    assert len(match_names(", ".join(ROSTER * 2), pairs)) == 60  # twice the roster is still read
    every_number = parse_roster_selection(" ".join(str(n) for n in range(1, 31)), ROSTER)
    assert not isinstance(every_number, SelectionError) and every_number.indexes == frozenset(range(30))


SLOW_BEFORE: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    # (what, reader, arguments): each took from 0.3 s to minutes before
    ("/progres 4,095 ones and !", split_quick_form, ("1" * 4_095 + "!",)),
    ("a progress amount of 4,095 digits", parse_amount, ("1." * 2_045 + "1 m\nx", "m", 100.0)),
    ("Rupiah with 4,000 spaces", parse_rupiah, ("1" + " " * 4_000 + "x",)),
    ("a count of 4,000 Arabic-Indic digits", parse_count, ("١" * 4_000,)),
    ("2,048 names", match_names, (NAMES_2048, list(enumerate(ROSTER)))),
    ("2,048 names on the checklist", parse_roster_selection, (NAMES_2048, ROSTER)),
    ("60 unknown names", match_names, (", ".join(f"zq{i}x" for i in range(60)), list(enumerate(ROSTER)))),
    ("a report opening with 4,000 digits", split_report, ("1" * 4_000 + "x",)),
    ("wages of 4,000 digits", split_report, ("upah " + "1" * 4_000 + "x",)),
    ("680 misspelt keywords", suggest_keyword, ("upahh " * 680,)),
    ("blank lines on the checklist", parse_roster_selection, ("1" + "\n" * 4_000 + "x", ROSTER)),
    ("a range of 4,000 digits", parse_roster_selection, ("1" * 4_000 + " x", ROSTER)),
]


@pytest.mark.parametrize(("what", "reader", "args"), SLOW_BEFORE, ids=[s[0] for s in SLOW_BEFORE])
def test_inputs_of_a_message_length_are_read_in_linear_time(
    what: str, reader: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    assert all(len(a) <= MAX_INPUT_CHARS for a in args if isinstance(a, str))
    assert cpu_seconds(reader, *args) < CPU_BUDGET_S, what
