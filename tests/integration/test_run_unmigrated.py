"""`kotaku run` and `kotaku chat` refuse an unmigrated database with the command that fixes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.main import app
from kotaku.security import generate_key


@pytest.mark.parametrize("args", [["run"], ["chat", "--as", "ketua-a"]])
def test_unmigrated_database_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOTAKU_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("KOTAKU_SECURITY__NIK_KEY", generate_key())
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "kotaku db upgrade" in result.output
