"""Input helpers every flow shares: the words people type for yes, no, save, done and skip; what kind
of message arrived and its name in the user's language; a choice picked by value, label or number; and
the one reader of ids and numbers in button data (`t:12`, `pg:2`, `r:85000`) and of ids people type.

Button data comes back as the user's client sends it, so it is read as untrusted input: ASCII digits
only (not `²`, `３` or `٣`: `str.isdigit` takes them, `int` reads some and raises on others), bounded in
length before `int()` (5,000 nines cost no more than ten), an id within 1..`MAX_ID` (an INTEGER on
PostgreSQL). A value that does not read is None; the flow says `input.bad_choice` and stays where it was."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kotaku.dialog.context import Context
from kotaku.dialog.quick import normalize_name
from kotaku.models.base import MAX_ID
from kotaku.schemas import Choice, InboundKind

YES_WORDS = frozenset({"ya", "y", "yes", "ok", "oke", "sudah", "sdh", "udah", "yakin"})
NO_WORDS = frozenset({"belum", "blm", "tidak", "tdk", "no", "not yet", "gak", "nggak"})
SAVE_WORDS = frozenset({"simpan", "save", "ya", "y", "yes", "ok", "oke", "kirim"})
DONE_WORDS = frozenset({"selesai", "done", "ok", "oke", "sudah", "lanjut"})
SKIP_WORDS = frozenset({"lewati", "skip", "-"})
CANCEL_WORDS = frozenset({"batal", "cancel", "batalkan"})

TEXT_KINDS = (InboundKind.TEXT, InboundKind.CHOICE)
# A page of a list shown in chat (0- or 1-based as the flow counts): more is no list anyone pages through.
MAX_PAGE = 9_999
ECHO_CHARS = 24  # of a refused number or code, quoted back
_LABEL_LEAD_RE = re.compile(r"^[^\w]+", re.UNICODE)


def word(ctx: Context) -> str:
    """The typed text or pressed value, lower case, trimmed, without a final full stop."""
    return ctx.text.strip().rstrip(".").lower()


def is_text(ctx: Context) -> bool:
    """A typed text or a pressed button (not a photo, voice note, location or file)."""
    return ctx.inbound.kind in TEXT_KINDS


def has_text(ctx: Context) -> bool:
    return is_text(ctx) and bool(ctx.text)


def kind_word(ctx: Context) -> str:
    """What arrived instead of text, in the user's language: `foto`, `pesan suara`, `pesan kosong`."""
    kind = ctx.inbound.kind
    return ctx.t(f"input.kind.{kind.value}" if kind not in TEXT_KINDS else "input.kind.empty")


def echoed(text: str, limit: int = ECHO_CHARS) -> str:
    """What the person typed, quoted back in a reply: cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded_int(text: str, low: int, high: int) -> int | None:
    """`text` as a whole number when it is only ASCII digits (no sign, space or separator), no longer than
    `high` written out, and within `low`..`high`; None otherwise. `0 <= low <= high`."""
    if not text or len(text) > len(str(high)) or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(text: str) -> int | None:
    """A row id typed or pressed (`12`): 1..`MAX_ID`; None otherwise, so no query is made with it."""
    return bounded_int(text, 1, MAX_ID)


def offered_index(text: str, n: int) -> int | None:
    """A typed number 1..n (the console and WhatsApp show choices numbered), as an index; None otherwise."""
    number = bounded_int(text.strip().rstrip("."), 1, n) if n > 0 else None
    return number - 1 if number is not None else None


def pick(ctx: Context, choices: Sequence[Choice]) -> Choice | None:
    """The choice the user pressed (its value), typed (its label, any case) or numbered (1..n)."""
    text = ctx.text.strip()
    for choice in choices:
        if text == choice.value:
            return choice
    folded = text.casefold()
    for choice in choices:
        if folded == choice.label.casefold():
            return choice
    index = offered_index(text, len(choices))
    return choices[index] if index is not None else None


def typed_value(ctx: Context, choices: Sequence[Choice]) -> str:
    """A pressed button's value; a typed label counts as that button (its leading emoji, punctuation,
    accents and case ignored: `simpan` is "💾 Simpan"); any other text is returned as typed."""
    if ctx.is_choice:
        return ctx.text
    typed = normalize_name(ctx.text)
    for choice in choices:
        if typed and typed == normalize_name(_LABEL_LEAD_RE.sub("", choice.label)):
            return choice.value
    return ctx.text


def _after(text: str, prefix: str) -> str | None:
    return text[len(prefix) :] if prefix and text.startswith(prefix) else None


def picked_id(text: str, prefix: str) -> int | None:
    """The id in a pressed button's value `<prefix><id>` (`a:12` with prefix `a:` -> 12); None for another
    prefix or an id that does not read (see `parse_id`)."""
    rest = _after(text, prefix)
    return parse_id(rest) if rest is not None else None


def picked_key(text: str, prefix: str) -> int | None:
    """A signed id in `<prefix><key>`: a stored row (`t:12`) or an entry of the draft not stored yet, which
    counts down from -1 (`t:-1`, a worker added on the checklist); None otherwise (never 0)."""
    rest = _after(text, prefix)
    if rest is None:
        return None
    number = parse_id(rest.removeprefix("-"))
    return -number if number is not None and rest.startswith("-") else number


def picked_page(text: str, prefix: str) -> int | None:
    """A page number in `<prefix><page>` (`pg:0`, `hal:2`): 0..`MAX_PAGE` (each flow clamps it to its
    list); None otherwise."""
    rest = _after(text, prefix)
    return bounded_int(rest, 0, MAX_PAGE) if rest is not None else None


def picked_amount(text: str, prefix: str) -> int | None:
    """A whole amount in `<prefix><amount>` (`r:85000`): 0..`MAX_ID` (each flow checks its own range);
    None otherwise."""
    rest = _after(text, prefix)
    return bounded_int(rest, 0, MAX_ID) if rest is not None else None
