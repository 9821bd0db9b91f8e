"""Which message-catalogue keys a rendered bot text contains, so tests assert keys and figures, not wording.

    assert "engine.welcome" in keys_in(ch.all_text())
    assert says(ch.last_text(), "progres.ask_photo_required", milestone=0)

Every template of `kotaku/catalogue/*.toml` (each key, each language) becomes a regex once: the literal
parts escaped, each `{placeholder}` a lazy wildcard. A copy edit in a TOML file changes the regex with the
sentence, so a test that names the key keeps passing; a test that names the key of a sentence the bot did
not say still fails.

Wildcards: a placeholder with literal text right before and after it on the same template line stands for
an inline value (`[^\\n]*?`); one next to a line break or another placeholder may be a block of lines
(`[\\s\\S]*?`, e.g. `{commands}` in the help text); a template's first placeholder stops at the line start
and its last one runs to the line end, so neither reaches into another message of a transcript.

Generic templates cannot identify a sentence inside a longer text: those with fewer than
`MIN_WORD_CHARS` letters and digits in their literal parts, or a single word and no placeholder
(`KRITIS`, `pekerja`, `✅ Simpan`), count only when they make up a whole line (or the whole text, as a button
label does in `keys_of`). Templates without any letter or digit (`{pct} ({date})`, `✅ #{id}`) are never
reported by `keys_in`; `says()` still finds them, since the test names the key.

`says(text, key, lang, **figures)` puts the given placeholder values into the regex as literal text (the
other placeholders stay wildcards) and searches anywhere, generic template or not: the sentence with those
figures. Without figures it is `key in keys_in(text)` for that one key (anonymous templates included).
A given first or last value must not run on into a longer word ("5" does not match the end of "45").
Placeholder values that are catalogue sentences themselves are passed rendered:
`says(text, "engine.not_allowed", role=catalogue.t("role.askot"))`. `fills()` returns the values found.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kotaku import catalogue
from kotaku.schemas import Choice, Outbound

LANGUAGES = catalogue.LANGUAGES
MIN_WORD_CHARS = 8  # letters and digits in the literal parts for a template to be found inside a line

_INLINE = r"[^\n]*?"
_BLOCK = r"[\s\S]*?"
_LEADING = r"[^\n]*?"
_TRAILING = r"[^\n]*"


@dataclass(frozen=True)
class _Part:
    literal: str | None = None  # literal text, or None for a placeholder
    name: str | None = None  # the placeholder's field name


def _parts(template: str) -> list[_Part]:
    parts: list[_Part] = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            if parts and parts[-1].literal is not None:
                parts[-1] = _Part(literal=parts[-1].literal + literal)
            else:
                parts.append(_Part(literal=literal))
        if name is not None:
            parts.append(_Part(name=name))
    return parts


def _strip(parts: list[_Part]) -> list[_Part]:
    """The parts without the white space (line breaks included) at the template's two ends."""
    out = list(parts)
    if out and out[0].literal is not None:
        out[0] = _Part(literal=out[0].literal.lstrip())
    if out and out[-1].literal is not None:
        out[-1] = _Part(literal=out[-1].literal.rstrip())
    return [p for p in out if p.literal != ""]


def _wildcard(parts: list[_Part], i: int) -> str:
    before = parts[i - 1] if i > 0 else None
    after = parts[i + 1] if i + 1 < len(parts) else None
    if before is None:
        return _LEADING
    if after is None:
        return _TRAILING
    if (
        before.literal is None
        or after.literal is None
        or before.literal.endswith("\n")
        or after.literal.startswith("\n")
    ):
        return _BLOCK
    return _INLINE


def _regex(parts: list[_Part], values: Mapping[str, str] | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The regex source of a template (known `values` as literals) and its (group, placeholder) pairs."""
    out: list[str] = []
    groups: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for i, part in enumerate(parts):
        if part.literal is not None:
            out.append(re.escape(part.literal))
            continue
        name = part.name or ""
        if values is not None and name in values:
            # A known first or last value is not part of a longer word ("5" is not the end of "45").
            value = values[name]
            lead = r"(?<!\w)" if i == 0 and re.match(r"\w", value) else ""
            tail = r"(?!\w)" if i == len(parts) - 1 and re.search(r"\w$", value) else ""
            out.append(lead + re.escape(value) + tail)
        elif name in seen:  # the same placeholder twice is the same value twice
            out.append(f"(?P={seen[name]})")
        else:
            group = f"p{len(groups)}"
            seen[name] = group
            groups.append((group, name))
            out.append(f"(?P<{group}>{_wildcard(parts, i)})")
    source = "".join(out)
    if parts and parts[0].literal is not None and re.match(r"\w", parts[0].literal):
        source = r"(?<!\w)" + source
    if parts and parts[-1].literal is not None and re.search(r"\w$", parts[-1].literal):
        source += r"(?!\w)"
    return source, groups


@dataclass(frozen=True)
class Template:
    key: str
    lang: str
    text: str
    parts: tuple[_Part, ...]
    pattern: re.Pattern[str]  # anywhere in a text
    whole: re.Pattern[str]  # as a whole line or the whole text
    groups: tuple[tuple[str, str], ...]
    needle: str  # the longest literal part: a cheap `in` test before the regex
    generic: bool  # found only as a whole line / the whole text
    anonymous: bool  # no letter or digit at all: never reported by keys_in

    @classmethod
    def build(cls, key: str, lang: str, text: str) -> Template:
        parts = _parts(text)
        source, groups = _regex(parts)
        whole_source, _ = _regex(_strip(parts))
        literal = "".join(p.literal or "" for p in parts)
        word_chars = sum(c.isalnum() for c in literal)
        words = re.findall(r"\w+", literal)
        has_placeholder = any(p.literal is None for p in parts)
        generic = word_chars < MIN_WORD_CHARS or (len(words) == 1 and not has_placeholder)
        needles = [p.literal.strip() for p in parts if p.literal is not None]
        return cls(
            key=key,
            lang=lang,
            text=text,
            parts=tuple(parts),
            pattern=re.compile(source),
            whole=re.compile(rf"^[ \t]*{whole_source}[ \t]*$", re.MULTILINE),
            groups=tuple(groups),
            needle=max(needles, key=len, default=""),
            generic=generic,
            anonymous=word_chars == 0,
        )

    def found_in(self, text: str) -> bool:
        if self.anonymous or self.needle not in text:
            return False
        if self.generic:
            return self.whole.search(text) is not None or self.whole.fullmatch(text.strip()) is not None
        return self.pattern.search(text) is not None

    def fills(self, text: str) -> list[dict[str, str]]:
        """The placeholder values of every occurrence in `text`."""
        return [{name: m.group(group) for group, name in self.groups} for m in self.pattern.finditer(text)]

    def says(self, text: str, values: Mapping[str, Any]) -> bool:
        if not values:
            return (self.whole if self.generic else self.pattern).search(text) is not None
        source, _ = _regex(list(self.parts), {k: str(v) for k, v in values.items()})
        return re.search(source, text) is not None


class KeyIndex:
    """Every template of a catalogue as a regex; `keys_in()` and `says()` below use the default one."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self.templates: dict[str, dict[str, Template]] = {
            key: {lang: Template.build(key, lang, texts[lang]) for lang in LANGUAGES if lang in texts}
            for key, texts in messages.items()
        }

    def _langs(self, key: str, lang: str | None) -> list[Template]:
        try:
            by_lang = self.templates[key]
        except KeyError:
            raise KeyError(f"no catalogue key {key!r}") from None
        if lang is None:
            return list(by_lang.values())
        return [by_lang[lang]]

    def keys_in(self, text: str, lang: str | None = None) -> set[str]:
        found: set[str] = set()
        for key, by_lang in self.templates.items():
            langs = by_lang.values() if lang is None else [by_lang[lang]]
            if any(t.found_in(text) for t in langs):
                found.add(key)
        return found

    def says(self, text: str, key: str, lang: str | None = None, /, **values: Any) -> bool:
        for template in self._langs(key, lang):
            unknown = set(values) - {p.name for p in template.parts if p.literal is None}
            if unknown:
                raise KeyError(f"{key} ({template.lang}) has no placeholder {sorted(unknown)}")
            if template.says(text, values):
                return True
        return False

    def fills(self, text: str, key: str, lang: str | None = None) -> list[dict[str, str]]:
        return [f for template in self._langs(key, lang) for f in template.fills(text)]


@lru_cache(maxsize=4)
def _index_for(_catalogue_id: int, _size: int) -> KeyIndex:
    return KeyIndex(catalogue.default().messages())


def index() -> KeyIndex:
    """The index of the process's catalogue; rebuilt when a test registered more messages."""
    default = catalogue.default()
    return _index_for(id(default), len(default.keys()))


def keys_in(text: str, lang: str | None = None) -> set[str]:
    """Every catalogue key whose template (in `lang`, or in any language) occurs in `text`."""
    return index().keys_in(text, lang)


def says(text: str, key: str, lang: str | None = None, /, **values: Any) -> bool:
    """The template of `key` occurs in `text` with these placeholder values (the others are free)."""
    return index().says(text, key, lang, **values)


def fills(text: str, key: str, lang: str | None = None) -> list[dict[str, str]]:
    """The placeholder values of each occurrence of `key` in `text` (first and last ones stop at the line)."""
    return index().fills(text, key, lang)


def _texts(item: Outbound | Choice | str | Iterable[Outbound | Choice | str]) -> list[str]:
    if isinstance(item, str):
        return [item]
    if isinstance(item, Choice):
        return [item.label]
    if isinstance(item, Outbound):
        return [item.text, *(c.label for c in item.choices)]
    return [t for x in item for t in _texts(x)]


def keys_of(
    outbound: Outbound | Choice | str | Iterable[Outbound | Choice | str], lang: str | None = None
) -> set[str]:
    """The keys in the texts and button labels of one reply or a list of replies, each read on its own."""
    found: set[str] = set()
    for text in _texts(outbound):
        found |= keys_in(text, lang)
    return found
