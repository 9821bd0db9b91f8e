"""The one reader of ids and numbers in button data and typed ids (`kotaku.dialog.inputs`): ASCII digits
only, bounded in length before `int()`, ids within 1..MAX_ID; anything else is None, never an exception."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotaku.dialog.inputs import (
    MAX_PAGE,
    bounded_int,
    echoed,
    offered_index,
    parse_id,
    picked_amount,
    picked_id,
    picked_key,
    picked_page,
)
from kotaku.models.base import MAX_ID

# `str.isdigit` is True for these, and `int` takes (or chokes on) several of them.
UNICODE_DIGITS = ["²", "¹²", "٣", "３", "߃", "१", "𝟗", "⑨"]


@pytest.mark.parametrize(
    "text", [*UNICODE_DIGITS, "", " 1", "1 ", "+1", "-1", "1_000", "1e3", "0x1", "9" * 5_000]
)
def test_only_bounded_ascii_digits_are_ids(text: str) -> None:
    assert parse_id(text) is None
    assert picked_id("a:" + text, "a:") is None


def test_id_bounds() -> None:
    assert parse_id("1") == 1 and parse_id("007") == 7
    assert parse_id(str(MAX_ID)) == MAX_ID
    assert parse_id(str(MAX_ID + 1)) is None  # a DataError on PostgreSQL's INTEGER
    assert parse_id("0") is None
    assert parse_id("99999999999999999999") is None


def test_five_thousand_digits_cost_nothing() -> None:
    started = time.perf_counter()
    for _ in range(1_000):
        assert picked_id("t:" + "9" * 5_000, "t:") is None
    assert time.perf_counter() - started < 0.5


def test_prefixes() -> None:
    assert picked_id("a:12", "a:") == 12
    assert picked_id("a:12", "p:") is None
    assert picked_id("12", "a:") is None
    assert picked_id("xa:12", "a:") is None


def test_keys_are_ids_or_draft_keys() -> None:
    assert picked_key("t:12", "t:") == 12
    assert picked_key("t:-1", "t:") == -1
    assert picked_key("t:-" + str(MAX_ID), "t:") == -MAX_ID
    for bad in ["t:0", "t:-0", "t:--1", "t:-", "t:-²", "t:+1", "t:-" + "9" * 5_000]:
        assert picked_key(bad, "t:") is None, bad


def test_pages_and_amounts() -> None:
    assert picked_page("pg:0", "pg:") == 0 and picked_page(f"pg:{MAX_PAGE}", "pg:") == MAX_PAGE
    assert picked_page(f"pg:{MAX_PAGE + 1}", "pg:") is None and picked_page("pg:²", "pg:") is None
    assert picked_amount("r:85000", "r:") == 85_000 and picked_amount("r:0", "r:") == 0
    assert picked_amount("r:" + "9" * 400, "r:") is None and picked_amount("r:-5", "r:") is None


def test_offered_numbers() -> None:
    assert offered_index("1", 3) == 0 and offered_index("3.", 3) == 2
    for bad in ["0", "4", "²", "٣", "9" * 5_000, "", "-1"]:
        assert offered_index(bad, 3) is None, bad
    assert offered_index("1", 0) is None


def test_echoed() -> None:
    assert echoed("12") == "12"
    assert len(echoed("9" * 5_000)) == 24 and echoed("9" * 5_000).endswith("…")


@given(st.text(), st.sampled_from(["t:", "pg:", "n:", "a:", "r:", "ksm:", "ack:"]))
def test_readers_never_raise_and_stay_in_range(rest: str, prefix: str) -> None:
    value = prefix + rest
    found = picked_id(value, prefix)
    assert found is None or 1 <= found <= MAX_ID
    key = picked_key(value, prefix)
    assert key is None or (key != 0 and -MAX_ID <= key <= MAX_ID)
    page = picked_page(value, prefix)
    assert page is None or 0 <= page <= MAX_PAGE
    amount = picked_amount(value, prefix)
    assert amount is None or 0 <= amount <= MAX_ID
    index = offered_index(rest, 10)
    assert index is None or 0 <= index < 10


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_every_id_reads_back(n: int) -> None:
    assert picked_id(f"a:{n}", "a:") == n
    assert picked_key(f"t:-{n}", "t:") == -n


@given(st.integers(), st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**12))
def test_bounded_int_is_int_within_bounds(n: int, low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    got = bounded_int(str(n), low, high)
    assert got == (n if low <= n <= high else None)
