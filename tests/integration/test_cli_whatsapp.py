"""`kotaku whatsapp templates`: the message templates to register with Meta, from the configuration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kotaku import catalogue
from tests.cli import clean_env, run

BODY_ID = "Pemberitahuan KOTAKU: {{1}}"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from clean_env(tmp_path, monkeypatch)


def test_templates_human_output(env: dict[str, str]) -> None:
    result = run(env, "whatsapp", "templates")
    assert result.exit_code == 0, result.output
    assert "kotaku_pemberitahuan" in result.stdout
    assert "UTILITY" in result.stdout
    assert BODY_ID in result.stdout and "KOTAKU notice: {{1}}" in result.stdout  # both languages
    assert "{{1}} = text" in result.stdout
    assert "default" in result.stdout
    # The example, on one line however wide the terminal (for copying into Meta's form).
    assert catalogue.t("whatsapp.template_example.text", "id") in result.stdout


def test_templates_json(env: dict[str, str]) -> None:
    result = run(env, "whatsapp", "templates", "--lang", "id", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["window_hours"] == 24.0
    (template,) = doc["templates"]
    assert template["name"] == "kotaku_pemberitahuan"
    assert template["category"] == "UTILITY"
    assert (template["lang"], template["language"]) == ("id", "id")
    assert template["body"].startswith(BODY_ID)
    assert template["params"] == ["text"] and template["kinds"] == ["default"]
    assert template["problems"] == []
    assert "{{1}}" not in template["example"]
    assert template["definition"]["components"][0]["text"] == template["body"]

    both = json.loads(run(env, "whatsapp", "templates", "--json").stdout)
    assert [t["lang"] for t in both["templates"]] == ["id", "en"]


def test_templates_from_the_config_file(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[whatsapp.templates.default]\n"
        'name = "kotaku_pemberitahuan"\n'
        "[whatsapp.templates.reminder]\n"
        'name = "kotaku_pemberitahuan"\n'
        'languages = { id = "id" }\n'
        "[whatsapp.templates.alert]\n"
        'name = "kotaku_peringatan"\n'
        'languages = { en = "en_US" }\n',
        encoding="utf-8",
    )
    doc = json.loads(run(env, "--config", str(config), "whatsapp", "templates", "--json").stdout)
    rows = [(t["name"], t["lang"], t["language"], t["kinds"]) for t in doc["templates"]]
    assert rows == [
        ("kotaku_pemberitahuan", "id", "id", ["default", "reminder"]),
        ("kotaku_pemberitahuan", "en", "en", ["default"]),
        ("kotaku_peringatan", "en", "en_US", ["alert"]),
    ]
    # A template the catalogue has no text for is shown with the problem, not left out.
    peringatan = doc["templates"][2]
    assert peringatan["body"] is None and any(
        "whatsapp.template.kotaku_peringatan" in p for p in peringatan["problems"]
    )
    human = run(env, "--config", str(config), "whatsapp", "templates", "--lang", "en")
    assert human.exit_code == 0, human.output
    assert "kotaku_peringatan" in human.stdout and "masalah:" in human.stdout


def test_templates_none_configured_and_a_bad_language(env: dict[str, str]) -> None:
    result = run({**env, "KOTAKU_WHATSAPP__TEMPLATES": "{}"}, "whatsapp", "templates", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["templates"] == []
    result = run(env, "whatsapp", "templates", "--lang", "fr")
    assert result.exit_code == 2
