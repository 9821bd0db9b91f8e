"""Indonesian-first formatting and parsing of dates, numbers, percents and Rupiah (Babel)."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date

from babel.dates import format_date as _babel_date
from babel.numbers import format_currency, format_decimal

LOCALES = {"id": "id_ID", "en": "en_US"}
SUPPORTED = ("id", "en")

# What people type is read only up to the channels' message limit (Telegram's and WhatsApp's 4,096
# characters); a number only as ASCII digits with `.`/`,` separators, of a bounded length and size.
MAX_INPUT_CHARS = 4096
MAX_NUMBER_CHARS = 24  # `1.500.000.000.000,50` is 20
MAX_NUMBER = 1e15  # well inside a float's exact integers (2**53), and more Rupiah than any program has
_NUMBER_RE = re.compile(r"[+-]?[0-9.,]+")
# A run of decimal digits other than 0-9: full-width `３`, Arabic-Indic `٣`, Devanagari `३`, ...
_FOREIGN_DIGITS_RE = re.compile(r"((?:(?![0-9])\d)+)")


def locale(lang: str) -> str:
    return LOCALES.get(lang, "id_ID")


def fmt_date(d: date, lang: str = "id", with_weekday: bool = False) -> str:
    """`2 Desember 2021` (id) or `December 2, 2021` (en)."""
    if with_weekday:
        pattern = "EEEE, d MMMM y" if lang == "id" else "EEEE, MMMM d, y"
        return _babel_date(d, format=pattern, locale=locale(lang))
    return _babel_date(d, format="long", locale=locale(lang))


def fmt_short_date(d: date, lang: str = "id") -> str:
    return _babel_date(d, format="d MMM", locale=locale(lang))


def fmt_rupiah(amount: int | float, lang: str = "id") -> str:
    """`Rp90.000` in both languages: Rupiah is written the Indonesian way."""
    return format_currency(round(amount), "IDR", format="¤#,##0", currency_digits=False, locale="id_ID")


def fmt_number(value: int | float, lang: str = "id", digits: int = 2) -> str:
    value = round(float(value), digits)
    if value.is_integer():
        value = int(value)
    return format_decimal(value, locale=locale(lang))


def fmt_percent(value: float, lang: str = "id") -> str:
    """`45,5%` (id) / `45.5%` (en), at most two decimals."""
    return f"{fmt_number(value, lang)}%"


def fmt_signed(value: float, lang: str = "id") -> str:
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{fmt_number(abs(value), lang)}"


def foreign_digits(text: str) -> list[str]:
    """The runs of decimal digits in `text` that are not ASCII 0-9 (`３３`, `٤٥`): never read as numbers."""
    return _FOREIGN_DIGITS_RE.findall(text)


def fold_width(text: str) -> str:
    """NFKC (full-width letters and punctuation, ligatures, `m²` to `m2`) except for decimal digits other
    than 0-9, which stay as typed so that no reader takes `３` or `٣` for a number."""
    parts = _FOREIGN_DIGITS_RE.split(text)
    return "".join(part if i % 2 else unicodedata.normalize("NFKC", part) for i, part in enumerate(parts))


def parse_number(text: str) -> float | None:
    """Read `45`, `45,5`, `45.5`, `1.500`, `1.500,5`, `1,500.5`; None when it is not a number.

    Both decimal comma and point are understood. With both present, the last one is the decimal mark;
    a lone point followed by exactly three digits is a thousands separator (Indonesian `1.500`).
    Only ASCII digits, at most `MAX_NUMBER_CHARS` characters and `MAX_NUMBER` in size: never inf or NaN.
    """
    raw = text.strip().replace(" ", "").replace("\u00a0", "")
    if (
        not raw
        or len(raw) > MAX_NUMBER_CHARS
        or not _NUMBER_RE.fullmatch(raw)
        or not any("0" <= ch <= "9" for ch in raw)
    ):
        return None
    if "," in raw and "." in raw:
        dec = "," if raw.rfind(",") > raw.rfind(".") else "."
        thou = "." if dec == "," else ","
        raw = raw.replace(thou, "").replace(dec, ".")
    elif "," in raw:
        if raw.count(",") > 1:
            return None
        raw = raw.replace(",", ".")
    elif raw.count(".") > 1:
        parts = raw.split(".")
        if not all(len(p) == 3 for p in parts[1:]):
            return None
        raw = raw.replace(".", "")
    elif "." in raw:
        head, tail = raw.split(".")
        if len(tail) == 3 and head.lstrip("+-") not in ("", "0"):
            raw = head + tail
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= MAX_NUMBER else None
