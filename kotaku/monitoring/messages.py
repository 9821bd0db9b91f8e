"""The explanation sentence of every monitoring finding (Indonesian and English), and the helpers that put
Babel-formatted figures into a finding's parameters.

A finding is rendered later, in each reader's language, from its catalogue key and parameters
(`lifecycle.alert_text`). Parameters must be JSON, so every figure is stored raw (dates as ISO strings)
and already formatted for each language: `{planned_id}` in the Indonesian sentence, `{planned_en}` in
the English one.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from kotaku import catalogue
from kotaku.i18n import SUPPORTED, fmt_date

# A national sweep formats tens of thousands of figures: numbers and Rupiah are formatted here with the
# separators of each locale (the same output as kotaku.i18n, which calls Babel for every value); dates are
# few, so Babel is called once per date.
_SEPARATORS = {"id": (".", ","), "en": (",", ".")}  # (grouping, decimal)


def _number(value: float, lang: str, digits: int) -> str:
    group, decimal = _SEPARATORS.get(lang, _SEPARATORS["id"])
    text = f"{round(value, digits):,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(",", "\0").replace(".", decimal).replace("\0", group)


@lru_cache(maxsize=4096)
def _date(value: date, lang: str) -> str:
    return fmt_date(value, lang)


def _rupiah(value: float, lang: str) -> str:
    return "Rp" + f"{round(value):,}".replace(",", ".")


def num(name: str, value: float | None, digits: int = 2) -> dict[str, Any]:
    """`{name: 12.5, name_id: "12,5", name_en: "12.5"}`; None is shown as "-"."""
    raw = None if value is None else round(float(value), digits)
    out: dict[str, Any] = {name: raw}
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = "-" if raw is None else _number(raw, lang, digits)
    return out


def signed(name: str, value: float) -> dict[str, Any]:
    """A deviation with its sign: `−10,01` / `+2.5`."""
    raw = round(float(value), 2)
    out: dict[str, Any] = {name: raw}
    sign = "+" if raw > 0 else ("−" if raw < 0 else "±")
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = sign + _number(abs(raw), lang, 2)
    return out


def day(name: str, value: date | None) -> dict[str, Any]:
    out: dict[str, Any] = {name: value.isoformat() if value else None}
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = _date(value, lang) if value else "-"
    return out


def rupiah(name: str, value: int | float) -> dict[str, Any]:
    raw = round(value)
    out: dict[str, Any] = {name: raw}
    for lang in SUPPORTED:
        out[f"{name}_{lang}"] = _rupiah(raw, lang)
    return out


def text(name: str, key: str, **kwargs: Any) -> dict[str, Any]:
    """A phrase from the catalogue in each language (e.g. "the same file as")."""
    return {f"{name}_{lang}": catalogue.t(key, lang, **kwargs) for lang in SUPPORTED}
