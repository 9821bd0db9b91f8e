"""Files holding personal data are the owner's alone whatever the umask: the SQLite database (and its WAL),
media files, exports and the local NIK key are created 0600, the folders made for them 0700; folders that
were already there keep their mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.exports import ExportFormat, ExportRequest, build_export
from kotaku.models import Base
from kotaku.security import DEV_KEY_FILE, NikVault, vault_from_settings, write_private
from kotaku.services.media import save_content
from kotaku.services.scope import NATIONAL
from tests.cli import clean_env, run
from tests.factories import build_program

TODAY = date(2026, 11, 26)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """The usual umask, and none at all (files would be 0666 / folders 0777 if left to it)."""
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


@pytest.fixture
def usual_umask() -> Iterator[int]:
    old = os.umask(0o022)
    yield 0o022
    os.umask(old)


def _jpeg() -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 60, 30)).save(buf, "JPEG")
    return buf.getvalue()


async def test_new_sqlite_database_is_private(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "new" / "data" / "kotaku.db"
    settings = load_settings(app={"env": "test"}, database={"url": f"sqlite+aiosqlite:///{path}"})
    db = Database(settings)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        async with db.engine.connect() as conn:  # WAL mode: the -wal and -shm files exist while open
            assert mode(path) == 0o600
            for side in ("-wal", "-shm"):
                extra = path.with_name(path.name + side)
                assert extra.exists()
                assert mode(extra) == 0o600, side
            await conn.exec_driver_sql("SELECT 1")
    finally:
        await db.dispose()
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700


def test_existing_folders_keep_their_mode(tmp_path: Path, umask: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    write_private(shared / "a" / "file.bin", b"x")
    assert mode(shared) == 0o755
    assert mode(shared / "a") == 0o700
    assert mode(shared / "a" / "file.bin") == 0o600


def test_media_files_and_folders_are_private(settings: Settings, umask: int) -> None:
    digest, rel = save_content(settings, _jpeg(), "image/jpeg")
    root = Path(settings.media.dir)
    path = root / rel
    assert path.read_bytes() == _jpeg()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # media/ab/cd
    assert mode(path.parent.parent) == 0o700  # media/ab
    assert mode(root) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    # Saved again (the same photo sent twice): the same file, still private.
    assert save_content(settings, _jpeg(), "image/jpeg") == (digest, rel)
    assert mode(path) == 0o600


def test_local_nik_key_file_is_private(tmp_path: Path, umask: int) -> None:
    data_dir = tmp_path / "var"
    settings = load_settings(app={"env": "test", "data_dir": str(data_dir)})
    vault = vault_from_settings(settings)
    key_file = data_dir / DEV_KEY_FILE
    assert mode(key_file) == 0o600
    assert mode(data_dir) == 0o700
    token = vault.encrypt("3322051507900042")
    assert vault_from_settings(settings).decrypt(token) == "3322051507900042"  # made once, then read
    assert [p.name for p in data_dir.iterdir()] == [DEV_KEY_FILE]


@pytest.mark.parametrize("fmt", [ExportFormat.XLSX, ExportFormat.CSV, ExportFormat.PDF])
async def test_exports_are_private(
    db: Database, settings: Settings, vault: NikVault, tmp_path: Path, usual_umask: int, fmt: ExportFormat
) -> None:
    await build_program(db, vault, TODAY)
    out = tmp_path / "exports" / f"rekap.{fmt.value}"
    request = ExportRequest(scope=NATIONAL, start=TODAY, end=TODAY, fmt=fmt)
    result = await build_export(db, settings, request, out)
    assert result.path.is_file()
    assert mode(result.path) == 0o600
    assert mode(out.parent) == 0o700


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from clean_env(tmp_path, monkeypatch)


def test_db_upgrade_creates_a_private_database(env: dict[str, str], tmp_path: Path, usual_umask: int) -> None:
    path = tmp_path / "db" / "kotaku.db"
    result = run({**env, "KOTAKU_DATABASE__URL": f"sqlite+aiosqlite:///{path}"}, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
