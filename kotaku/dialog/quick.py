"""Reading what people type after a quick command: head counts, worker names, dates and Rupiah amounts.

Pure functions, no database: the attendance flow (and anything else) passes the roster in.

- Counts: `23`, `23 orang`, `23 orang L18 P5`, `18L 5P`, `18 L 5 P`, `L18 P5`, `5P 18L`, `18 laki-laki 5 perempuan`.
- Names: `Budi, Sari, Joko` (also `;`, new lines, ` dan `, `&`), matched tolerantly: case, accents,
  punctuation, first names, prefixes of 3+ letters and typos (difflib similarity).
- Dates: `hari ini`/`today`, `kemarin`/`yesterday`, `24/11`, `24-11`, `24/11/2026`, `24-11-26`,
  `24.11.2026`, `2026-11-24` (day first; without a year, the year of `today`), from `EARLIEST_DAY` to a
  year after `today`.
- Rupiah: `85000`, `85.000`, `Rp 85.000`, `Rp85.000,-`, `85rb`, `85 ribu`, `85k`, `1,5 juta`; wages
  `total 1.955.000` (the day's total).
- A new worker's gender (`L`, `laki-laki`, `P`, `wanita`, ...) and skill (`pekerja`, `buruh`, `tukang`).
- A selection typed on the roster checklist (`parse_roster_selection`): numbers of the list `1 3 7`,
  `1,3,7`, ranges `1-5`, `1 sampai 5`, names `agus, bambang`, `semua`, `semua kecuali 3 7`,
  `all except agus`, `tidak ada`/`kosong`, and `-3 7`, `hapus 3`, `batal centang agus` to untick.

Numbers are ASCII digits only (full-width `３` or Arabic-Indic `٣` are not read as numbers), of a bounded
length; a text longer than a message can be (`MAX_INPUT_CHARS`) is not read at all, a list of names only up
to `name_limit` names, and every reader takes time linear in what it reads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import SequenceMatcher
from enum import StrEnum

from kotaku.i18n import MAX_INPUT_CHARS, MAX_NUMBER, fold_width, foreign_digits, parse_number
from kotaku.models import Gender, Skill

ALL_WORDS = {"semua", "semua hadir", "semuanya", "all", "everyone", "lengkap"}

# Similarity (0..1) a typo must reach, and how far ahead the best candidate must be to win alone.
FUZZY_CUTOFF = 0.75
FUZZY_MARGIN = 0.08


class CountError(ValueError):
    """A count that cannot be read; `code` is "format", "negative", "mismatch" (`15 orang L10 P4`) or
    "too_big" (a number of more than `MAX_COUNT_DIGITS` digits)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Count:
    """Workers present: by gender when given (`18L 5P`), else only the total (`23`)."""

    total: int
    male: int | None = None
    female: int | None = None

    @property
    def by_gender(self) -> bool:
        return self.male is not None or self.female is not None


_MALE = r"laki-laki|laki laki|laki|lk|l|pria|male|men|m"
_FEMALE = r"perempuan|wanita|female|women|pr|p|f"
_SUFFIX_RE = re.compile(rf"(?<![a-z0-9])(-?[0-9]+)\s*({_MALE}|{_FEMALE})(?![a-z0-9])")
_PREFIX_RE = re.compile(rf"(?<![a-z0-9])({_MALE}|{_FEMALE})\s*(-?[0-9]+)(?![a-z0-9])")
_TOTAL_RE = re.compile(r"^(-?[0-9]+)\s*(orang|org|pekerja|workers?|people)?$")
_MALE_SET = set(_MALE.split("|"))
_LEAD_TOTAL_RE = re.compile(r"^([0-9]+)\s*(?:orang|org|pekerja)\s+(?=\S)")
MAX_COUNT_DIGITS = 6  # a head count of a million is already far beyond any site
_LONG_NUMBER_RE = re.compile(rf"[0-9]{{{MAX_COUNT_DIGITS + 1}}}")


def parse_count(text: str) -> Count:
    """`23` -> Count(23); `18L 5P` -> Count(23, 18, 5). Raises CountError("format"|"negative"|"mismatch"|
    "too_big"); only ASCII digits are numbers."""
    if len(text) > MAX_INPUT_CHARS or foreign_digits(text):
        raise CountError("format")
    raw = re.sub(r"[,;+&]|\bdan\b|\band\b", " ", text.strip().lower())
    raw = re.sub(r"\s+", " ", raw).strip()
    if not raw:
        raise CountError("format")
    if _LONG_NUMBER_RE.search(raw):
        raise CountError("too_big")
    m = _TOTAL_RE.match(raw)
    if m:
        n = int(m.group(1))
        if n < 0:
            raise CountError("negative")
        return Count(total=n)
    male: int | None = None
    female: int | None = None
    # `15 orang L10 P5`: a total before the split must agree with it.
    stated: int | None = None
    if lead := _LEAD_TOTAL_RE.match(raw):
        stated = int(lead.group(1))
        raw = raw[lead.end() :].strip()
    rest = raw
    for regex, num_group, word_group in ((_SUFFIX_RE, 1, 2), (_PREFIX_RE, 2, 1)):
        for found in regex.finditer(rest):
            n = int(found.group(num_group))
            if n < 0:
                raise CountError("negative")
            if found.group(word_group) in _MALE_SET:
                if male is not None:
                    raise CountError("format")
                male = n
            else:
                if female is not None:
                    raise CountError("format")
                female = n
        rest = regex.sub(" ", rest)
    if rest.strip() or (male is None and female is None):
        raise CountError("format")
    total = (male or 0) + (female or 0)
    if stated is not None and stated != total:
        raise CountError("mismatch")
    return Count(total=total, male=male or 0, female=female or 0)


def is_all(text: str) -> bool:
    return normalize_name(text) in ALL_WORDS


# --- names ---------------------------------------------------------------------------------------


def normalize_name(text: str) -> str:
    """Lower case, accents and punctuation removed, single spaces: `  Büdi-Santoso ` -> `budi santoso`."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


_NAME_SEP_RE = re.compile(r"[,;\n/&]")
_AND_RE = re.compile(r" (?:dan|and) ", re.IGNORECASE)
MIN_NAME_LIMIT = 10


def split_names(text: str) -> list[str]:
    """`Budi, Sari dan Joko` -> ["Budi", "Sari", "Joko"] (white space inside a name made single)."""
    names: list[str] = []
    for piece in _NAME_SEP_RE.split(text):
        # (single spaces first: `\s+dan\s+` over a long run of spaces backtracks quadratically)
        names.extend(p.strip() for p in _AND_RE.split(" ".join(piece.split())))
    return [n for n in names if n]


def name_limit(roster_size: int) -> int:
    """How many names (or numbers) one message may list against a roster of `roster_size`: twice the
    roster (repeats and typos), at least `MIN_NAME_LIMIT`. Longer lists are refused, not matched."""
    return max(2 * roster_size, MIN_NAME_LIMIT)


class TooManyNames(ValueError):
    """A typed list of more names than `name_limit` allows for the roster: `typed` of at most `limit`."""

    def __init__(self, typed: int, limit: int) -> None:
        super().__init__(f"{typed} names, at most {limit}")
        self.typed = typed
        self.limit = limit


@dataclass(frozen=True)
class NameMatch:
    """What one typed name matched: one id (resolved), several (ambiguous) or none (unknown)."""

    query: str
    ids: tuple[int, ...]

    @property
    def resolved(self) -> bool:
        return len(self.ids) == 1


class _Roster:
    """A roster's names normalised once for matching many typed names, with difflib's matchers kept per
    name (a matcher's costly part is indexing its second string; only the first changes per query)."""

    def __init__(self, roster: Sequence[tuple[int, str]]) -> None:
        self.names = [(wid, normalize_name(name)) for wid, name in roster]
        self._matchers: dict[str, SequenceMatcher[str]] = {}

    def ratio(self, query: str, other: str, cutoff: float) -> float:
        """difflib's similarity of `query` to `other`, or 0 when a cheap upper bound is already below
        `cutoff` (what is below the cutoff is never used; `ratio()` is the slow part of matching)."""
        if 2 * min(len(query), len(other)) < cutoff * (len(query) + len(other)):
            return 0.0
        matcher = self._matchers.get(other)
        if matcher is None:
            matcher = self._matchers[other] = SequenceMatcher(None, "", other)
        matcher.set_seq1(query)
        if matcher.quick_ratio() < cutoff:
            return 0.0
        return matcher.ratio()

    def similarity(self, query: str, name: str, cutoff: float = 0.0) -> float:
        """The best similarity of `query` to `name`, to its leading tokens or (one word) to one of its
        tokens; exact from `cutoff` up, 0 or anything below it otherwise."""
        q_tokens, n_tokens = query.split(), name.split()
        best = self.ratio(query, name, cutoff)
        # Compare with the same number of leading tokens ("budy" ~ "budi", "sari wulan" ~ "sari wulandari").
        head = " ".join(n_tokens[: len(q_tokens)])
        best = max(best, self.ratio(query, head, cutoff))
        if len(q_tokens) == 1:
            # (a name of punctuation only has no tokens: max() of one float alone would raise)
            best = max([best, *(self.ratio(query, t, cutoff) for t in n_tokens)])
        return best


def match_name(query: str, roster: Sequence[tuple[int, str]]) -> tuple[int, ...]:
    """Ids on `roster` ((id, name) pairs) that `query` may mean, best first; exactly one when clear."""
    return _match(normalize_name(query), _Roster(roster))


def _match(q: str, roster: _Roster) -> tuple[int, ...]:
    """`match_name` of a normalised query against a prepared roster."""
    if not q:
        return ()
    names = roster.names
    exact = tuple(wid for wid, n in names if n == q)
    if exact:
        return exact
    q_tokens = set(q.split())
    by_tokens = tuple(wid for wid, n in names if q_tokens <= set(n.split()))
    if by_tokens:
        return by_tokens
    if len(q) >= 3:
        prefix = tuple(wid for wid, n in names if n.startswith(q) or any(t.startswith(q) for t in n.split()))
        if prefix:
            return prefix
    scored = sorted(((roster.similarity(q, n, FUZZY_CUTOFF), wid) for wid, n in names), reverse=True)
    scored = [(s, wid) for s, wid in scored if s >= FUZZY_CUTOFF]
    if not scored:
        return ()
    best = scored[0][0]
    return tuple(wid for s, wid in scored if best - s < FUZZY_MARGIN)


def closest_names(
    query: str, roster: Sequence[tuple[int, str]], n: int = 3, cutoff: float = 0.45
) -> list[int]:
    """Suggestions for a name that matched nothing: the `n` most similar ids above a low cutoff."""
    q = normalize_name(query)
    prepared = _Roster(roster)
    scored = sorted(((prepared.similarity(q, n, cutoff), wid) for wid, n in prepared.names), reverse=True)
    return [wid for s, wid in scored[:n] if s >= cutoff]


def match_names(text: str, roster: Sequence[tuple[int, str]]) -> list[NameMatch]:
    """Every name in a typed list with what it matched, in the order typed. Raises TooManyNames for a
    list longer than `name_limit(len(roster))`."""
    limit = name_limit(len(roster))
    queries = split_names(text)
    if len(queries) > limit:
        raise TooManyNames(len(queries), limit)
    prepared = _Roster(roster)
    return [NameMatch(query=q, ids=_match(normalize_name(q), prepared)) for q in queries]


# --- dates and money -----------------------------------------------------------------------------

_TODAY_WORDS = {"hari ini", "hariini", "today", "sekarang", "now"}
_YESTERDAY_WORDS = {"kemarin", "kmrn", "kemaren", "yesterday"}
_DMY_RE = re.compile(r"([0-9]{1,2})[/\-.]([0-9]{1,2})(?:[/\-.]([0-9]{2}|[0-9]{4}))?")
_ISO_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
EARLIEST_DAY = date(2000, 1, 1)  # no report, plan or period of the program is older
DAYS_AHEAD = 366  # the latest date read is a year after today
_MAX_DATE_CHARS = 16


def parse_day(text: str, today: date) -> date | None:
    """A typed date, day first; None when it cannot be read, does not exist (31/02) or lies outside
    `EARLIEST_DAY` .. a year after `today` (`24/11/5088`)."""
    raw = text.strip().lower()
    if raw in _TODAY_WORDS:
        return today
    if raw in _YESTERDAY_WORDS:
        return today - timedelta(days=1)
    if len(raw) > _MAX_DATE_CHARS:
        return None
    try:
        if m := _ISO_RE.fullmatch(raw):
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif m := _DMY_RE.fullmatch(raw):
            year = m.group(3)
            y = today.year if year is None else (2000 + int(year) if len(year) == 2 else int(year))
            day = date(y, int(m.group(2)), int(m.group(1)))
        else:
            return None
    except ValueError:
        return None
    return day if EARLIEST_DAY <= day <= today + timedelta(days=DAYS_AHEAD) else None


_RP_RE = re.compile(r"(?:rp\.?|idr)?\s*(-?[0-9.,\s]+?)\s*(rb|ribu|k|jt|juta)?")
_RP_FACTORS = {"rb": 1_000, "ribu": 1_000, "k": 1_000, "jt": 1_000_000, "juta": 1_000_000}
_MAX_RUPIAH_CHARS = 40  # `Rp 1.500.000.000.000,-` is 22


def parse_rupiah(text: str) -> int | None:
    """A typed amount in whole Rupiah (may be negative: the caller refuses it); None if unreadable,
    not in ASCII digits, or more than `MAX_NUMBER`."""
    raw = text.strip().lower().replace("\u00a0", " ")
    if len(raw) > _MAX_RUPIAH_CHARS:
        return None
    # (the trailing `,-` taken off first keeps the pattern free of two optional tails that backtrack)
    raw = raw.removesuffix(",--").removesuffix(",-").rstrip()
    m = _RP_RE.fullmatch(raw)
    if not m:
        return None
    value = parse_number(m.group(1).replace(" ", ""))
    if value is None:
        return None
    amount = round(value * _RP_FACTORS.get(m.group(2) or "", 1))
    return amount if abs(amount) <= MAX_NUMBER else None


_TOTAL_WORD_RE = re.compile(r"^\s*(total|jumlah)\b", re.IGNORECASE)
_TOTAL_PREFIX_RE = re.compile(r"^\s*(total|jumlah)\s*:?\s*", re.IGNORECASE)


def parse_wages(text: str) -> tuple[int | None, bool]:
    """A typed wage amount (as `parse_rupiah`) and whether it is the day's total: `total 1.955.000`,
    `jumlah: 2 juta`; otherwise it is for the caller to read (a rate per worker, or a large total)."""
    is_total = _TOTAL_WORD_RE.match(text) is not None
    return parse_rupiah(_TOTAL_PREFIX_RE.sub("", text)), is_total


# --- a new worker --------------------------------------------------------------------------------

_GENDER_WORDS = {
    Gender.L: frozenset({"l", "lk", "laki", "laki laki", "pria", "male", "m"}),
    Gender.P: frozenset({"p", "pr", "perempuan", "wanita", "female", "f"}),
}
_SKILL_WORDS = {
    Skill.PEKERJA: frozenset({"pekerja", "buruh", "labourer", "laborer", "worker"}),
    Skill.TUKANG: frozenset({"tukang", "skilled"}),
}


def parse_gender(text: str) -> Gender | None:
    """`L`, `laki-laki`, `pria` -> L; `P`, `perempuan`, `wanita` -> P; None otherwise."""
    word = normalize_name(text)
    return next((g for g, words in _GENDER_WORDS.items() if word in words), None)


def parse_skill(text: str) -> Skill | None:
    """`pekerja`, `buruh`, `labourer` -> pekerja; `tukang`, `skilled` -> tukang; None otherwise."""
    word = normalize_name(text)
    return next((s for s, words in _SKILL_WORDS.items() if word in words), None)


# --- a selection typed on the roster checklist ---------------------------------------------------


class SelectAction(StrEnum):
    TICK = "tick"  # tick these; the others stay as they are
    UNTICK = "untick"  # untick these
    ONLY = "only"  # exactly these are ticked: `semua`, `semua kecuali 3 7`, `tidak ada`


@dataclass(frozen=True)
class Selection:
    """What a message typed on the checklist asks for, by 0-based position on the roster as numbered."""

    action: SelectAction
    indexes: frozenset[int]  # ticked / unticked, or (ONLY) the whole new set of ticks
    excluded: frozenset[int] = frozenset()  # `semua kecuali X`: the positions of X
    by_number: bool = False  # numbers of the list were typed (they refer to the numbering shown)

    def apply(self, ticked: Iterable[int]) -> frozenset[int]:
        """The ticked positions after this selection."""
        current = frozenset(ticked)
        if self.action == SelectAction.TICK:
            return current | self.indexes
        if self.action == SelectAction.UNTICK:
            return current - self.indexes
        return self.indexes


@dataclass(frozen=True)
class SelectionError:
    """A typed selection that cannot be applied as a whole (so nothing of it is): the parts not understood
    (numbers off the list, names matching nobody, digits other than 0-9) and the names that could be
    several workers (their positions); or a list of more names and numbers than the `limit` of
    `name_limit` (`too_many`: at least that many), not read further. None of these: nothing recognisable was typed (`hapus`, `???`)."""

    unknown: tuple[str, ...] = ()
    ambiguous: tuple[tuple[str, tuple[int, ...]], ...] = ()
    too_many: int = 0
    limit: int = 0

    @property
    def empty(self) -> bool:
        return not self.unknown and not self.ambiguous and not self.too_many


_NONE_SELECTION = {
    "tidak ada",
    "tdk ada",
    "gak ada",
    "ga ada",
    "nggak ada",
    "kosong",
    "kosongkan",
    "none",
    "nobody",
    "no one",
    "clear",
}
_SEL_ALL_RE = re.compile(r"^(?:semuanya|semua(?:\s+hadir)?|all(?:\s+present)?|everyone|everybody|lengkap)\b")
_SEL_EXCEPT_RE = re.compile(r"^(?:[,:]\s*)?(?:kecuali|kcl|selain|except|but|minus|tanpa)\b")
_SEL_UNTICK_RE = re.compile(
    r"^(?:-|(?:hapus|buang|batal(?:kan)?)\s+centang(?:nya|an)?\b|hapus\b|untick\b|uncheck\b|remove\b)"
)
_SEL_TICK_RE = re.compile(r"^(?:centang|tambah(?:kan)?|tick|check|add)\b")
# `1 sampai 5`, `1 - 5`, `1 s/d 5`, `1..5`, `1 to 5` -> `1-5` (before the text is split at `/`). Only
# from the start of a run of digits: trying every digit of a long run would be quadratic.
_SEL_RANGE_RE = re.compile(
    r"(?<![0-9])([0-9]+)\s*(?:-|\.\.|s/d|s\.d\.?|\b(?:sampai(?:\s+dengan)?|sampe|sd|hingga|to|until|thru|through)\b)"
    r"\s*([0-9]+)"
)
_SEL_SPLIT_RE = re.compile(r"[,;\n/&+|]|\s+dan\s+|\s+and\s+|\s+serta\s+")
_SEL_NUMBER_RE = re.compile(r"([0-9]+)(?:-([0-9]+))?")
# Words around numbers and names that mean nothing here: `no 3`, `nomor 3 dan 7 hadir`. Not `orang`:
# `12 orang` is a head count, not worker 12.
_SEL_NOISE = frozenset(
    {"no", "nomor", "nomer", "nmr", "nr", "number", "dan", "and", "juga", "saja", "aja", "hadir", "yang"}
)
_MAX_DIGITS = 6  # longer numbers are off any roster (and int() of thousands of digits is refused)
_FOREIGN_DIGITS_MARK_RE = re.compile(r"(?:(?![0-9])\d)+")  # `３`, `٣`: not a number, not a name either


def _sel_text(text: str) -> str:
    """NFKC but for digits other than 0-9 (they stay as typed, and are not understood), lower case,
    dashes unified, single spaces, no blank lines (a run of white space is then at most one character,
    so the splitting pattern never backtracks over a long one)."""
    raw = fold_width(text).lower()
    raw = re.sub(r"[\u2010-\u2015\u2212]", "-", raw)
    lines = (" ".join(line.split()) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)


def _position(digits: str, size: int) -> int | None:
    """A typed 1-based number as a 0-based position on a roster of `size`; None when off the list."""
    if len(digits) > _MAX_DIGITS:
        return None
    n = int(digits)
    return n - 1 if 1 <= n <= size else None


@dataclass(frozen=True)
class _Chunk:
    """One part of a typed selection between separators: its numbers and ranges, its name words."""

    numbers: list[re.Match[str]]
    words: list[str]


def _sel_chunks(body: str, limit: int) -> list[_Chunk] | int:
    """The parts of a selection; or, as soon as they hold more than `limit` names and numbers, how many
    they held up to there (a list of thousands of names is not read to its end)."""
    body = _SEL_RANGE_RE.sub(r"\1-\2", body)
    chunks = []
    typed = 0
    for chunk in _SEL_SPLIT_RE.split(body):
        plain = _SEL_NUMBER_RE.sub(" ", _FOREIGN_DIGITS_MARK_RE.sub(" ", chunk))
        words = [w for w in normalize_name(plain).split() if w not in _SEL_NOISE]
        chunks.append(_Chunk(list(_SEL_NUMBER_RE.finditer(chunk)), words))
        typed += len(chunks[-1].numbers) + len(words)
        if typed > limit:
            return typed
    return chunks


def _sel_items(
    chunks: list[_Chunk], names_in_order: Sequence[str]
) -> tuple[set[int], bool, list[str], list[tuple[str, tuple[int, ...]]]]:
    """The positions a list of numbers, ranges and names refers to, whether numbers were typed, and what
    was not understood or was ambiguous."""
    size = len(names_in_order)
    roster = _Roster(list(enumerate(names_in_order)))
    found: set[int] = set()
    by_number = False
    unknown: list[str] = []
    ambiguous: list[tuple[str, tuple[int, ...]]] = []
    for chunk in chunks:
        for m in chunk.numbers:
            by_number = True
            first = _position(m.group(1), size)
            last = first if m.group(2) is None else _position(m.group(2), size)
            if first is None or last is None:
                unknown.append(m.group(0))
            else:
                found.update(range(min(first, last), max(first, last) + 1))
        words = chunk.words
        if not words:
            continue
        query = " ".join(words)
        ids = _match(query, roster)
        if len(ids) == 1:
            found.add(ids[0])
            continue
        if len(words) > 1:
            # Names separated by spaces only: `agus bambang dewi`.
            each = [_match(w, roster) for w in words]
            if all(len(i) == 1 for i in each):
                found.update(i[0] for i in each)
                continue
            if any(len(i) == 1 for i in each):
                for w, i in zip(words, each, strict=True):
                    if len(i) > 1:
                        ambiguous.append((w, i))
                    elif not i:
                        unknown.append(w)
                continue
        if ids:
            ambiguous.append((query, ids))
        else:
            unknown.append(query)
    return found, by_number, unknown, ambiguous


def parse_roster_selection(text: str, names_in_order: Sequence[str]) -> Selection | SelectionError:
    """Read what was typed on the checklist against the roster in the order it is numbered (1 = the
    first name). All or nothing: a message with any part not understood is a SelectionError.

    `1 3 7`, `1,3,7`, `1-5`, `1 sampai 5`, `agus, bambang` tick; `-3 7`, `hapus 3`, `batal centang agus`
    untick; `semua`/`all` ticks everyone, `semua kecuali 3 7`/`all except agus` everyone but those,
    `tidak ada`/`kosong` no one. A text listing more than `name_limit` names and numbers is a
    SelectionError with `too_many` set, before any name is matched."""
    limit = name_limit(len(names_in_order))
    raw = _sel_text(text)
    everyone = frozenset(range(len(names_in_order)))
    foreign = foreign_digits(raw)
    if normalize_name(raw) in _NONE_SELECTION and not foreign:
        return Selection(SelectAction.ONLY, frozenset())
    action = SelectAction.TICK
    body = raw
    if m := _SEL_ALL_RE.match(raw):
        rest = raw[m.end() :].strip()
        if not normalize_name(rest) and not foreign:
            return Selection(SelectAction.ONLY, everyone)
        if e := _SEL_EXCEPT_RE.match(rest):
            action, body = SelectAction.ONLY, rest[e.end() :]
        elif rest.startswith("-"):  # `semua -3 7`
            action, body = SelectAction.ONLY, rest[1:]
    elif e := _SEL_EXCEPT_RE.match(raw):  # `kecuali 3 7` alone: everyone but those
        action, body = SelectAction.ONLY, raw[e.end() :]
    if action == SelectAction.TICK:
        if m := _SEL_UNTICK_RE.match(raw):
            action, body = SelectAction.UNTICK, raw[m.end() :]
        elif m := _SEL_TICK_RE.match(raw):
            body = raw[m.end() :]
    chunks = _sel_chunks(body, limit)
    if isinstance(chunks, int):
        return SelectionError(too_many=chunks, limit=limit)
    found, by_number, unknown, ambiguous = _sel_items(chunks, names_in_order)
    unknown = [*unknown, *foreign_digits(body)]
    if unknown or ambiguous or not found:
        return SelectionError(unknown=tuple(unknown), ambiguous=tuple(ambiguous))
    chosen = frozenset(found)
    if action == SelectAction.ONLY:
        return Selection(SelectAction.ONLY, everyone - chosen, excluded=chosen, by_number=by_number)
    return Selection(action, chosen, by_number=by_number)
