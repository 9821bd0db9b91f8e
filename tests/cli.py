"""Running the `kotaku` CLI in tests: a clean environment on a temporary SQLite file, and `run()`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import Result
from typer.testing import CliRunner

from kotaku.cli import app

runner = CliRunner()


def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """For a fixture: cwd in tmp_path, no KOTAKU_ variables of the machine, a database in tmp_path;
    logging configured by the commands is reset afterwards."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_"):
            monkeypatch.delenv(key, raising=False)
    yield {
        "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "KOTAKU_APP__DATA_DIR": str(tmp_path / "var"),
        "KOTAKU_MEDIA__DIR": str(tmp_path / "media"),
    }
    structlog.reset_defaults()


def run(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)
