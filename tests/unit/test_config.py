"""Settings: defaults, the TOML file, `KOTAKU_*` overrides, and clear errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kotaku.config import ConfigError, Settings, load_settings
from kotaku.security import generate_key


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every test in an empty folder with no KOTAKU_* variables."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_"):
            monkeypatch.delenv(key, raising=False)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_env() -> None:
    s = load_settings()
    assert s.app.env == "local"
    assert s.app.language == "id"
    assert s.app.default_timezone == "Asia/Jakarta"
    assert s.database.url == "sqlite+aiosqlite:///var/kotaku.db"
    assert s.is_sqlite()
    assert s.server.host == "127.0.0.1"
    assert s.server.port == 8080
    assert s.telegram.mode == "polling"
    assert s.telegram.webhook_path == "/telegram/webhook"
    assert s.whatsapp.webhook_path == "/whatsapp/webhook"
    assert s.telegram.token is None
    assert s.security.nik_key is None
    assert not s.has_telegram()
    assert not s.has_whatsapp()
    assert s.monitoring.curve == "s"
    assert s.monitoring.critical_low_plan_max == 70.0
    assert s.monitoring.critical_behind_low == 10.0
    assert s.monitoring.critical_behind_high == 5.0
    assert s.invite.valid_days == 14
    assert s.dialog.photo_milestones == [0, 50, 100]


def test_toml_file_given_by_path(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "elsewhere.toml",
        '[server]\nport = 9000\n[telegram]\ntoken = "123:abc"\nmode = "webhook"\n'
        '[monitoring]\ncurve = "linear"\n[dialog]\nphoto_milestones = [0, 100]\n',
    )
    s = load_settings(cfg)
    assert s.server.port == 9000
    assert s.telegram.mode == "webhook"
    assert s.has_telegram()
    assert s.telegram.token is not None
    assert s.telegram.token.get_secret_value() == "123:abc"
    assert s.monitoring.curve == "linear"
    assert s.dialog.photo_milestones == [0, 100]
    # untouched keys keep their defaults
    assert s.server.host == "127.0.0.1"


def test_toml_file_from_kotaku_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    cfg = write(tmp_path / "sub" / "k.toml", '[database]\nurl = "postgresql+asyncpg://u@h/db"\n')
    monkeypatch.setenv("KOTAKU_CONFIG", str(cfg))
    s = load_settings()
    assert s.database.url == "postgresql+asyncpg://u@h/db"
    assert not s.is_sqlite()


def test_config_toml_in_cwd_is_read(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", '[app]\nlanguage = "en"\n')
    assert load_settings().app.language == "en"


def test_explicit_path_wins_over_cwd_file(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "[server]\nport = 1111\n")
    other = write(tmp_path / "other.toml", "[server]\nport = 2222\n")
    assert load_settings(other).server.port == 2222


def test_missing_config_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")
    monkeypatch.setenv("KOTAKU_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="KOTAKU_CONFIG"):
        load_settings()


def test_env_overrides_toml_with_nesting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(
        tmp_path / "config.toml",
        '[database]\nurl = "sqlite+aiosqlite:///from-toml.db"\n[telegram]\ntoken = "toml-token"\n'
        "[server]\nport = 7000\n",
    )
    monkeypatch.setenv("KOTAKU_DATABASE__URL", "sqlite+aiosqlite:///from-env.db")
    monkeypatch.setenv("KOTAKU_TELEGRAM__TOKEN", "env-token")
    s = load_settings()
    assert s.database.url == "sqlite+aiosqlite:///from-env.db"
    assert s.telegram.token is not None
    assert s.telegram.token.get_secret_value() == "env-token"
    # keys the environment does not set still come from the file
    assert s.server.port == 7000


def test_env_values_are_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_SERVER__PORT", "8443")
    monkeypatch.setenv("KOTAKU_DATABASE__ECHO", "true")
    s = load_settings()
    assert s.server.port == 8443
    assert s.database.echo is True


def test_explicit_overrides_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_SERVER__PORT", "8443")
    assert load_settings(server={"port": 9999}).server.port == 9999


def test_invalid_env_value_names_key_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_SERVER__PORT", "abc")
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "server.port" in msg
    assert "KOTAKU_SERVER__PORT" in msg
    assert "'abc'" in msg


def test_invalid_toml_value_names_key_file_and_env_var(tmp_path: Path) -> None:
    cfg = write(tmp_path / "config.toml", '[telegram]\nmode = "pigeon"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "telegram.mode" in msg
    assert "KOTAKU_TELEGRAM__MODE" in msg
    assert str(cfg.name) in msg


def test_out_of_range_value_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_SERVER__PORT", "70000")
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_settings()


def test_unknown_top_level_key_rejected(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "[serverr]\nport = 1\n")
    with pytest.raises(ConfigError, match="serverr") as info:
        load_settings()
    assert "spelling" in str(info.value)


def test_unknown_nested_key_rejected(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "[server]\nprot = 8081\n")
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_settings()


def test_toml_syntax_error_is_config_error(tmp_path: Path) -> None:
    write(tmp_path / "config.toml", "[server\nport = \n")
    with pytest.raises(ConfigError, match="config"):
        load_settings()


def test_unknown_time_zone_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_APP__DEFAULT_TIMEZONE", "Asia/Atlantis")
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "app.default_timezone" in msg
    assert "Asia/Atlantis" in msg


def test_other_indonesian_time_zones_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for tz in ("Asia/Makassar", "Asia/Jayapura"):
        monkeypatch.setenv("KOTAKU_APP__DEFAULT_TIMEZONE", tz)
        assert load_settings().app.default_timezone == tz


def test_production_requires_nik_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_APP__ENV", "production")
    with pytest.raises(ConfigError, match=r"security\.nik_key"):
        load_settings()
    monkeypatch.setenv("KOTAKU_SECURITY__NIK_KEY", generate_key())
    assert load_settings().app.env == "production"


def test_production_webhook_requires_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_APP__ENV", "production")
    monkeypatch.setenv("KOTAKU_SECURITY__NIK_KEY", generate_key())
    monkeypatch.setenv("KOTAKU_TELEGRAM__MODE", "webhook")
    with pytest.raises(ConfigError, match=r"telegram\.webhook_secret"):
        load_settings()


def test_non_production_needs_no_nik_key() -> None:
    assert load_settings(app={"env": "test"}).security.nik_key is None


def test_secrets_not_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("KOTAKU_TELEGRAM__TOKEN", "123456:SUPERSECRETTOKEN")
    monkeypatch.setenv("KOTAKU_WHATSAPP__APP_SECRET", "wa-app-secret-xyz")
    monkeypatch.setenv("KOTAKU_WHATSAPP__TOKEN", "wa-token-xyz")
    monkeypatch.setenv("KOTAKU_SECURITY__NIK_KEY", key)
    s = load_settings()
    for text in (repr(s), str(s), repr(s.telegram), str(s.security)):
        assert "SUPERSECRETTOKEN" not in text
        assert "wa-app-secret-xyz" not in text
        assert "wa-token-xyz" not in text
        assert key not in text
    # the values are still there for the code that needs them
    assert s.security.nik_key is not None
    assert s.security.nik_key.get_secret_value() == key


def test_settings_class_direct_use_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOTAKU_MEDIA__DIR", "/srv/media")
    assert Settings().media.dir == Path("/srv/media")


def test_a_claim_timeout_not_longer_than_a_send_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"claim_timeout_seconds .* must be longer than send_timeout_seconds"
    ):
        load_settings(delivery={"claim_timeout_seconds": 20, "send_timeout_seconds": 30})
    assert load_settings(delivery={"claim_timeout_seconds": 31, "send_timeout_seconds": 30})
