"""The message catalogue: every sentence the bot says, in Indonesian (default) and English.

Each flow module keeps its own sentences next to its code and registers them here under its own prefix,
so a flow can be read top to bottom and translators still find everything through one function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_LANG = "id"

_MESSAGES: dict[str, dict[str, str]] = {}


class MissingMessage(KeyError):
    """A key that no module registered."""


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add sentences: `{"hadir.ask_date": {"id": "...", "en": "..."}}`. Both languages are required."""
    for key, texts in messages.items():
        if "id" not in texts or "en" not in texts:
            raise ValueError(f"message {key!r} needs both 'id' and 'en'")
        if key in _MESSAGES and _MESSAGES[key] != dict(texts):
            raise ValueError(f"message {key!r} registered twice with different texts")
        _MESSAGES[key] = dict(texts)


def t(key: str, lang: str = DEFAULT_LANG, /, **kwargs: Any) -> str:
    try:
        texts = _MESSAGES[key]
    except KeyError as exc:
        raise MissingMessage(key) from exc
    template = texts.get(lang) or texts[DEFAULT_LANG]
    return template.format(**kwargs) if kwargs else template


def keys() -> list[str]:
    return sorted(_MESSAGES)


def all_messages() -> dict[str, dict[str, str]]:
    return {k: dict(v) for k, v in _MESSAGES.items()}
