"""Every reader of what people type, under random input: quick commands (counts, names, the checklist
selection, the one-message report, `/progres` amounts), numbers, dates, Rupiah, NIK, phone and the
importer's cell values.

The invariants, after each input: nothing is raised but the reader's documented error; a result is in
range (counts of at most six digits, finite numbers up to `MAX_NUMBER`, dates in the window, positions on
the roster, a NIK of 16 ASCII digits, a phone in E.164); a digit other than 0-9 is never read as a number;
what a reader returns comes from what was typed. Each test reads `EXAMPLES` batches of `BATCH` drawn
inputs with their `VARIANTS` mutations and checks it read at least `MIN_INPUTS` (10,000 with the `fuzz`
profile of CI, 200,000 with `HYPOTHESIS_PROFILE=long`, `make fuzz`). How long an input takes is measured
by `kotaku bench parsers`, not asserted here."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from kotaku.dialog.quick import (
    DAYS_AHEAD,
    EARLIEST_DAY,
    MAX_COUNT_DIGITS,
    Count,
    CountError,
    Selection,
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
from kotaku.dialog.quick_report import KEYWORDS, ReportText, has_report, split_report, suggest_keyword
from kotaku.i18n import MAX_INPUT_CHARS, MAX_NUMBER, fold_width, foreign_digits, parse_number
from kotaku.importer import MESSAGES
from kotaku.importer import values as v
from kotaku.security import InvalidNik, InvalidPhone, NikVault, generate_key, normalize_nik, normalize_phone
from kotaku.services.progress import AmountError, parse_amount, split_quick_form
from tests.fuzz.conftest import BATCH, EXAMPLES, MIN_INPUTS, enough, run_fuzz
from tests.fuzz.strategies import (
    VARIANTS,
    ascii_number,
    batch,
    expanded,
    figure,
    foreign_number,
    nik_like,
    phone_like,
    pumped,
    roster_names,
    typed,
    vocabulary_text,
)

TODAY = date(2026, 11, 26)
VAULT = NikVault(generate_key())
E164_RE = re.compile(r"\+[1-9][0-9]{6,14}")
ASCII_DIGIT_RE = re.compile(r"[0-9]")
TO_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
TO_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_the_profiles_give_every_parser_ten_thousand_inputs() -> None:
    assert EXAMPLES["fuzz"] * BATCH * VARIANTS >= MIN_INPUTS["fuzz"] >= 10_000
    assert EXAMPLES["long"] * BATCH * VARIANTS >= MIN_INPUTS["long"] >= 20 * MIN_INPUTS["fuzz"]


def _digits_typed(text: str) -> bool:
    return ASCII_DIGIT_RE.search(text) is not None


def _each(check: Any) -> Any:
    """A `run_fuzz` reader: `check` on every input of a batch and its mutations."""

    def read(values: list[Any]) -> int:
        inputs = expanded(values)
        for value in inputs:
            check(value)
        return len(inputs)

    return read


# --- counts ---------------------------------------------------------------------------------------


def _check_count(text: str) -> None:
    try:
        count = parse_count(text)
    except CountError as exc:
        assert exc.code in {"format", "negative", "mismatch", "too_big"}
        return
    assert isinstance(count, Count)
    assert not foreign_digits(text) and _digits_typed(text)
    for n in (count.total, count.male, count.female):
        assert n is None or 0 <= n < 2 * 10**MAX_COUNT_DIGITS
    if count.by_gender:
        assert count.total == (count.male or 0) + (count.female or 0)


def test_parse_count() -> None:
    assert enough(run_fuzz(batch(typed(6), BATCH), _each(_check_count)))


# --- names and the checklist ------------------------------------------------------------------------


def _read_names(drawn: tuple[list[str], list[str]]) -> int:
    names, texts = drawn
    roster = list(enumerate(names, start=100))
    ids = {wid for wid, _ in roster}
    limit = name_limit(len(names))
    inputs = expanded(texts)
    for text in inputs:
        try:
            found = match_names(text, roster)
        except TooManyNames as exc:
            assert exc.typed > exc.limit == limit
        else:
            assert len(found) <= limit
            assert all(set(m.ids) <= ids and m.query.strip() for m in found)
        result = parse_roster_selection(text, names)
        if isinstance(result, Selection):
            assert result.indexes <= frozenset(range(len(names)))
            assert result.excluded <= frozenset(range(len(names)))
            assert not foreign_digits(text)
        else:
            assert isinstance(result, SelectionError)
            assert result.too_many == 0 or result.too_many > result.limit == limit
    return len(inputs)


def test_match_names_and_the_roster_selection() -> None:
    lists = st.lists(st.sampled_from(["a", "b", "Budi", "Sari", "agus", " ", ",", "1", "-", "3"])).map(
        "".join
    )
    texts = batch(st.one_of(typed(8), lists), BATCH)
    assert enough(run_fuzz(st.tuples(roster_names(), texts), _read_names))


# --- the one-message report -------------------------------------------------------------------------


def _cleaned(text: str) -> str:
    return " ".join(re.sub(r"[\u2010-\u2015\u2212]", "-", fold_width(text)).split())


def _typed_there(piece: str | None, cleaned: str) -> bool:
    """A piece of the report is a part of what was typed (a repeated part or wages not understood come
    back behind their keyword's usual spelling: `upah ...` for `gaji ...`)."""
    if piece is None or piece in cleaned:
        return True
    word, _, rest = piece.partition(" ")
    return word in KEYWORDS and (not rest or rest in cleaned)


def _check_report(text: str) -> None:
    found = split_report(text)
    assert isinstance(found, ReportText)
    if len(text) > MAX_INPUT_CHARS:
        assert not found.parts
        return
    cleaned = _cleaned(text)
    for piece in (found.attendance, found.progress_text, found.obstacle, *found.unread):
        assert _typed_there(piece, cleaned), piece
    for item in found.progress:
        assert re.fullmatch(r"[0-9]+(?:[.,][0-9]+)?(?:%| \S+)?", item.amount), item
        assert item.amount.split(" ")[0].rstrip("%") in cleaned
    if found.wages is not None and found.wages.amount:
        assert found.wages.amount in cleaned and _digits_typed(found.wages.amount)


def _read_reports(texts: list[str]) -> int:
    inputs = expanded(texts)
    for text in inputs:
        _check_report(text)
    for text in texts:  # the suggestion reads the message again per misspelt keyword: as drawn only
        assert isinstance(has_report(text), bool)
        fixed = suggest_keyword(text)
        assert fixed is None or (fixed != text and has_report(fixed))
    return len(inputs)


def test_split_report() -> None:
    assert enough(run_fuzz(batch(typed(14), BATCH), _read_reports))


# --- /progres amounts ---------------------------------------------------------------------------------


def _read_amounts(drawn: tuple[list[str], str, float]) -> int:
    texts, unit, target = drawn
    inputs = expanded(texts)
    for text in inputs:
        amount = parse_amount(text, unit, target)
        if amount.error is None:
            assert amount.percent is not None and 0 <= amount.percent <= 100
            assert amount.volume is None or 0 <= amount.volume <= target + 1e-9
            assert not foreign_digits(text)
        else:
            assert isinstance(amount.error, AmountError)
        act, amt = split_quick_form(text)
        if amt:
            assert amt[0] in "+-.,0123456789" and set(amt.split()) <= set(text.split())
        assert set(act.split()) <= set(text.split())
    return len(inputs)


def test_progress_amounts() -> None:
    with_unit = st.tuples(figure(), st.sampled_from(["", " m", "%", " unit", "m2", " persen"])).map("".join)
    drawn = st.tuples(
        batch(st.one_of(typed(4), with_unit), BATCH),
        st.sampled_from(["m", "m2", "unit", "titik", "paket"]),
        st.floats(min_value=0.5, max_value=1e6),
    )
    assert enough(run_fuzz(drawn, _read_amounts))


# --- numbers, Rupiah and dates ------------------------------------------------------------------------


def _check_number(text: str) -> None:
    value = parse_number(text)
    if value is not None:
        assert math.isfinite(value) and abs(value) <= MAX_NUMBER
        assert not foreign_digits(text) and _digits_typed(text)
    rupiah = parse_rupiah(text)
    if rupiah is not None:
        assert isinstance(rupiah, int) and abs(rupiah) <= MAX_NUMBER
        assert not foreign_digits(text) and _digits_typed(text)
    amount, is_total = parse_wages(text)
    assert amount is None or abs(amount) <= MAX_NUMBER
    assert isinstance(is_total, bool)


def test_numbers_and_rupiah() -> None:
    prefixes, suffixes = ["Rp ", "rp.", "total ", "IDR", ""], ["", " rb", "jt", " juta", ",-", "k"]
    written = st.tuples(st.sampled_from(prefixes), ascii_number(), st.sampled_from(suffixes)).map("".join)
    assert enough(run_fuzz(batch(st.one_of(figure(), typed(3), written), BATCH), _each(_check_number)))


def _read_back(numbers: list[int]) -> int:
    for n in numbers:
        written = f"{n:,}".replace(",", ".")  # `1.500.000`
        assert parse_number(str(n)) == n and parse_number(written) == n
        assert parse_rupiah("Rp" + written) == n and parse_rupiah(f"Rp {written},-") == n
        assert parse_number(str(n).translate(TO_ARABIC_INDIC)) is None
        assert parse_rupiah(written.translate(TO_FULLWIDTH)) is None
    return len(numbers)


def test_numbers_written_the_indonesian_way_read_back() -> None:
    numbers = batch(st.integers(min_value=0, max_value=int(MAX_NUMBER)), BATCH * VARIANTS)
    assert enough(run_fuzz(numbers, _read_back))


def _read_days(drawn: tuple[list[str], date]) -> int:
    texts, today = drawn
    inputs = expanded(texts)
    for text in inputs:
        day = parse_day(text, today)
        if day is not None:
            assert EARLIEST_DAY <= day <= today + timedelta(days=DAYS_AHEAD)
            assert not foreign_digits(text)
    return len(inputs)


def test_parse_day() -> None:
    typed_date = st.tuples(
        ascii_number(), st.sampled_from("/-."), ascii_number(), st.sampled_from(["", "/", "-"]),
        st.one_of(ascii_number(), foreign_number()),
    ).map("".join)  # fmt: skip
    drawn = st.tuples(
        batch(st.one_of(typed(3), typed_date), BATCH), st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
    )  # fmt: skip
    assert enough(run_fuzz(drawn, _read_days))


# --- NIK and phone ---------------------------------------------------------------------------------------


def _check_nik(raw: Any) -> None:
    try:
        nik = normalize_nik(raw)
    except InvalidNik:
        try:
            VAULT.hash(raw)
        except InvalidNik:
            return
        raise AssertionError(f"hashed a NIK that normalize_nik refuses: {raw!r}") from None
    assert re.fullmatch(r"[0-9]{16}", nik) and nik[:2] != "00"
    assert normalize_nik(nik) == nik and VAULT.hash(raw) == VAULT.hash(nik)


def test_normalize_nik() -> None:
    assert enough(run_fuzz(batch(nik_like(), BATCH), _each(_check_nik)))


def _check_phone(raw: str) -> None:
    try:
        phone = normalize_phone(raw)
    except InvalidPhone:
        return
    assert E164_RE.fullmatch(phone), phone
    assert normalize_phone(phone) == phone
    assert not foreign_digits(raw) and not re.search(r"[A-Za-z]", raw)
    if re.match(r"\+\s+[1-79]", raw):  # a `+` set apart is never a country code of its own
        assert phone.startswith("+62")


def test_normalize_phone() -> None:
    assert enough(run_fuzz(batch(phone_like(), BATCH), _each(_check_phone)))


# --- the importer's cell values -----------------------------------------------------------------------------

CELL_READERS: dict[str, Callable[[Any], Any]] = {
    "to_date": v.to_date,
    "to_time": v.to_time,
    "to_number": v.to_number,
    "to_integer": v.to_integer,
    "percent": v.percent,
    "latitude": v.latitude,
    "timezone": v.timezone,
    "nik": v.nik,
    "phone": v.phone,
    "yes_no": v.yes_no,
    "text": v.text,
}
ZONES = ["Asia/Jakarta", "WIB", "Etc/GMT+" + "9" * 300, "Asia", "localtime", "UTC", "Etc/GMT+99", "Etc/GMT-7"]


def cells() -> st.SearchStrategy[Any]:
    """Cells as openpyxl or a CSV file gives them: texts, numbers of every size, floats with NaN and
    infinities, booleans, dates and datetimes of any year, zones, NIKs and phones."""
    return st.one_of(
        typed(4),
        figure(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.booleans(),
        st.dates(),
        st.datetimes(),
        st.times(),
        st.sampled_from(ZONES),
        pumped("Etc/GMT+9/"),
        nik_like(),
        phone_like(),
    )


def _check_cell(name: str, value: Any) -> None:
    try:
        result = CELL_READERS[name](value)
    except v.CellError as exc:
        assert exc.key in MESSAGES, exc.key
        return
    if name == "to_date":
        assert v.EARLIEST_DATE <= result <= v.latest_date()
    elif name in {"to_number", "percent", "latitude"}:
        assert math.isfinite(result) and abs(result) <= MAX_NUMBER
    elif name == "to_integer":
        assert isinstance(result, int) and abs(result) <= MAX_NUMBER
    elif name == "timezone":
        assert len(result) <= v.MAX_ZONE_CHARS
    elif name == "nik":
        assert re.fullmatch(r"[0-9]{16}", result)
    elif name == "phone":
        assert E164_RE.fullmatch(result)
    if isinstance(value, str) and name in {"to_date", "to_time", "to_number", "to_integer", "nik", "phone"}:
        assert not foreign_digits(value), (name, value)


def _read_cells(drawn: list[tuple[str, Any]]) -> int:
    count = 0
    for name, value in drawn:
        for variant in expanded([value]):
            _check_cell(name, variant)
            count += 1
    return count


def test_importer_cell_values() -> None:
    assert enough(
        run_fuzz(batch(st.tuples(st.sampled_from(sorted(CELL_READERS)), cells()), BATCH), _read_cells)
    )


def _read_other_digits(texts: list[str]) -> int:
    """The same texts with their ASCII digits replaced by full-width or Arabic-Indic ones read as no number."""
    count = 0
    for text in expanded(texts):
        for table in (TO_FULLWIDTH, TO_ARABIC_INDIC):
            other = text.translate(table)
            count += 1
            if not foreign_digits(other):
                continue
            assert parse_number(other) is None and parse_rupiah(other) is None
            assert parse_day(other, TODAY) is None
            try:
                parse_count(other)
            except CountError:
                continue
            raise AssertionError(f"a count read from {other!r}")
    return count


def test_readers_never_take_other_digits_for_numbers() -> None:
    assert enough(run_fuzz(batch(vocabulary_text(6), BATCH), _read_other_digits))
