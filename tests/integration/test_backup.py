"""`kotaku backup` and `kotaku restore`: a SQLite copy made while another task keeps writing is one snapshot,
intact, 0600, and restores to the same rows and the same /rekap figures; what is refused (an existing file,
a database with data, a file that is not a kotaku database, a newer revision, a database in use); and the
pg_dump / pg_restore commands printed for PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kotaku import migrate
from kotaku.backup import (
    BackupRefused,
    RevisionState,
    backup_sqlite,
    inspect_sqlite,
    restore_sqlite,
)
from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.demo import seed_demo
from kotaku.models import AuditLog
from kotaku.security import NikVault, generate_key
from kotaku.services.scope import resolve_scope
from kotaku.services.summary import scope_summary
from tests.catalogue_keys import says
from tests.cli import clean_env, run

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KEY = generate_key()
WRITER_ROWS_PER_COMMIT = 2


def _settings(path: Path, data_dir: Path) -> Settings:
    return load_settings(
        app={"env": "test", "data_dir": str(data_dir)},
        database={"url": f"sqlite+aiosqlite:///{path}"},
        security={"nik_key": KEY},
    )


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo program seeded once into a migrated SQLite file (tests copy it)."""
    folder = tmp_path_factory.mktemp("demo")
    settings = _settings(folder / "demo.db", folder / "var")
    migrate.upgrade(settings)

    async def _seed() -> None:
        db = Database(settings)
        try:
            await seed_demo(db, settings, at=AT, vault=NikVault(KEY))
        finally:
            await db.dispose()

    asyncio.run(_seed())
    assert not has_wal(folder / "demo.db")  # folded in: a plain copy is the whole database
    return folder / "demo.db"


@pytest.fixture
def source(demo_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "kotaku.db"
    shutil.copyfile(demo_file, path)
    os.chmod(path, 0o600)
    return path


def counts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def has_wal(path: Path) -> bool:
    return Path(f"{path}-wal").exists()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _rekap(path: Path, data_dir: Path, scope: str) -> object:
    """The /rekap figures (scope_summary) of one scope at AT, read from the file at `path`."""
    settings = _settings(path, data_dir)
    db = Database(settings)
    try:
        async with db.session() as s:
            return await scope_summary(s, settings, await resolve_scope(s, scope), AT)
    finally:
        await db.dispose()


# --- a copy while the bot writes ------------------------------------------------------------------


async def test_backup_while_writing_is_one_snapshot_and_restores_the_same(
    source: Path, tmp_path: Path
) -> None:
    base = counts(source)["audit_log"]
    settings = _settings(source, tmp_path / "var")
    db = Database(settings)
    commits = 0
    stop, under_way = asyncio.Event(), asyncio.Event()
    # The backup waits after its first step until the writer has committed this many times more.
    commits_at_start: list[int] = []
    written_during_backup = threading.Event()

    async def writer() -> None:
        nonlocal commits
        while not stop.is_set():
            async with db.transaction() as s:
                for _ in range(WRITER_ROWS_PER_COMMIT):
                    s.add(AuditLog(action="test_write", entity="backup", note="x" * 200))
            commits += 1
            if commits >= 3:
                under_way.set()
            if commits_at_start and commits >= commits_at_start[0] + 5:
                written_during_backup.set()
            await asyncio.sleep(0)

    steps: list[tuple[int, int]] = []

    def on_progress(done: int, total: int) -> None:
        if not steps:
            commits_at_start.append(commits)
            assert written_during_backup.wait(timeout=20), "the writer made no progress during the backup"
        steps.append((done, total))
        # A copy that starts again at each commit (no snapshot held) would never end while the writer goes on.
        assert len(steps) < 10 * total, "the backup keeps starting again"

    task = asyncio.create_task(writer())
    try:
        await under_way.wait()  # the writer is under way before the copy begins
        copy = await asyncio.to_thread(
            backup_sqlite, source, tmp_path / "backup.db", pages_per_step=8, on_progress=on_progress
        )
    finally:
        stop.set()
        await task
        await db.dispose()

    # Several steps, never started again (the snapshot held), the last one the whole file.
    assert len(steps) > 3
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert steps[-1][0] == steps[-1][1] == copy.pages
    assert mode(tmp_path / "backup.db") == 0o600
    assert not has_wal(tmp_path / "backup.db")  # one self-contained file

    # One snapshot: whole transactions only, and none of those committed during the copy.
    in_copy = counts(tmp_path / "backup.db")
    assert copy.tables == in_copy
    written = in_copy["audit_log"] - base
    assert written % WRITER_ROWS_PER_COMMIT == 0
    # At least the commits before the copy began; at most those counted by its first step (+1: a commit
    # lands a moment before the writer counts it).
    assert 3 * WRITER_ROWS_PER_COMMIT <= written <= (commits_at_start[0] + 1) * WRITER_ROWS_PER_COMMIT
    assert counts(source)["audit_log"] - base == commits * WRITER_ROWS_PER_COMMIT > written

    restored = tmp_path / "restored.db"
    done = restore_sqlite(tmp_path / "backup.db", restored, now=AT)
    assert done.aside is None
    assert done.revision_state is RevisionState.CURRENT
    assert mode(restored) == 0o600
    after = counts(restored)
    assert after == in_copy
    source_now = counts(source)
    assert {t: n for t, n in after.items() if t != "audit_log"} == {
        t: n for t, n in source_now.items() if t != "audit_log"
    }
    assert after["progress_report"] > 100 and after["attendance_record"] > 500  # the demo is there

    rekap_source = await _rekap(source, tmp_path / "var", "ksm:KSM-BJL-01")
    rekap_restored = await _rekap(restored, tmp_path / "var", "ksm:KSM-BJL-01")
    assert rekap_restored == rekap_source
    assert rekap_restored.activities  # type: ignore[attr-defined]


# --- the CLI: refusals and messages ---------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: Path) -> Iterator[dict[str, str]]:
    for values in clean_env(tmp_path, monkeypatch):
        values["KOTAKU_DATABASE__URL"] = f"sqlite+aiosqlite:///{source}"
        values["KOTAKU_SECURITY__NIK_KEY"] = KEY
        yield values


@pytest.fixture
def no_umask() -> Iterator[None]:
    """No umask at all: files left to it would be 0666."""
    old = os.umask(0o000)
    yield
    os.umask(old)


def test_cli_backup_writes_a_private_checked_copy_and_refuses_to_overwrite(
    env: dict[str, str], source: Path, tmp_path: Path, no_umask: None
) -> None:
    target = tmp_path / "out" / "kotaku-backup.db"
    result = run(env, "backup", str(target))
    assert result.exit_code == 0, result.output
    assert says(result.output, "cli.backup.done", path=str(target))
    assert mode(target) == 0o600
    assert "attendance_record" in result.output

    as_json = run(env, "backup", str(target), "--json")
    assert as_json.exit_code == 1
    assert says(as_json.output, "cli.backup.exists", path=str(target))
    assert counts(target) == counts(source)

    before = target.stat().st_mtime_ns
    forced = run(env, "backup", str(target), "--force", "--json")
    assert forced.exit_code == 0, forced.output
    doc = json.loads(forced.stdout)
    assert doc["integrity"] == "ok" and doc["tables"] == counts(source)
    assert target.stat().st_mtime_ns != before and mode(target) == 0o600

    folder = run(env, "backup", str(tmp_path / "out"), "--json")  # a folder: a timestamped name in it
    assert folder.exit_code == 0, folder.output
    made = Path(json.loads(folder.stdout)["path"])
    assert made.parent == tmp_path / "out" and made.name.startswith("kotaku-") and mode(made) == 0o600

    assert run(env, "backup", str(source), "--force").exit_code == 1  # never onto the database itself
    assert counts(source)["worker"] > 0


def _backup_at(source: Path, path: Path, revision: str) -> Path:
    shutil.copyfile(source, path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        conn.commit()
    return path


def test_cli_restore_refuses_what_is_not_a_kotaku_database_or_too_new(
    env: dict[str, str], source: Path, tmp_path: Path
) -> None:
    env["KOTAKU_DATABASE__URL"] = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'kotaku.db'}"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    result = run(env, "restore", str(junk))
    assert result.exit_code == 1 and says(result.output, "cli.restore.not_sqlite", path=str(junk))

    other = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE t (x)")
    result = run(env, "restore", str(other))
    assert result.exit_code == 1 and says(result.output, "cli.restore.not_kotaku", path=str(other))

    newer = _backup_at(source, tmp_path / "newer.db", "ffffffffffff")
    result = run(env, "restore", str(newer))
    assert result.exit_code == 1
    assert says(result.output, "cli.restore.newer", path=str(newer), revision="ffffffffffff")

    missing = run(env, "restore", str(tmp_path / "nothing.db"))
    assert missing.exit_code == 2 and says(missing.output, "cli.restore.missing")
    assert not (tmp_path / "new" / "kotaku.db").exists()  # nothing was written

    base = migrate.alembic_config("sqlite://")
    from alembic.script import ScriptDirectory

    first = ScriptDirectory.from_config(base).get_base()
    assert isinstance(first, str)
    older = _backup_at(source, tmp_path / "older.db", first)
    result = run(env, "restore", str(older))
    assert result.exit_code == 0, result.output
    assert says(result.output, "cli.restore.upgrade", revision=first)


def test_cli_restore_refuses_a_database_with_data_unless_forced_and_keeps_it_aside(
    env: dict[str, str], source: Path, tmp_path: Path
) -> None:
    backup = tmp_path / "backup.db"
    assert run(env, "backup", str(backup)).exit_code == 0
    with contextlib.closing(sqlite3.connect(source)) as conn:  # the live database moves on after the backup
        conn.execute("DELETE FROM attendance_record")
        conn.commit()
    before = counts(source)

    refused = run(env, "restore", str(backup))
    assert refused.exit_code == 1 and says(refused.output, "cli.restore.not_empty", path=str(source))
    assert counts(source) == before

    forced = run(env, "restore", str(backup), "--force", "--json")
    assert forced.exit_code == 0, forced.output
    doc = json.loads(forced.stdout)
    aside = Path(doc["aside"])
    assert aside.name.startswith("kotaku.db.before-restore-") and aside.parent == source.parent
    assert counts(aside) == before  # the old file, whole
    assert counts(source) == counts(backup) != before
    assert doc["tables"] == counts(backup) and mode(source) == 0o600


def test_restore_refuses_a_database_another_process_has_open(source: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    backup_sqlite(source, backup)
    bot = sqlite3.connect(source)  # a running bot keeps connections to its database
    try:
        bot.execute("PRAGMA journal_mode=WAL")
        bot.execute("SELECT count(*) FROM person").fetchone()
        with pytest.raises(BackupRefused) as refused:
            restore_sqlite(backup, source, now=AT, force=True)
        assert refused.value.key == "cli.restore.in_use"
    finally:
        bot.close()
    assert restore_sqlite(backup, source, now=AT, force=True).aside is not None  # stopped: it goes through


def test_backup_refuses_a_missing_or_unmigrated_database(tmp_path: Path) -> None:
    with pytest.raises(BackupRefused) as refused:
        backup_sqlite(tmp_path / "absent.db", tmp_path / "b.db")
    assert refused.value.key == "cli.backup.no_database"
    with pytest.raises(BackupRefused) as refused:
        inspect_sqlite(tmp_path / "absent.db")
    assert refused.value.key == "cli.restore.missing"
    unmigrated = tmp_path / "unmigrated.db"
    with contextlib.closing(sqlite3.connect(unmigrated)) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupRefused) as refused:
        backup_sqlite(unmigrated, tmp_path / "b.db")
    assert refused.value.key == "cli.restore.not_kotaku" and refused.value.params["path"] == str(unmigrated)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unmigrated.db"]  # no copy, no temporary file left


# --- PostgreSQL: the commands, the password never printed -------------------------------------------


def test_postgresql_prints_pg_dump_and_pg_restore_for_the_configured_url(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["KOTAKU_DATABASE__URL"] = "postgresql+asyncpg://kotaku:s3cret@db.example:5433/kotaku?ssl=require"
    env["KOTAKU_APP__LANGUAGE"] = "en"
    dump = tmp_path / "kotaku.dump"
    result = run(env, "backup", str(dump))
    assert result.exit_code == 1  # nothing was copied: a timer must not take this for a backup
    assert says(result.output, "cli.backup.pg_intro", "en")
    assert says(result.output, "cli.backup.pg_not_made", "en")
    assert (
        f"pg_dump --format=custom --no-owner --file={dump} "
        "'postgresql://kotaku@db.example:5433/kotaku?sslmode=require'"
    ) in result.output
    assert "s3cret" not in result.output and not dump.exists()

    result = run(env, "restore", str(dump), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["done"] is False
    assert doc["command"].startswith("pg_restore --no-owner --single-transaction --exit-on-error --clean")
    assert "'--dbname=postgresql://kotaku@db.example:5433/kotaku?sslmode=require'" in doc["command"]
    assert "s3cret" not in result.output
