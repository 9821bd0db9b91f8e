"""Input helpers every flow shares: the words people type for yes, no, save, done and skip; what kind
of message arrived and its name in the user's language; a choice picked by value, label or number."""

from __future__ import annotations

import re
from collections.abc import Sequence

from kotaku.dialog.context import Context
from kotaku.dialog.quick import normalize_name
from kotaku.schemas import Choice, InboundKind

YES_WORDS = frozenset({"ya", "y", "yes", "ok", "oke", "sudah", "sdh", "udah", "yakin"})
NO_WORDS = frozenset({"belum", "blm", "tidak", "tdk", "no", "not yet", "gak", "nggak"})
SAVE_WORDS = frozenset({"simpan", "save", "ya", "y", "yes", "ok", "oke", "kirim"})
DONE_WORDS = frozenset({"selesai", "done", "ok", "oke", "sudah", "lanjut"})
SKIP_WORDS = frozenset({"lewati", "skip", "-"})
CANCEL_WORDS = frozenset({"batal", "cancel", "batalkan"})

TEXT_KINDS = (InboundKind.TEXT, InboundKind.CHOICE)
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


def offered_index(text: str, n: int) -> int | None:
    """A typed number 1..n (the console and WhatsApp show choices numbered); None otherwise."""
    t = text.strip().rstrip(".")
    if t.isdigit() and 1 <= int(t) <= n:
        return int(t) - 1
    return None


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


def picked_id(text: str, prefix: str) -> int | None:
    """The id in a pressed button's value `<prefix><id>` (`a:12` with prefix `a:` -> 12); None otherwise."""
    rest = text.removeprefix(prefix)
    return int(rest) if rest != text and rest.isdigit() else None
