"""Indonesian-first formatting and parsing of dates, numbers, percents and Rupiah (Babel)."""

from __future__ import annotations

import re
from datetime import date

from babel.dates import format_date as _babel_date
from babel.numbers import format_currency, format_decimal

LOCALES = {"id": "id_ID", "en": "en_US"}
SUPPORTED = ("id", "en")

_NUMBER_RE = re.compile(r"^[+-]?[\d.,]+$")


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


def parse_number(text: str) -> float | None:
    """Read `45`, `45,5`, `45.5`, `1.500`, `1.500,5`, `1,500.5`; None when it is not a number.

    Both decimal comma and point are understood. With both present, the last one is the decimal mark;
    a lone point followed by exactly three digits is a thousands separator (Indonesian `1.500`).
    """
    raw = text.strip().replace(" ", "").replace("\u00a0", "")
    if not raw or not _NUMBER_RE.match(raw) or not any(ch.isdigit() for ch in raw):
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
        return float(raw)
    except ValueError:
        return None
