"""Alembic wrapped for the CLI and the tests: upgrade, downgrade and current, on the configured database."""

from __future__ import annotations

import asyncio
import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kotaku.config import Settings
from kotaku.db import create_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str, connect_args: dict[str, Any] | None = None) -> Config:
    """Alembic config for `url`; `connect_args` reach the driver (e.g. a PostgreSQL search_path)."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logger"] = False
    if connect_args:
        cfg.attributes["connect_args"] = connect_args
    return cfg


def upgrade(
    settings: Settings,
    revision: str = "head",
    url: str | None = None,
    *,
    connect_args: dict[str, Any] | None = None,
) -> None:
    command.upgrade(alembic_config(url or settings.database.url, connect_args), revision)


def downgrade(
    settings: Settings,
    revision: str = "-1",
    url: str | None = None,
    *,
    connect_args: dict[str, Any] | None = None,
) -> None:
    command.downgrade(alembic_config(url or settings.database.url, connect_args), revision)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(
    settings: Settings, url: str | None = None, *, connect_args: dict[str, Any] | None = None
) -> str | None:
    """The revision the database is at, or None for an empty database."""

    async def _read() -> str | None:
        engine = create_engine(settings, url or settings.database.url, connect_args)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(_read())


def history_text(url: str) -> str:
    buf = io.StringIO()
    with redirect_stdout(buf):
        command.history(alembic_config(url))
    return buf.getvalue()
