"""Reading a whole daily report typed in one message (or a photo caption) into its parts.

Pure text work, no database: `split_report` finds the parts and their words; the report flow resolves
names, activities and figures against the KSM's roster and activities with the readers of
`kotaku.dialog.quick` and the services.

    hadir 15 progres 45
    hadir semua kecuali Agus, Bagus progres rabat 45 drainase 30 kendala semen telat
    15 orang L10 P5, progres 45%
    absen 15; progres paving 45 persen
    /hadir 12 orang upah dibayar
    progres 45,5 kendala berat hujan deras sejak pagi

Parts start at a keyword (any case, with or without a leading slash): attendance `hadir`, `absen`,
`kehadiran`, `masuk`; progress `progres`, `kemajuan`, `capaian`; obstacle `kendala`, `masalah`, `hambatan`;
wages `upah`, `gaji`. A count at the very start (`15 orang L10 P5`) is attendance. An obstacle's
description is free text: inside it a keyword starts a new part only when the figure that part needs
follows (`progres 45`, `hadir 12`, `upah dibayar`), so `kendala 3 pekerja tidak hadir karena sakit`
stays one description. Words that belong to no part are returned as `unread`, never dropped.

Typos of a keyword (`hadri 15`, `progess 45`) are not guessed into a report: `suggest_keyword` offers
the correction for the person to confirm.

Figures are ASCII digits (full-width `１５` or Arabic-Indic `١٥` stay as typed, so the part's reader refuses
them); every pattern here runs in time linear in the message, and a text longer than a message can be
(`MAX_INPUT_CHARS`) is read as words that belong to no part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import get_close_matches
from enum import StrEnum

from kotaku.dialog.quick import normalize_name
from kotaku.i18n import MAX_INPUT_CHARS, fold_width
from kotaku.models import Severity
from kotaku.services.obstacles import SEVERITY_WORDS


class Part(StrEnum):
    HADIR = "hadir"
    PROGRES = "progres"
    KENDALA = "kendala"
    UPAH = "upah"


KEYWORDS: dict[str, Part] = {
    **dict.fromkeys(("hadir", "absen", "absensi", "kehadiran", "masuk", "attendance", "present"), Part.HADIR),
    **dict.fromkeys(("progres", "progress", "kemajuan", "capaian", "realisasi"), Part.PROGRES),
    **dict.fromkeys(("kendala", "masalah", "hambatan", "obstacle", "problem"), Part.KENDALA),
    **dict.fromkeys(("upah", "gaji", "wages", "wage"), Part.UPAH),
}
MAX_SUGGESTION_TRIES = 3  # misspelt keywords tried by `suggest_keyword` before it gives up
MAX_SUGGESTION_WORDS = 64  # different words it compares with the keywords (the first ones of a message)
# The spelling shown in a suggestion for each part.
CANONICAL = {Part.HADIR: "hadir", Part.PROGRES: "progres", Part.KENDALA: "kendala", Part.UPAH: "upah"}

_KEYWORD_RE = re.compile(
    r"(?<![\w/])/?(" + "|".join(sorted(KEYWORDS, key=len, reverse=True)) + r")(?:@\w+)?(?![\w])",
    re.IGNORECASE,
)
# A count that can open a message without a keyword: `15`, `15 orang`, `L10 P5`, `15 orang L10 P5`.
# A run of digits is taken whole (`[0-9]+(?![0-9])`): split between two repeats it backtracks quadratically.
_N = r"[0-9]+(?![0-9])"
_LEADING_COUNT_RE = re.compile(
    rf"^\s*(?:{_N}\s*(?:orang|org|pekerja)?|(?:l|p)\s*{_N}|{_N}\s*(?:l|p))"
    rf"(?:\s*,?\s*(?:{_N}\s*(?:l|p)|(?:l|p)\s*{_N}))*(?![\w])",
    re.IGNORECASE,
)
_PAID_RE = re.compile(r"\b(belum|blm|sudah|sdh|udah|telah|dibayar|dibayarkan|lunas|paid|unpaid|not)\b", re.I)
# What may follow a keyword inside an obstacle's description for it to start a new part (matched at the
# keyword's end, `pattern.match(text, pos)`, so no copy of the rest of the text is made per keyword).
_STARTS = {
    Part.HADIR: re.compile(r"\s*[:=]?\s*(?:[0-9]|semua|all\b|lengkap|l\s*[0-9]|p\s*[0-9])", re.IGNORECASE),
    Part.PROGRES: re.compile(r"\s*[:=]?\s*(?:[^\d\W]+\s+){0,3}[0-9]", re.IGNORECASE),
    # (`kendala upah belum cair` is about wages, not the wages part: only a payment said done, or a figure)
    Part.UPAH: re.compile(
        r"\s*[:=]?\s*(?:(?:sudah|sdh|telah)\s+dibayar|dibayar|lunas|total|rp|[0-9])", re.IGNORECASE
    ),
    Part.KENDALA: re.compile(r"\s*\S", re.IGNORECASE),
}
_SEPARATORS = " \t\n,;:.-–—=+&"
# `rabat 45 drainase 30,5%`: an optional activity hint before each figure and its optional unit.
_FIGURE_RE = re.compile(
    r"(?<![\w-])(?P<num>[0-9]+(?:[.,][0-9]+)?)\s*(?P<unit>%|persen|percent|pct|m²|m³|m2|m3|m1|m'|meter|mtr|m|unit|buah|bh|titik|"
    r"ls|paket)?(?![\w])",
    re.IGNORECASE,
)
# A wage amount in the wages part; only from the start of a figure (searching from inside a long run of
# digits, each start backtracking over the run, would be quadratic).
_AMOUNT_RE = re.compile(
    r"(?:total\s*:?\s*)?(?:rp\.?\s*)?(?<![0-9])[0-9][0-9.,]*\s*(?:rb|ribu|k|jt|juta)?(?![\w])", re.I
)
_HINT_NOISE = frozenset({"dan", "and", "serta", "kegiatan", "pekerjaan", "untuk", "yang", "sudah", "jadi"})


@dataclass(frozen=True)
class ProgressItem:
    """One figure of the progress part: the words naming the activity (may be empty) and the amount
    as typed (`45`, `45,5%`, `120 m`)."""

    hint: str
    amount: str


@dataclass(frozen=True)
class WagesText:
    """The wages part: whether they were paid (None: not said) and an amount typed, if any."""

    paid: bool | None
    amount: str = ""


@dataclass
class ReportText:
    """The parts found in one message, each as the words that followed its keyword."""

    attendance: str | None = None
    progress: list[ProgressItem] = field(default_factory=list)
    progress_text: str | None = None  # the whole progress part (when it held no figure)
    obstacle: str | None = None
    wages: WagesText | None = None
    unread: list[str] = field(default_factory=list)
    repeated: list[Part] = field(default_factory=list)  # a part given twice (the first one is read)

    @property
    def parts(self) -> list[Part]:
        found = []
        if self.attendance is not None:
            found.append(Part.HADIR)
        if self.progress or self.progress_text is not None:
            found.append(Part.PROGRES)
        if self.obstacle is not None:
            found.append(Part.KENDALA)
        if self.wages is not None:
            found.append(Part.UPAH)
        return found


def _clean(text: str) -> str:
    """NFKC (but digits other than 0-9 stay as typed), dashes unified, one space between words."""
    raw = fold_width(text)
    raw = re.sub(r"[\u2010-\u2015\u2212]", "-", raw)
    return " ".join(raw.split())


def _keywords(text: str) -> list[tuple[int, int, Part]]:
    """(start, end, part) of each keyword that starts a part. Inside an obstacle's description a keyword
    counts only when what its part needs follows it."""
    found: list[tuple[int, int, Part]] = []
    current: Part | None = None
    for m in _KEYWORD_RE.finditer(text):
        part = KEYWORDS[m.group(1).lower()]
        if current == Part.KENDALA and not _STARTS[part].match(text, m.end()):
            continue
        if (
            part == Part.HADIR
            and m.group(1).lower() == "masuk"
            and not _STARTS[Part.HADIR].match(text, m.end())
        ):
            continue  # `masuk` is a common word; only `masuk 12` is attendance
        found.append((m.start(), m.end(), part))
        current = part
    return found


def split_report(text: str) -> ReportText:
    """The parts of a report typed in one message (see the module docstring)."""
    if len(text) > MAX_INPUT_CHARS:
        return ReportText(unread=[" ".join(text[:MAX_INPUT_CHARS].split())])
    raw = _clean(text)
    out = ReportText()
    marks = _keywords(raw)
    head_end = marks[0][0] if marks else len(raw)
    head = raw[:head_end].strip(_SEPARATORS)
    if head:
        m = _LEADING_COUNT_RE.match(head)
        # A bare number is an answer (a numbered button, a figure asked for), not attendance: only a count
        # that says what it counts (`15 orang`, `L10 P5`) opens a report without a keyword.
        if m and not re.fullmatch(r"[0-9]+", m.group(0).strip()):
            out.attendance = m.group(0).strip(_SEPARATORS)
            rest = head[m.end() :].strip(_SEPARATORS)
            if rest:
                out.unread.append(rest)
        else:
            out.unread.append(head)
    for i, (_, end, part) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else len(raw)
        body = raw[end:stop].strip(_SEPARATORS)
        _read_part(out, part, body)
    return out


def _read_part(out: ReportText, part: Part, body: str) -> None:
    if part in out.parts:
        out.repeated.append(part)
        if body:
            out.unread.append(f"{CANONICAL[part]} {body}")
        return
    if part == Part.HADIR:
        out.attendance = body
    elif part == Part.PROGRES:
        items, rest = _progress_items(body)
        out.progress = items
        if not items:
            out.progress_text = body
        elif rest:
            out.unread.append(rest)
    elif part == Part.KENDALA:
        out.obstacle = body
    else:
        out.wages = _wages(body)
        if out.wages.paid is None and not out.wages.amount:
            out.unread.append(f"upah {body}".strip())


def _progress_items(body: str) -> tuple[list[ProgressItem], str]:
    """`rabat 45 drainase 30` -> two items; words after the last figure are returned as the rest."""
    items: list[ProgressItem] = []
    pos = 0
    for m in _FIGURE_RE.finditer(body):
        hint_words = [
            w
            for w in re.split(r"[\s,;:=]+", body[pos : m.start()])
            if w and normalize_name(w) not in _HINT_NOISE
        ]
        amount = m.group("num") + (f" {m.group('unit')}" if m.group("unit") else "")
        if m.group("unit") and m.group("unit").lower() in {"%", "persen", "percent", "pct"}:
            amount = f"{m.group('num')}%"
        items.append(ProgressItem(hint=" ".join(hint_words), amount=amount))
        pos = m.end()
    rest = body[pos:].strip(_SEPARATORS) if items else body
    return items, rest


def _wages(body: str) -> WagesText:
    words = {w.lower() for w in _PAID_RE.findall(body)}
    paid: bool | None = None
    if words & {"belum", "blm", "unpaid", "not"}:
        paid = False
    elif words & {"sudah", "sdh", "udah", "telah", "dibayar", "dibayarkan", "lunas", "paid"}:
        paid = True
    amount_match = _AMOUNT_RE.search(body)
    amount = amount_match.group(0).strip() if amount_match else ""
    return WagesText(paid=paid, amount=amount)


def has_report(text: str) -> bool:
    """Whether a message (without a leading command) reads as a report: at least one part, and a figure,
    a name list or a description to go with it (`hadir` alone is not a report)."""
    found = split_report(text)
    if not found.parts:
        return False
    return any(
        (
            bool(found.attendance),
            bool(found.progress),
            bool(found.obstacle),
            found.wages is not None and (found.wages.paid is not None or bool(found.wages.amount)),
        )
    )


def suggest_keyword(text: str) -> str | None:
    """The message with a misspelt keyword corrected when that makes it a report: `hadri 15` ->
    `hadir 15`; None when no word is close to a keyword or the correction reads no better."""
    if len(text) > MAX_INPUT_CHARS:
        return None
    words = text.split()
    keywords = list(KEYWORDS)
    close_to: dict[str, list[str]] = {}
    tries = 0
    for i, w in enumerate(words):
        bare = w.lstrip("/").lower()
        # (a word over 16 letters is below the cutoff against any keyword, the longest has 10)
        if not 4 <= len(bare) <= 16 or bare in KEYWORDS:
            continue
        if bare not in close_to:
            if len(close_to) == MAX_SUGGESTION_WORDS:
                break
            close_to[bare] = get_close_matches(bare, keywords, n=1, cutoff=0.75)
        close = close_to[bare]
        if close:
            fixed = " ".join([*words[:i], CANONICAL[KEYWORDS[close[0]]], *words[i + 1 :]])
            if has_report(fixed):
                return fixed
            tries += 1
            if tries == MAX_SUGGESTION_TRIES:  # each try reads the whole message again
                break
    return None


def split_severity(text: str) -> tuple[Severity | None, str]:
    """A severity word first or right after the category word (`berat hujan …`, `material sedang pasir
    …`), taken out of the description; (None, text) when there is none there."""
    words = text.split()
    for i in range(min(2, len(words))):
        severity = SEVERITY_WORDS.get(words[i].lower().strip(",.:;"))
        if severity is not None:
            return severity, " ".join([*words[:i], *words[i + 1 :]]).strip(" ,:;-")
    return None, text
