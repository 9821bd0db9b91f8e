"""Amounts in words ("terbilang") for the wage list: `1445000` -> "satu juta empat ratus empat puluh lima
ribu rupiah". num2words (lang "id") spells the number the way Indonesian payment papers do: "seribu",
"seratus", "sebelas", "satu juta", "dua miliar", "satu triliun"."""

from __future__ import annotations

from num2words import num2words

CURRENCY_WORD = "rupiah"


def terbilang(amount: int, lang: str = "id") -> str:
    """A whole number of Rupiah in words, ending in "rupiah" (English: "... rupiah" too)."""
    value = int(amount)
    if value < 0:
        raise ValueError("terbilang: negative amount")
    words = str(num2words(value, lang="en" if lang == "en" else "id"))
    if lang == "en":
        words = words.replace(",", "")
    return f"{' '.join(words.split())} {CURRENCY_WORD}"
