"""The one-message report splitter: every part in the words coordinators use, nothing dropped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotaku.dialog.quick_report import Part, ProgressItem, has_report, split_report, suggest_keyword


def test_count_and_progress() -> None:
    r = split_report("hadir 15 progres 45")
    assert r.attendance == "15"
    assert r.progress == [ProgressItem(hint="", amount="45")]
    assert r.parts == [Part.HADIR, Part.PROGRES] and not r.unread


def test_everything_in_one_message() -> None:
    r = split_report("hadir semua kecuali Agus, Bagus progres rabat 45 drainase 30 kendala semen telat")
    assert r.attendance == "semua kecuali Agus, Bagus"
    assert r.progress == [ProgressItem("rabat", "45"), ProgressItem("drainase", "30")]
    assert r.obstacle == "semen telat"
    assert not r.unread


def test_leading_count_with_split() -> None:
    r = split_report("15 orang L10 P5, progres 45%")
    assert r.attendance == "15 orang L10 P5"
    assert r.progress == [ProgressItem("", "45%")]


def test_absen_and_persen() -> None:
    r = split_report("absen 15; progres paving 45 persen")
    assert r.attendance == "15"
    assert r.progress == [ProgressItem("paving", "45%")]


@pytest.mark.parametrize("text", ["hadir 12 orang", "/hadir 12 orang", "HADIR 12 orang"])
def test_attendance_alone(text: str) -> None:
    r = split_report(text)
    assert r.attendance == "12 orang" and r.parts == [Part.HADIR]


def test_decimal_comma_and_volume() -> None:
    assert split_report("progres 45,5").progress == [ProgressItem("", "45,5")]
    assert split_report("progres drainase 120 m").progress == [ProgressItem("drainase", "120 m")]
    # An activity code's digits are part of its name, not a figure.
    assert split_report("progres ACT-BJL-01 45").progress == [ProgressItem("ACT-BJL-01", "45")]


def test_obstacle_keeps_its_words_and_severity() -> None:
    r = split_report("kendala berat 3 pekerja tidak hadir karena sakit")
    assert r.obstacle == "berat 3 pekerja tidak hadir karena sakit"
    assert r.attendance is None
    # ... but a real next part after it is read.
    r = split_report("kendala semen telat progres 45")
    assert r.obstacle == "semen telat" and r.progress == [ProgressItem("", "45")]


def test_wages() -> None:
    r = split_report("hadir 12 upah sudah dibayar")
    assert r.wages is not None and r.wages.paid is True
    r = split_report("hadir 12 upah belum dibayar")
    assert r.wages is not None and r.wages.paid is False
    r = split_report("hadir 12 upah 85rb dibayar")
    assert r.wages is not None and r.wages.amount == "85rb" and r.wages.paid is True


def test_what_is_not_read_is_named() -> None:
    r = split_report("cuaca cerah hadir 15 progres 45 mantap")
    assert r.attendance == "15"
    assert "cuaca cerah" in r.unread and "mantap" in r.unread


def test_a_part_given_twice_is_named() -> None:
    r = split_report("hadir 15 hadir 16")
    assert r.attendance == "15" and r.repeated == [Part.HADIR] and r.unread == ["hadir 16"]


def test_has_report() -> None:
    assert has_report("hadir 12")
    assert has_report("progres 45")
    assert not has_report("hadir")
    assert not has_report("halo pak")
    assert not has_report("terima kasih")


def test_typo_suggestion() -> None:
    assert suggest_keyword("hadri 15") == "hadir 15"
    assert suggest_keyword("progess 45") == "progres 45"
    assert suggest_keyword("selamat pagi") is None


_WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@settings(max_examples=300, deadline=None)
@given(_WORDS)
def test_any_text_is_split_without_error_or_loss(text: str) -> None:
    """Odd input never raises, and every word is either in a part or named as unread."""
    r = split_report(text)
    kept = " ".join(
        [
            r.attendance or "",
            " ".join(f"{i.hint} {i.amount}" for i in r.progress),
            r.progress_text or "",
            r.obstacle or "",
            (r.wages.amount if r.wages else ""),
            " ".join(r.unread),
        ]
    ).lower()
    digits_in = sum(ch.isdigit() for ch in text if ch.isascii())
    digits_kept = sum(ch.isdigit() for ch in kept if ch.isascii())
    # Figures are never silently dropped (wages words without a figure are named as unread too).
    assert digits_kept >= digits_in or r.wages is not None


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 499), st.integers(0, 100), st.sampled_from(["hadir", "/hadir", "absen", "Hadir"]))
def test_generated_reports_read_back(n: int, pct: int, word: str) -> None:
    r = split_report(f"{word} {n} progres {pct}")
    assert r.attendance == str(n)
    assert r.progress == [ProgressItem("", str(pct))]


def test_wages_words_inside_an_obstacle_stay_in_it() -> None:
    r = split_report("kendala dana upah belum cair")
    assert r.obstacle == "dana upah belum cair" and r.wages is None
    r = split_report("kendala semen telat upah sudah dibayar")
    assert r.obstacle == "semen telat" and r.wages is not None and r.wages.paid is True


@pytest.mark.parametrize("text", ["2", "15", " 7 ", "3 progres"])
def test_a_bare_number_is_an_answer_not_attendance(text: str) -> None:
    assert split_report(text).attendance is None
    assert not has_report("2") and has_report("15 orang") and has_report("L10 P5")
