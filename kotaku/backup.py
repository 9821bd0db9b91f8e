"""Copies of the database to keep and to bring back: SQLite through its online backup API (a consistent
snapshot while the bot goes on writing), PostgreSQL through pg_dump and pg_restore."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from kotaku.config import Settings
from kotaku.db import create_engine
from kotaku.security import PRIVATE_FILE_MODE, make_private, private_dir

# Pages copied per step of the SQLite backup API; between steps the progress bar moves. The read
# transaction held over all steps keeps the copy one snapshot, so a step size never makes it restart.
PAGES_PER_STEP = 256
VERSION_TABLE = "alembic_version"

Progress = Callable[[int, int], None]
"""Told (pages copied, pages in all) after each step of a SQLite copy."""


class BackupRefused(Exception):
    """A backup or restore that was not done: a catalogue key and its parameters say why."""

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


class RevisionState(StrEnum):
    CURRENT = "current"  # the code's head revision
    OLDER = "older"  # a revision the code knows, before its head: `kotaku db upgrade` after restoring
    UNKNOWN = "unknown"  # newer than this code (or from another program): refused


@dataclass(frozen=True)
class Copy:
    """What a SQLite copy holds, read back from the copy itself."""

    path: Path
    revision: str | None
    tables: dict[str, int]
    size: int
    pages: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "revision": self.revision,
            "size": self.size,
            "pages": self.pages,
            "integrity": "ok",
            "tables": self.tables,
        }


@dataclass(frozen=True)
class Restored:
    copy: Copy
    database: Path
    revision_state: RevisionState
    aside: Path | None = None  # where the database that was there before now is


# --- SQLite ---------------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite `database.url`; None for PostgreSQL (or an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    db = parsed.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def backup_target(path: Path, now: datetime, suffix: str = ".db") -> Path:
    """PATH itself, or in an existing folder `kotaku-<UTC time><suffix>` (for a timer keeping several)."""
    if path.is_dir():
        return path / f"kotaku-{now:%Y%m%dT%H%M%SZ}{suffix}"
    return path


def backup_sqlite(
    database: Path,
    target: Path,
    *,
    force: bool = False,
    pages_per_step: int = PAGES_PER_STEP,
    busy_timeout_ms: int = 30_000,
    on_progress: Progress | None = None,
) -> Copy:
    """Copy `database` to `target` (0600) with the online backup API, page steps inside one read
    transaction: in WAL mode the copy is the database as it was when the copy began, and the bot's
    writers are never blocked. The copy is checked (`PRAGMA integrity_check`) before it takes `target`'s
    name; an existing `target` is refused unless `force`. The copy is a single file (rollback journal)."""
    if not database.is_file():
        raise BackupRefused("cli.backup.no_database", path=str(database))
    if target.exists() and not force:
        raise BackupRefused("cli.backup.exists", path=str(target))
    if target.exists() and target.resolve() == database.resolve():
        raise BackupRefused("cli.backup.same_file", path=str(target))
    with _private_temp(target) as tmp:
        src = sqlite3.connect(database, isolation_level=None, timeout=busy_timeout_ms / 1000)
        try:
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
            dst = sqlite3.connect(tmp, isolation_level=None)
            try:

                def _step(_status: int, remaining: int, total: int) -> None:
                    if on_progress is not None:
                        on_progress(total - remaining, total)

                src.backup(dst, pages=pages_per_step, progress=_step)
                dst.execute("PRAGMA journal_mode=DELETE")
            finally:
                dst.close()
            pages = int(src.execute("PRAGMA page_count").fetchone()[0])
            src.execute("COMMIT")
        finally:
            src.close()
        try:
            copy = inspect_sqlite(tmp)
        except BackupRefused as exc:  # said of the database, not of the temporary file
            raise BackupRefused(exc.key, **{**exc.params, "path": str(database)}) from exc
        _place(tmp, target, replace=force)
    return Copy(target, copy.revision, copy.tables, copy.size, pages)


def inspect_sqlite(path: Path) -> Copy:
    """Read a SQLite file without changing it: integrity, Alembic revision, rows per table. Refuses a
    file that is not SQLite, is damaged, or has no `alembic_version` table (not a kotaku database)."""
    if not path.is_file():
        raise BackupRefused("cli.restore.missing", path=str(path))
    try:
        with contextlib.closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as conn:
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupRefused("cli.backup.damaged", path=str(path), problem="; ".join(problems[:3]))
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                    "ORDER BY name"
                )
            ]
            if VERSION_TABLE not in tables:
                raise BackupRefused("cli.restore.not_kotaku", path=str(path))
            counts = {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}
            row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
    except sqlite3.DatabaseError as exc:  # "file is not a database", and the like
        raise BackupRefused("cli.restore.not_sqlite", path=str(path), reason=str(exc)) from exc
    return Copy(path, row[0] if row else None, counts, path.stat().st_size)


def revision_state(revision: str | None) -> RevisionState:
    """Where a database's revision stands against the migrations this code carries."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from kotaku.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    if revision is None:
        return RevisionState.OLDER
    if revision == script.get_current_head():
        return RevisionState.CURRENT
    try:
        known = script.get_revision(revision) is not None
    except CommandError:
        known = False
    return RevisionState.OLDER if known else RevisionState.UNKNOWN


def restore_sqlite(
    backup: Path,
    database: Path,
    *,
    now: datetime,
    force: bool = False,
    on_progress: Progress | None = None,
) -> Restored:
    """Put the kotaku database in `backup` where `database` is: checked first (SQLite, intact, a kotaku
    database, a revision this code knows). A `database` with data is refused unless `force`; whatever was
    there is kept as `<name>.before-restore-<UTC time>`. Refused while another process has `database` open
    (stop the bot first)."""
    copy = inspect_sqlite(backup)
    state = revision_state(copy.revision)
    if state is RevisionState.UNKNOWN:
        raise BackupRefused("cli.restore.newer", path=str(backup), revision=copy.revision or "-")
    if database.exists() and backup.resolve() == database.resolve():
        raise BackupRefused("cli.backup.same_file", path=str(database))
    # Settled (and checked not in use) whenever it exists, with --force too.
    if database.exists() and _settle(database) and not force:
        raise BackupRefused("cli.restore.not_empty", path=str(database))
    with _private_temp(database) as tmp:
        with (
            contextlib.closing(sqlite3.connect(backup.resolve().as_uri() + "?mode=ro", uri=True)) as src,
            contextlib.closing(sqlite3.connect(tmp, isolation_level=None)) as dst,
        ):

            def _step(_status: int, remaining: int, total: int) -> None:
                if on_progress is not None:
                    on_progress(total - remaining, total)

            src.backup(dst, pages=PAGES_PER_STEP, progress=_step)
            dst.execute("PRAGMA journal_mode=DELETE")
        restored = inspect_sqlite(tmp)
        aside = None
        if database.exists():
            aside = database.with_name(f"{database.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
            os.link(database, aside)  # the old file keeps a name before the new one takes its own
        _place(tmp, database, replace=True)
    return Restored(Copy(database, restored.revision, restored.tables, restored.size), database, state, aside)


def _settle(database: Path) -> bool:
    """Fold the WAL into the file and say whether any table but `alembic_version` has a row (a migrated,
    empty database has none). Refused when another connection (a running bot) has the file open: only
    the last connection to close removes the `-wal` file."""
    try:
        with contextlib.closing(sqlite3.connect(database, isolation_level=None, timeout=0)) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            holds_data = any(
                conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() is not None
                for t in tables
                if t != VERSION_TABLE
            )
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.OperationalError as exc:  # locked by a writer
        raise BackupRefused("cli.restore.in_use", path=str(database)) from exc
    except sqlite3.DatabaseError:
        return True  # something else entirely: not thrown away without --force, and then kept aside
    if busy or Path(f"{database}-wal").exists():
        raise BackupRefused("cli.restore.in_use", path=str(database))
    return holds_data


@contextlib.contextmanager
def _private_temp(target: Path) -> Iterator[Path]:
    """A 0600 temporary file beside `target` (same file system, so it can be renamed onto it), removed
    when it was not placed."""
    private_dir(target.parent)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.fchmod(fd, PRIVATE_FILE_MODE)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _place(tmp: Path, target: Path, *, replace: bool) -> None:
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails when `target` appeared meanwhile: never overwritten without --force
    except FileExistsError as exc:
        raise BackupRefused("cli.backup.exists", path=str(target)) from exc


# --- PostgreSQL: pg_dump and pg_restore ----------------------------------------------------------------


@dataclass(frozen=True)
class PgCommand:
    """A PostgreSQL client command for the configured database; the password never in `argv`."""

    argv: list[str]
    password: str | None = field(default=None, repr=False)

    def shown(self) -> str:
        return shlex.join(self.argv)


def libpq_url(url: str) -> tuple[str, str | None]:
    """The configured `postgresql+asyncpg://...` as a libpq URL without its password, and the password
    (for PGPASSWORD; ~/.pgpass serves too). asyncpg's `ssl=` is libpq's `sslmode=`."""
    parsed = make_url(url)
    query = dict(parsed.query)
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=query,
    )
    return plain.render_as_string(hide_password=False), parsed.password


def pg_dump_command(url: str, target: Path) -> PgCommand:
    conn, password = libpq_url(url)
    return PgCommand(["pg_dump", "--format=custom", "--no-owner", f"--file={target}", conn], password)


def pg_restore_command(url: str, backup: Path) -> PgCommand:
    """pg_restore in one transaction; `--clean --if-exists` drops the tables it brings first, so it also
    restores onto a database `kotaku db upgrade` made (tables, no rows)."""
    conn, password = libpq_url(url)
    argv = ["pg_restore", "--no-owner", "--single-transaction", "--exit-on-error", "--clean", "--if-exists"]
    return PgCommand([*argv, f"--dbname={conn}", str(backup)], password)


def _run(command: PgCommand) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(command.argv[0])
    if tool is None:
        raise BackupRefused("cli.backup.pg_tool_missing", tool=command.argv[0], command=command.shown())
    env = dict(os.environ)
    if command.password is not None:
        env["PGPASSWORD"] = command.password
    # A tool found on PATH, its arguments a list (never a shell); the password only in its environment.
    done = subprocess.run(
        [tool, *command.argv[1:]], env=env, capture_output=True, text=True, umask=0o077, check=False
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [""])[-1][:300]
        raise BackupRefused("cli.backup.pg_tool_failed", tool=command.argv[0], reason=reason)
    return done


def run_pg_dump(url: str, target: Path, *, force: bool = False) -> int:
    """Run pg_dump (custom format) into `target`, 0600; its size in bytes."""
    if target.exists() and not force:
        raise BackupRefused("cli.backup.exists", path=str(target))
    private_dir(target.parent)
    _run(pg_dump_command(url, target))
    make_private(target)
    return target.stat().st_size


def pg_dump_revision(backup: Path) -> str | None:
    """The Alembic revision inside a pg_dump custom-format file (read with pg_restore); refuses a file
    pg_restore cannot read or one without the `alembic_version` table."""
    listing = _run(PgCommand(["pg_restore", "--list", str(backup)])).stdout
    if not any(" TABLE " in line and line.split()[-2:-1] == [VERSION_TABLE] for line in listing.splitlines()):
        raise BackupRefused("cli.restore.not_kotaku", path=str(backup))
    data = _run(
        PgCommand(["pg_restore", "--data-only", f"--table={VERSION_TABLE}", "--file=-", str(backup)])
    ).stdout
    lines = data.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and VERSION_TABLE in line and i + 1 < len(lines):
            value = lines[i + 1].strip()
            return None if value == "\\." else value
    return None


async def _pg_holds_data(settings: Settings) -> bool:
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) "
                        "FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                        "AND table_schema = current_schema() AND table_name <> :version"
                    ),
                    {"version": VERSION_TABLE},
                )
            ).scalars()
            for table in list(tables):
                if (await conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))).first() is not None:
                    return True
    finally:
        await engine.dispose()
    return False


def run_pg_restore(settings: Settings, backup: Path, *, force: bool = False) -> RevisionState:
    """Check a pg_dump file (a kotaku database, a known revision), refuse a target database with data
    unless `force`, and run pg_restore in one transaction (its tables replaced, nothing kept aside: make a
    pg_dump of it first)."""
    if not backup.is_file():
        raise BackupRefused("cli.restore.missing", path=str(backup))
    revision = pg_dump_revision(backup)
    state = revision_state(revision)
    if state is RevisionState.UNKNOWN:
        raise BackupRefused("cli.restore.newer", path=str(backup), revision=revision or "-")
    if asyncio.run(_pg_holds_data(settings)) and not force:
        raise BackupRefused("cli.restore.pg_not_empty")
    _run(pg_restore_command(settings.database.url, backup))
    return state
