"""The `kotaku` command against a temporary SQLite file: db upgrade/current/downgrade and invite."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kotaku import catalogue, migrate
from kotaku.services.invites import INVITE_ALPHABET
from tests.cli import clean_env, run


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from clean_env(tmp_path, monkeypatch)


def current(env: dict[str, str]) -> dict[str, object]:
    result = run(env, "db", "current", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_db_upgrade_current_downgrade(env: dict[str, str], tmp_path: Path) -> None:
    head = migrate.head_revision()
    before = current(env)
    assert before == {"current": None, "head": head, "up_to_date": False}

    result = run(env, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert head in result.stdout
    assert (tmp_path / "cli.db").is_file()
    assert current(env) == {"current": head, "head": head, "up_to_date": True}

    result = run(env, "db", "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert "base" in result.stdout
    assert current(env)["up_to_date"] is False
    assert current(env)["current"] is None

    assert run(env, "db", "upgrade").exit_code == 0
    assert current(env)["up_to_date"] is True


def test_db_current_human_output(env: dict[str, str]) -> None:
    result = run(env, "db", "current")
    assert result.exit_code == 0, result.output
    assert catalogue.t("cli.db.base") in result.stdout  # in app.language (Indonesian by default)
    assert "kotaku db upgrade" in result.stdout


def test_invite_admin_nasional_json(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "invite", "--role", "admin", "--scope", "nasional", "--json", "--days", "5",
                 "--at", "2026-03-02T08:00:00", "--name", "Ibu Rina")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    code = data["code"]
    assert len(code) == 8 and set(code) <= set(INVITE_ALPHABET)
    assert data["role"] == "admin"
    assert data["scope"] == "nasional"
    assert data["name"] == "Ibu Rina"
    # --at without a zone is read in Asia/Jakarta (UTC+7)
    expires = datetime.fromisoformat(data["expires_at"])
    assert expires.utcoffset() == timedelta(0)
    assert expires == datetime.fromisoformat("2026-03-07T01:00:00+00:00")
    assert data["telegram_link"] == f"https://t.me/kotaku_bot?start={code}"
    assert data["whatsapp_text"] == f"DAFTAR {code}"
    assert data["whatsapp_link"] is None


def test_invite_default_validity_from_config(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    env = {**env, "KOTAKU_INVITE__VALID_DAYS": "3", "KOTAKU_TELEGRAM__BOT_USERNAME": "uji_bot"}
    result = run(env, "invite", "--role", "nasional", "--scope", "nasional", "--json",
                 "--at", "2026-03-02T00:00:00+00:00")  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert datetime.fromisoformat(data["expires_at"]) == datetime.fromisoformat("2026-03-05T00:00:00+00:00")
    assert data["telegram_link"].startswith("https://t.me/uji_bot?start=")


def test_invite_human_output(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "invite", "--role", "admin", "--scope", "nasional")
    assert result.exit_code == 0, result.output
    match = re.search(r"Kode undangan: ([A-Z0-9]{8})", result.stdout)
    assert match, result.stdout
    assert f"https://t.me/kotaku_bot?start={match.group(1)}" in result.stdout


def test_invite_unknown_scope_exits_2_in_indonesian(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "invite", "--role", "ketua_ksm", "--scope", "ksm:TIDAK-ADA", "--json")
    assert result.exit_code == 2
    assert "Cakupan tidak ditemukan" in result.stderr
    assert "ksm:TIDAK-ADA" in result.stderr
    assert result.stdout == ""


def test_invite_role_scope_mismatch_exits_2(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "invite", "--role", "worker", "--scope", "nasional")
    assert result.exit_code == 2
    assert "worker" in result.stderr


def test_invite_bad_phone_exits_2(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").exit_code == 0
    result = run(env, "invite", "--role", "admin", "--scope", "nasional", "--phone", "12ab")
    assert result.exit_code == 2
    assert "nomor telepon" in result.stderr
    assert result.stdout == ""


def test_invalid_config_exits_2_naming_key(env: dict[str, str]) -> None:
    result = run({**env, "KOTAKU_SERVER__PORT": "abc"}, "db", "current", "--json")
    assert result.exit_code == 2
    assert "server.port" in result.stderr
    assert "KOTAKU_SERVER__PORT" in result.stderr.replace("\n", "")
    assert result.stdout == ""


def test_keygen_prints_a_usable_key(env: dict[str, str]) -> None:
    from kotaku.security import NikVault

    result = run(env, "keygen")
    assert result.exit_code == 0
    key = result.stdout.strip()
    NikVault(key)  # raises if it is not a valid key
    assert run(env, "keygen").stdout.strip() != key
