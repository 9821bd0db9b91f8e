"""The systemd units in deploy/ pass `systemd-analyze verify` without a word (skipped where systemd-analyze is
not installed), and say what docs/deploy.md says: the command they run, the port of a templated process,
the graceful stop; the nginx sample proxies both webhook paths to the upstream of those processes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kotaku.config import ServerConfig, TelegramConfig, WhatsAppConfig

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALLED = "/opt/kotaku/venv/bin/kotaku"  # where docs/deploy.md installs the command
UNITS = ["kotaku.service", "kotaku@.service", "kotaku-backup.service", "kotaku-backup.timer"]

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def _verify(folder: Path, *names: str) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    return subprocess.run(
        [analyze, "verify", *(str(folder / n) for n in names)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=folder,
    )


def _copy_units(tmp_path: Path, edit: dict[str, tuple[str, str]] | None = None) -> Path:
    """The unit files with ExecStart pointing at this venv's `kotaku` (verify checks the command exists);
    `kotaku@.service` also as the instance `kotaku@8081.service`."""
    here = str(Path(sys.executable).parent / "kotaku")
    for name in UNITS:
        body = (DEPLOY / name).read_text(encoding="utf-8").replace(INSTALLED, here)
        if edit and name in edit:
            body = body.replace(*edit[name])
        (tmp_path / name).write_text(body, encoding="utf-8")
    shutil.copyfile(tmp_path / "kotaku@.service", tmp_path / "kotaku@8081.service")
    return tmp_path


@needs_systemd_analyze
def test_units_pass_systemd_analyze_verify_without_a_word(tmp_path: Path) -> None:
    folder = _copy_units(tmp_path)
    for names in (
        ["kotaku.service"],
        ["kotaku@8081.service"],
        ["kotaku-backup.service", "kotaku-backup.timer"],
    ):
        done = _verify(folder, *names)
        assert done.returncode == 0, done.stderr
        # verify exits 0 on unknown keys and unparsable values too, saying so: any word is a problem.
        assert done.stdout.strip() == "" and done.stderr.strip() == "", (names, done.stdout, done.stderr)


@needs_systemd_analyze
def test_the_verify_check_catches_a_broken_unit(tmp_path: Path) -> None:
    folder = _copy_units(tmp_path, {"kotaku.service": ("Type=exec", "Type=exek")})
    done = _verify(folder, "kotaku.service")
    assert "exek" in done.stderr


def _keys(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_units_run_kotaku_as_its_own_user_and_stop_after_the_graceful_shutdown() -> None:
    for name in ("kotaku.service", "kotaku@.service"):
        keys = _keys(name)
        assert keys["ExecStart"] == [f"{INSTALLED} run"]
        assert keys["ExecStartPost"] == [f"{INSTALLED} ready --wait 60"]  # started = /readyz says ready
        assert int(keys["TimeoutStartSec"][0]) > 60
        assert keys["User"] == ["kotaku"] and keys["UMask"] == ["0077"]
        assert "KOTAKU_CONFIG=/etc/kotaku/config.toml" in keys["Environment"]
        stop = int(keys["TimeoutStopSec"][0])
        assert stop > ServerConfig().shutdown_s  # systemd lets the graceful shutdown finish
    assert "KOTAKU_SERVER__PORT=%i" in _keys("kotaku@.service")["Environment"]
    backup = _keys("kotaku-backup.service")
    assert backup["ExecStart"][0].startswith(f"{INSTALLED} backup --pg-tools /var/backups/kotaku")
    assert "/var/backups/kotaku" in backup["ReadWritePaths"][0]


def test_nginx_sample_proxies_both_webhook_paths_to_the_processes() -> None:
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.search(r"upstream kotaku \{(.*?)\}", conf, re.S)
    assert upstream is not None
    ports = re.findall(r"server 127\.0\.0\.1:(\d+)", upstream.group(1))
    assert ports == ["8081", "8082"]
    for path in (TelegramConfig().webhook_path, WhatsAppConfig().webhook_path):
        block = re.search(rf"location = {re.escape(path)} \{{(.*?)\n    \}}", conf, re.S)
        assert block is not None, path
        assert "proxy_pass http://kotaku;" in block.group(1)
    assert f"client_max_body_size {ServerConfig().max_body_bytes // (1024 * 1024)}m;" in conf
    assert conf.count("{") == conf.count("}")
