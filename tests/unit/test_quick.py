"""Quick-command parsing: counts, names, dates and Rupiah amounts as people type them."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotaku.dialog.quick import (
    Count,
    CountError,
    SelectAction,
    Selection,
    SelectionError,
    closest_names,
    is_all,
    match_name,
    match_names,
    normalize_name,
    parse_count,
    parse_day,
    parse_roster_selection,
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


# --- a selection typed on the roster checklist ---------------------------------------------------

# The test roster of ksm_a as the checklist numbers it (by name), plus a second Budi: 1..16.
NAMES = [
    "Agus Salim",
    "Bambang Hartono",
    "Budi Santoso",
    "Dewi Lestari",
    "Eko Prasetyo",
    "Hadi Purnomo",
    "Joko Susilo",
    "Rina Marlina",
    "Sari Wulandari",
    "Siti Aminah",
    "Slamet Riyadi",
    "Sugeng Raharjo",
    "Tri Handayani",
    "Wahyu Hidayat",
    "Yuni Astuti",
    "Budi Hartono",
]
EVERYONE = frozenset(range(len(NAMES)))


def _pos(*numbers: int) -> frozenset[int]:
    """1-based numbers of the list as 0-based positions."""
    return frozenset(n - 1 for n in numbers)


def _sel(text: str) -> Selection:
    result = parse_roster_selection(text, NAMES)
    assert isinstance(result, Selection), (text, result)
    return result


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("1 3 7", (1, 3, 7)),
        ("1,3,7", (1, 3, 7)),
        ("1, 3 dan 7", (1, 3, 7)),
        ("1;3\n7", (1, 3, 7)),
        ("no 3 dan 7", (3, 7)),
        ("1. 3. 7.", (1, 3, 7)),
        ("1-5", (1, 2, 3, 4, 5)),
        ("1 - 5", (1, 2, 3, 4, 5)),
        ("1–5", (1, 2, 3, 4, 5)),  # an en dash, as phones type it
        ("1 sampai 5", (1, 2, 3, 4, 5)),
        ("1 s/d 3", (1, 2, 3)),
        ("1 to 3", (1, 2, 3)),
        ("5-3", (3, 4, 5)),
        ("1-3, 10 sampai 12 15", (1, 2, 3, 10, 11, 12, 15)),
        ("centang 4", (4,)),
        ("agus, bambang", (1, 2)),
        ("Agus dan Bambang", (1, 2)),
        ("agus bambang dewi", (1, 2, 4)),  # names separated by spaces only
        ("jokoo, sary", (7, 9)),  # typos, as the quick form
        ("budi s, budi h", (3, 16)),
        ("1 3 yuni", (1, 3, 15)),
        ("sari wulan", (9,)),
    ],
)
def test_roster_selection_ticks(text: str, numbers: tuple[int, ...]) -> None:
    sel = _sel(text)
    assert sel.action == SelectAction.TICK and sel.indexes == _pos(*numbers)
    assert sel.by_number == any(ch.isdigit() for ch in text)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("-3 7", (3, 7)),
        ("- 3, 7", (3, 7)),
        ("−3", (3,)),  # a minus sign
        ("-agus", (1,)),
        ("hapus 3", (3,)),
        ("hapus centang 1-2", (1, 2)),
        ("batal centang agus", (1,)),
        ("batalkan centang 2 dan 4", (2, 4)),
        ("untick 5", (5,)),
    ],
)
def test_roster_selection_unticks(text: str, numbers: tuple[int, ...]) -> None:
    sel = _sel(text)
    assert sel.action == SelectAction.UNTICK and sel.indexes == _pos(*numbers)


@pytest.mark.parametrize(
    ("text", "excluded"),
    [
        ("semua", ()),
        ("Semua hadir", ()),
        ("all", ()),
        ("semua kecuali 3 7", (3, 7)),
        ("semua, kecuali 3, 7", (3, 7)),
        ("semua hadir kecuali agus", (1,)),
        ("all except 3 7", (3, 7)),
        ("everyone but agus, 2", (1, 2)),
        ("semua -3", (3,)),
        ("kecuali 2", (2,)),
        ("semua kecuali 1-15", tuple(range(1, 16))),
    ],
)
def test_roster_selection_everyone_but(text: str, excluded: tuple[int, ...]) -> None:
    sel = _sel(text)
    assert sel.action == SelectAction.ONLY
    assert sel.excluded == _pos(*excluded) and sel.indexes == EVERYONE - _pos(*excluded)


@pytest.mark.parametrize("text", ["tidak ada", "Kosong", "kosongkan", "none", "nobody"])
def test_roster_selection_clears(text: str) -> None:
    assert _sel(text) == Selection(SelectAction.ONLY, frozenset())


@pytest.mark.parametrize(
    ("text", "unknown"),
    [
        ("3 99 xavier", ("99", "xavier")),
        ("0", ("0",)),
        ("16-20", ("16-20",)),  # a range with an end off the roster of 16
        ("1-99", ("1-99",)),
        ("12 orang", ("orang",)),  # a head count is not worker 12
        ("semua kecuali 3 99", ("99",)),
        ("-99", ("99",)),
        ("99999999999999999999999", ("99999999999999999999999",)),
        ("agus zzzz", ("zzzz",)),
        ("０３", ("０３",)),  # full-width digits are not numbers of the list
        ("٣ ٧", ("٣", "٧")),  # nor are Arabic-Indic ones
        ("semua kecuali ３", ("３",)),
    ],
)
def test_roster_selection_not_understood(text: str, unknown: tuple[str, ...]) -> None:
    assert parse_roster_selection(text, NAMES) == SelectionError(unknown=unknown)


def test_roster_selection_ambiguous_name_lists_the_candidates() -> None:
    result = parse_roster_selection("3, budi", NAMES)
    assert isinstance(result, SelectionError) and result.unknown == ()
    [(query, positions)] = result.ambiguous
    assert query == "budi" and set(positions) == _pos(3, 16)


@pytest.mark.parametrize("text", ["", "   ", "???", "hapus", "-", "semua kecuali", "kecuali"])
def test_roster_selection_nothing_recognisable(text: str) -> None:
    result = parse_roster_selection(text, NAMES)
    assert isinstance(result, SelectionError) and result.empty


def test_selection_apply() -> None:
    ticked = _pos(1, 2)
    assert _sel("3 4").apply(ticked) == _pos(1, 2, 3, 4)
    assert _sel("-2 3").apply(ticked) == _pos(1)
    assert _sel("semua kecuali 1").apply(ticked) == EVERYONE - _pos(1)
    assert _sel("tidak ada").apply(ticked) == frozenset()
    assert _sel("1").apply(ticked) == ticked  # ticking a ticked one keeps it


# Property tests: random text never raises and never selects off the roster; `semua kecuali X` is
# everyone minus what X alone would tick.

_roster_names = st.lists(st.text(min_size=1, max_size=20), max_size=25)
# Text made of the pieces the parser looks for, in any order: digits, dashes, separators, its words.
_noise = st.lists(
    st.one_of(
        st.characters(),
        st.sampled_from([*"0123456789-–,;. /\n", "semua ", "kecuali ", "hapus ", "sampai ", "tidak ada"]),
    ),
    max_size=30,
).map("".join)


@given(text=st.one_of(st.text(max_size=80), _noise), names=_roster_names)
def test_roster_selection_never_raises_nor_leaves_the_roster(text: str, names: list[str]) -> None:
    result = parse_roster_selection(text, names)
    assert isinstance(result, Selection | SelectionError)
    if isinstance(result, Selection):
        everyone = frozenset(range(len(names)))
        assert result.indexes <= everyone and result.excluded <= everyone
        assert result.apply(everyone) <= everyone and result.apply(()) <= everyone
    else:
        for _query, positions in result.ambiguous:
            assert all(0 <= i < len(names) for i in positions)


@given(
    text=st.text(alphabet=st.sampled_from("0123456789 ,-"), max_size=40),
    size=st.integers(min_value=0, max_value=30),
)
def test_typed_numbers_stay_within_the_roster(text: str, size: int) -> None:
    result = parse_roster_selection(text, NAMES[:size] + [f"Pekerja {chr(97 + i)}" for i in range(size - 16)])
    if isinstance(result, Selection):
        assert all(0 <= i < size for i in result.indexes)


_SEPARATORS = st.sampled_from([", ", ",", "; ", " dan ", "\n", " , "])


@st.composite
def _items(draw: st.DrawFn) -> tuple[str, frozenset[int]]:
    """A list typed as people would (numbers, ranges, full names) and the positions it means."""
    kinds = st.one_of(
        st.integers(1, len(NAMES)).map(lambda n: (str(n), _pos(n))),
        st.tuples(
            st.integers(1, len(NAMES)), st.integers(1, len(NAMES)), st.sampled_from(["-", " sampai ", " - "])
        ).map(lambda t: (f"{t[0]}{t[2]}{t[1]}", _pos(*range(min(t[0], t[1]), max(t[0], t[1]) + 1)))),
        st.integers(0, len(NAMES) - 1).map(lambda i: (NAMES[i], frozenset({i}))),
    )
    items = draw(st.lists(kinds, min_size=1, max_size=8))
    separators = [draw(_SEPARATORS) for _ in items[1:]]
    text = items[0][0] + "".join(sep + item for sep, (item, _) in zip(separators, items[1:], strict=True))
    return text, frozenset().union(*(positions for _, positions in items))


@given(
    typed=_items(), prefix=st.sampled_from(["semua kecuali ", "Semua kecuali: ", "all except ", "kecuali "])
)
def test_everyone_but_x_is_everyone_minus_x(typed: tuple[str, frozenset[int]], prefix: str) -> None:
    text, meant = typed
    alone = _sel(text)
    assert alone.action == SelectAction.TICK and alone.indexes == meant
    but = _sel(prefix + text)
    assert but.action == SelectAction.ONLY
    assert but.indexes == EVERYONE - alone.indexes and but.excluded == alone.indexes
    untick = _sel("-" + text)
    assert untick.action == SelectAction.UNTICK and untick.indexes == meant
