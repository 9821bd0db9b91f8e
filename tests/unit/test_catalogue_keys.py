"""The catalogue-key finder the tests assert with, and the catalogue's own consistency: the same
placeholders in both languages, and every key the code asks for defined."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kotaku import catalogue
from kotaku.schemas import Choice, Outbound
from tests.catalogue_keys import KeyIndex, fills, keys_in, keys_of, says

ROOT = Path(__file__).resolve().parents[2]

# --- the finder ------------------------------------------------------------------------------------


def test_a_rendered_template_is_found_with_its_values() -> None:
    text = catalogue.t("engine.welcome", "id", name="Pak Baru", role="ketua KSM", scope="KSM Bejalen Makmur")
    assert "engine.welcome" in keys_in(text)
    assert "engine.welcome" in keys_in(text, "id") and "engine.welcome" not in keys_in(text, "en")
    assert fills(text, "engine.welcome") == [
        {"name": "Pak Baru", "role": "ketua KSM", "scope": "KSM Bejalen Makmur"}
    ]
    assert says(text, "engine.welcome", name="Pak Baru")
    assert not says(text, "engine.welcome", name="Pak Lama")
    english = catalogue.t("engine.welcome", "en", name="Pak Baru", role="KSM coordinator", scope="x")
    assert "engine.welcome" in keys_in(english, "en") and "engine.welcome" not in keys_in(english, "id")


def test_a_sentence_inside_a_transcript_and_a_multiline_value() -> None:
    help_text = catalogue.t("engine.help", "id", commands="/hadir …\n/progres …\n/kendala …")
    transcript = "\n".join(
        [
            catalogue.t("engine.cancelled", "id"),
            help_text,
            catalogue.t("progres.ask_photo_required", "id", milestone=50),
        ]
    )
    assert {"engine.cancelled", "engine.help", "progres.ask_photo_required"} <= keys_in(transcript)
    assert says(transcript, "progres.ask_photo_required", milestone=50)
    assert not says(transcript, "progres.ask_photo_required", milestone=0)  # "50" is not "0"
    assert "engine.welcome" not in keys_in(transcript)


def test_an_unrelated_text_is_not_found() -> None:
    text = "Besok hujan, semen datang jam 8. Pak Darto sudah di lokasi."
    assert keys_in(text) == set()
    assert "engine.welcome" not in keys_in("Selamat pagi, Pak Baru!")
    # Part of a sentence is not the sentence: the literal text around the placeholders must all be there.
    used = catalogue.t("engine.invite_used")
    assert "engine.invite_used" not in keys_in(used[: len(used) // 2])
    with pytest.raises(KeyError):
        says("x", "no.such.key")
    with pytest.raises(KeyError):
        says("x", "engine.welcome", nama="typo")


# A made-up catalogue, so that these mechanics do not hang on the real wording.
SAMPLE = KeyIndex(
    {
        "x.word": {"id": "KRITIS", "en": "CRITICAL"},
        "x.sentence": {"id": "🔴 KRITIS — fasilitator akan menindaklanjuti", "en": "🔴 CRITICAL"},
        "x.button": {"id": "✅ Simpan", "en": "✅ Save"},
        "x.line": {"id": "\n📷 Ada foto.", "en": "\n📷 A photo."},
        "x.pair": {"id": "{pct} ({date})", "en": "{pct} ({date})"},
        "x.units": {"id": "{n} {unit} dari target {target} {unit}", "en": "{n} of {target} {unit}"},
        "x.inline": {"id": "Selamat datang, {name}! Anda terdaftar.", "en": "Welcome, {name}!"},
        "x.block": {"id": "Perintah:\n{commands}\n\n/batal membatalkan.", "en": "Commands:\n{commands}"},
    }
)


def test_generic_templates_count_only_as_a_whole_line() -> None:
    # "KRITIS" is a word in many sentences; only alone on a line is it the key.
    assert SAMPLE.keys_in("🔴 KRITIS — fasilitator akan menindaklanjuti") == {"x.sentence"}
    assert SAMPLE.keys_in("Status: KRITIS sekali") == set()
    assert SAMPLE.keys_in("Status:\nKRITIS\n") == {"x.word"}
    assert SAMPLE.keys_in("Disimpan.\n📷 Ada foto.\nSelesai") == {"x.line"}
    assert SAMPLE.keys_in("✅ Simpan", "en") == set() and SAMPLE.keys_in("✅ Save", "en") == {"x.button"}
    # A template with no letter at all identifies nothing; says() still finds it, as the test names it.
    assert SAMPLE.keys_in("45% (25 November 2026)") == set()
    assert SAMPLE.says("45% (25 November 2026)", "x.pair", None, pct="45%")
    assert not SAMPLE.says("145% (25 November 2026)", "x.pair", None, pct="45%")  # not the end of "145%"
    # An inline value stays on its line; a value on a line of its own may be several lines.
    assert SAMPLE.keys_in("Selamat datang, Pak Baru! Anda terdaftar.") == {"x.inline"}
    assert SAMPLE.keys_in("Selamat datang, Pak\nBaru! Anda terdaftar.") == set()
    assert SAMPLE.keys_in("Perintah:\n/hadir\n/progres\n\n/batal membatalkan.") == {"x.block"}
    # The same placeholder twice is the same value twice.
    assert SAMPLE.keys_in("120 m dari target 136 m") == {"x.units"}
    assert SAMPLE.keys_in("120 m dari target 136 km") == set()
    assert SAMPLE.fills("x 120 m dari target 136 m.", "x.units", "id") == [
        {"n": "x 120", "unit": "m", "target": "136"}  # the first value runs back to the line start
    ]


def test_keys_of_reads_texts_and_button_labels() -> None:
    reply = Outbound(
        text=catalogue.t("progres.summary_title", "id"),
        choices=[Choice(label=catalogue.t("progres.save", "id"), value="simpan")],
    )
    assert {"progres.summary_title", "progres.save"} <= keys_of(reply)
    assert {"progres.summary_title", "progres.save"} <= keys_of([reply, "unrelated"])
    assert "progres.save" not in keys_in(reply.text) and keys_of("unrelated") == set()


def test_a_copy_edit_keeps_a_key_test_passing() -> None:
    messages = catalogue.default().messages()
    edited = {**messages, "engine.welcome": {**messages["engine.welcome"]}}
    edited["engine.welcome"]["id"] = "Halo {name}, selamat bergabung sebagai {role} di {scope}!"
    index = KeyIndex(edited)
    new_text = edited["engine.welcome"]["id"].format(name="Pak Baru", role="ketua KSM", scope="KSM A")
    old_text = catalogue.t("engine.welcome", "id", name="Pak Baru", role="ketua KSM", scope="KSM A")
    # The helper reads the catalogue it is given (the tests: the current TOML files), so the key test
    # follows the new wording ...
    assert "engine.welcome" in index.keys_in(new_text)
    assert index.says(new_text, "engine.welcome", "id", name="Pak Baru", scope="KSM A")
    # ... and the old wording no longer counts as that key.
    assert "engine.welcome" not in index.keys_in(old_text)
    assert "engine.welcome" in keys_in(old_text)


def test_every_template_builds_and_finds_its_own_rendering() -> None:
    """Each template filled with made-up values is found again (generic ones alone on their line)."""
    index = KeyIndex(catalogue.default().messages())
    missed = []
    for key, by_lang in index.templates.items():
        for lang, template in by_lang.items():
            names = {p.name for p in template.parts if p.literal is None}
            values = {name: f"Nilai{i}" for i, name in enumerate(sorted(n for n in names if n))}
            text = template.text.format(**values) if names else template.text
            if template.anonymous:
                ok = index.says(text, key, lang, **values)
            else:
                ok = key in index.keys_in(f"Pesan lain.\n{text}\nDan satu lagi.", lang)
            if not ok:
                missed.append((key, lang))
    assert missed == []


# --- the catalogue --------------------------------------------------------------------------------

# Monitoring findings store every figure already formatted for each language (kotaku/monitoring/messages.py:
# `planned_id` = "12,5", `planned_en` = "12.5"), because an alert is rendered later in each reader's language
# from JSON parameters. Their Indonesian sentence uses the `_id` names and the English one the `_en` names;
# with that suffix taken off, the two languages must still name the same figures.
PER_LANGUAGE_FIGURES = {
    "alert.critical",
    "alert.late_finish",
    "alert.behind_streak",
    "alert.no_report",
    "alert.backwards",
    "alert.jump",
    "alert.wage_share",
    "alert.wage_range",
    "alert.over_roster",
    "alert.crew_spike",
    "alert.wage_range.count",
    "alert.nik_double",
    "alert.idle_attendance",
    "alert.late_entry",
    "alert.photo_duplicate",
    "alert.photo_far",
    "alert.photo_stale",
    "alert.obstacle_high",
    "alert.obstacle_open",
}


def _unsuffixed(names: set[str], lang: str) -> set[str]:
    return {n.removesuffix(f"_{lang}") for n in names}


def test_both_languages_have_the_same_placeholders() -> None:
    messages = catalogue.all_messages()
    assert set(messages) >= PER_LANGUAGE_FIGURES  # the list names real keys
    differ = {}
    for key, texts in messages.items():
        ids, ens = catalogue.placeholders(texts["id"]), catalogue.placeholders(texts["en"])
        if key in PER_LANGUAGE_FIGURES:
            assert not any(n.endswith("_en") for n in ids), key
            assert not any(n.endswith("_id") for n in ens), key
            ids, ens = _unsuffixed(ids, "id"), _unsuffixed(ens, "en")
        if ids != ens:
            differ[key] = sorted(ids ^ ens)
    assert differ == {}


# `ctx.t("key"`, `self.t("key"`, `catalogue.t("key"`, `t("key"` with the key as the whole first argument;
# f-strings (`t(f"hadir.skill.{skill}")`) and concatenations are skipped.
_T_CALL = re.compile(r"""(?<![\w.])(?:(?:ctx|self|catalogue)\.)?t\(\s*(["'])([^"'\n{}]+)\1\s*[,)]""")


def _literal_keys() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for package in ("kotaku", "bot"):
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            for m in _T_CALL.finditer(source):
                line = source.count("\n", 0, m.start()) + 1
                used.setdefault(m.group(2), []).append(f"{path.relative_to(ROOT)}:{line}")
    return used


def test_the_t_call_pattern() -> None:
    found = [
        m.group(2)
        for m in _T_CALL.finditer(
            'ctx.t("a.b", n=1)\nself.t(\n    "c.d"\n)\ncatalogue.t(\'e.f\', lang)\nt("g.h")\n'
            'ctx.t(f"x.{y}")\nctx.t("p." + q)\nformat("no.key")\nit("no.key2")\n'
        )
    ]
    assert found == ["a.b", "c.d", "e.f", "g.h"]


def test_every_literal_key_the_code_uses_is_in_the_catalogue() -> None:
    used = _literal_keys()
    assert len(used) > 100  # the walk really found the calls
    missing = {key: where for key, where in used.items() if not catalogue.has(key)}
    assert missing == {}
