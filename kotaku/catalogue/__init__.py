"""The message catalogue: every sentence the bot says, Bahasa Indonesia first and English.

The sentences are data, not code: one TOML file per area beside this module (`attendance.toml`,
`engine.toml`, ...), each key a table with `id` and `en`. Code asks for a sentence by key
(`t("hadir.saved", lang, n=3)`); translators edit the TOML files. docs/architecture.md says why this and
not gettext.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any

DEFAULT_LANG = "id"
LANGUAGES = ("id", "en")


class MissingMessage(KeyError):
    """A key that no catalogue file defines."""


class CatalogueError(ValueError):
    """A catalogue file that is not well formed (a missing language, a key defined twice)."""


def placeholders(template: str) -> set[str]:
    """The `{names}` a template fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Catalogue:
    """Keys to sentences in each language; `t()` picks the language (Indonesian when missing) and fills in."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._messages: dict[str, dict[str, str]] = {}
        self._origin: dict[str, str] = {}
        if messages:
            self.extend(messages, origin="<code>")

    @classmethod
    def load(cls) -> Catalogue:
        """Every `*.toml` file shipped in this package."""
        catalogue = cls()
        for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                catalogue.extend(tomllib.loads(entry.read_text(encoding="utf-8")), origin=entry.name)
        return catalogue

    def extend(self, messages: Mapping[str, Mapping[str, str]], origin: str = "<code>") -> None:
        """Add sentences: `{"hadir.ask_date": {"id": "...", "en": "..."}}`. Both languages are required."""
        for key, texts in messages.items():
            if not isinstance(texts, Mapping) or any(
                not isinstance(texts.get(lang), str) for lang in LANGUAGES
            ):
                raise CatalogueError(f"{origin}: message {key!r} needs both 'id' and 'en' as text")
            if key in self._messages and self._messages[key] != dict(texts):
                raise CatalogueError(
                    f"{origin}: message {key!r} is already defined differently in {self._origin[key]}"
                )
            self._messages[key] = {lang: texts[lang] for lang in LANGUAGES}
            self._origin[key] = origin

    def t(self, key: str, lang: str = DEFAULT_LANG, /, **kwargs: Any) -> str:
        try:
            texts = self._messages[key]
        except KeyError as exc:
            raise MissingMessage(key) from exc
        template = texts.get(lang) or texts[DEFAULT_LANG]
        return template.format(**kwargs) if kwargs else template

    def __contains__(self, key: object) -> bool:
        return key in self._messages

    def keys(self) -> list[str]:
        return sorted(self._messages)

    def messages(self) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in self._messages.items()}

    def origin(self, key: str) -> str:
        return self._origin[key]


_default: Catalogue | None = None


def default() -> Catalogue:
    """The process's catalogue, read from the package files on first use."""
    global _default
    if _default is None:
        _default = Catalogue.load()
    return _default


def t(key: str, lang: str = DEFAULT_LANG, /, **kwargs: Any) -> str:
    return default().t(key, lang, **kwargs)


def has(key: str) -> bool:
    return key in default()


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add sentences at run time (tests and extensions); the program's own live in the TOML files."""
    default().extend(messages)


def keys() -> list[str]:
    return default().keys()


def all_messages() -> dict[str, dict[str, str]]:
    return default().messages()


def role_label(role: str, lang: str = DEFAULT_LANG) -> str:
    """How a role is named to people (`ketua KSM`, `Askot`); `role` is a `Role` or its value."""
    return t(f"role.{role}", lang)
