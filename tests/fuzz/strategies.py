"""What people (and attackers) type where the bot reads a number, a date, a name list, a NIK or a phone:
Hypothesis strategies shared by the parser fuzz tests and `kotaku bench parsers`.

Three shapes of text: words of the bot's own vocabulary with figures around them (so runs reach deep
into each reader), any text at all, and the shape that makes regular expressions slow, a prefix, one
piece repeated up to the channels' 4,096 characters, and a suffix (`/progres ` + 4,095 ones + `!`).
Figures come in ASCII digits and in digits that `str.isdigit` accepts and no reader may: full-width,
Arabic-Indic, Devanagari, superscripts, mathematical bold."""

from __future__ import annotations

from typing import Any, TypeVar

from hypothesis import strategies as st

from kotaku.i18n import MAX_INPUT_CHARS

T = TypeVar("T")
# Decimal digits other than 0-9 (each a run `foreign_digits` finds) and digit-like characters.
FOREIGN_DIGITS = "０１２３４５６７８９٠١٢٣٤٥٦٧٨٩۳०१२३४५६७८९𝟎𝟗߃"
DIGIT_LIKE = "²³¹①⑨½"
SEPARATORS = " ,.;:-/&+\n\t\u00a0–−"
VOCABULARY = [
    # counts and names
    "orang", "org", "pekerja", "L", "P", "laki-laki", "perempuan", "lk", "pr", "dan", "and", "semua",
    "kecuali", "tidak ada", "hapus", "centang", "sampai", "s/d", "to", "no", "nomor", "Budi", "Sari",
    "Agus", "Joko", "Dewi", "Santoso", "Wulandari",
    # reports
    "hadir", "/hadir", "absen", "masuk", "progres", "/progres", "kemajuan", "kendala", "masalah", "upah",
    "gaji", "dibayar", "belum", "sudah", "lunas", "total", "jumlah", "rabat", "drainase", "paving",
    # amounts, units, dates
    "Rp", "rp.", "IDR", "rb", "ribu", "k", "jt", "juta", ",-", "%", "persen", "m", "m2", "m²", "m³",
    "meter", "unit", "titik", "hari ini", "kemarin", "today",
    # phones and NIKs
    "+", "+62", "62", "0812", "(0812)", "ext",
]  # fmt: skip


def ascii_number() -> st.SearchStrategy[str]:
    """A figure in ASCII digits: small, round, with Indonesian or English separators, or very long."""
    return st.one_of(
        st.integers(min_value=-50, max_value=1_000).map(str),
        st.integers(min_value=0, max_value=10**16).map(str),
        st.integers(min_value=0, max_value=10**12).map(lambda n: f"{n:,}".replace(",", ".")),
        st.integers(min_value=0, max_value=10**12).map(lambda n: f"{n:,}"),
        st.tuples(st.integers(0, 10_000), st.integers(0, 99)).map(lambda p: f"{p[0]},{p[1]}"),
        st.tuples(st.integers(0, 10_000), st.integers(0, 99)).map(lambda p: f"{p[0]}.{p[1]}"),
        st.text(alphabet="0123456789.,", min_size=1, max_size=30),
        st.integers(min_value=1, max_value=MAX_INPUT_CHARS).map(lambda n: "9" * n),
    )


def foreign_number() -> st.SearchStrategy[str]:
    """A figure with at least one digit no reader may take for a number."""
    return st.tuples(
        st.text(alphabet="0123456789.,", max_size=8),
        st.text(alphabet=FOREIGN_DIGITS, min_size=1, max_size=8),
        st.text(alphabet="0123456789.,", max_size=8),
    ).map("".join)


def figure() -> st.SearchStrategy[str]:
    return st.one_of(
        ascii_number(), ascii_number(), foreign_number(), st.text(alphabet=DIGIT_LIKE, min_size=1, max_size=3)
    )


def vocabulary_text(max_words: int = 12) -> st.SearchStrategy[str]:
    """Words of the bot's vocabulary, figures and a little noise, joined by separators."""
    word = st.one_of(
        st.sampled_from(VOCABULARY), figure(), st.text(max_size=6), st.sampled_from(VOCABULARY).map(str.upper)
    )
    return st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), max_size=max_words).map(
        lambda parts: "".join(w + s for w, s in parts).rstrip()
    )


def pumped(alphabet: str = "0123456789" + SEPARATORS + "lpLPa!x%") -> st.SearchStrategy[str]:
    """prefix + piece × n + suffix, at most `MAX_INPUT_CHARS` long: where backtracking patterns blow up."""
    piece = st.one_of(
        st.text(alphabet=alphabet, min_size=1, max_size=4),
        st.sampled_from(VOCABULARY).map(lambda w: w + " "),
        st.sampled_from(["1", "9", " ", "\n", "1.", "1,", "1 ", "a,", "l1", "dan ", "١"]),
    )
    return st.tuples(
        st.one_of(
            st.sampled_from(["", "/progres ", "hadir ", "upah ", "Rp ", "+", "total "]), st.text(max_size=6)
        ),
        piece,
        st.integers(min_value=1, max_value=MAX_INPUT_CHARS),
        st.one_of(st.sampled_from(["", "!", "x", "\n", " m", "%", ",-", " L"]), st.text(max_size=3)),
    ).map(lambda p: _pump(*p))


def _pump(prefix: str, piece: str, length: int, suffix: str) -> str:
    body = prefix + piece * (length // len(piece) + 1)
    return body[: min(len(prefix) + length, MAX_INPUT_CHARS - len(suffix))] + suffix


def typed(max_words: int = 12) -> st.SearchStrategy[str]:
    """Any of the three shapes: vocabulary with figures (most often), any text, a pumped text."""
    return st.one_of(vocabulary_text(max_words), vocabulary_text(max_words), st.text(max_size=60), pumped())


def batch(strategy: st.SearchStrategy[T], size: int) -> st.SearchStrategy[list[T]]:
    """`size` inputs per Hypothesis example: one example reads a batch, so the run reads many inputs for
    the overhead of few examples (and a failing batch still shrinks to the one input that fails)."""
    return st.lists(strategy, min_size=size, max_size=size)


FULLWIDTH_TABLE = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC_TABLE = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
VARIANTS = 10


def variants(text: str) -> list[str]:
    """`VARIANTS` mutations of one drawn text, each an input of its own (drawing is the slow part of a
    Hypothesis run; mutating is nearly free): as drawn, upper case, in full-width and in Arabic-Indic
    digits, repeated up to the channels' limit, with a tail, without spaces, commas for points, behind a
    slash, reversed."""
    repeated = (text + " ") * (MAX_INPUT_CHARS // (len(text) + 1))
    return [
        text,
        text.upper(),
        text.translate(FULLWIDTH_TABLE),
        text.translate(ARABIC_INDIC_TABLE),
        repeated[:MAX_INPUT_CHARS],
        text + "!",
        text.replace(" ", ""),
        text.replace(".", ","),
        "/" + text,
        text[::-1],
    ]


def expanded(values: list[Any]) -> list[Any]:
    """Every value of a batch with its `variants` (for a value that is not a text: itself, then the
    variants of its text but the first): `VARIANTS` inputs a value."""
    out: list[Any] = []
    for value in values:
        out.extend(variants(value) if isinstance(value, str) else [value, *variants(str(value))[1:]])
    return out


def roster_names() -> st.SearchStrategy[list[str]]:
    """A KSM's roster: 0 to 40 names, some alike (two Budis), some odd (accents, digits, punctuation)."""
    name = st.one_of(
        st.tuples(
            st.sampled_from(["Budi", "Sari", "Agus", "Joko", "Dewi", "Siti", "Bambang", "Yuni", "Rudi"]),
            st.sampled_from(["", " Santoso", " Wulandari", " Hartono", " Salim", " Astuti", " H."]),
        ).map("".join),
        st.text(min_size=1, max_size=20),
    )
    return st.lists(name, max_size=40)


def nik_like() -> st.SearchStrategy[object]:
    """NIKs as typed or read from a spreadsheet: valid, spaced, wrong, in other digits, floats, NaN."""
    valid = st.tuples(
        st.integers(11, 94), st.integers(1, 99), st.integers(1, 99), st.integers(1, 71), st.integers(1, 12),
        st.integers(0, 99), st.integers(1, 9999),
    ).map(lambda p: f"{p[0]:02d}{p[1]:02d}{p[2]:02d}{p[3]:02d}{p[4]:02d}{p[5]:02d}{p[6]:04d}")  # fmt: skip
    spaced = valid.map(lambda n: f"{n[:4]} {n[4:8]}-{n[8:12]}.{n[12:]}")
    other = valid.map(lambda n: n.translate(str.maketrans("0123456789", "０１２３４５６７８９")))
    return st.one_of(
        valid,
        spaced,
        other,
        st.text(alphabet="0123456789 .-" + FOREIGN_DIGITS, max_size=24),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=0, max_value=10**17),
        pumped("0123456789 .-"),
    )


def phone_like() -> st.SearchStrategy[str]:
    """Phone numbers as typed: Indonesian mobiles in every spelling, a `+` set apart, letters, others."""
    mobile = st.tuples(
        st.sampled_from(["811", "812", "813", "821", "852", "857", "878", "896"]),
        st.integers(10**6, 10**8 - 1),
    )
    spelled = mobile.flatmap(
        lambda m: st.sampled_from(
            [f"0{m[0]}{m[1]}", f"62{m[0]}{m[1]}", f"+62 {m[0]} {m[1]}", f"+ {m[0]}-{m[1]}", f"+ 62{m[0]}{m[1]}", f"(0{m[0]}) {m[1]}"]
        )
    )  # fmt: skip
    return st.one_of(
        spelled,
        spelled,
        st.text(alphabet="0123456789+-() ./" + FOREIGN_DIGITS + "abcXYZ", max_size=24),
        st.text(max_size=20),
        pumped("0123456789+- "),
    )
