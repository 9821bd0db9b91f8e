"""Alembic wrapped for the CLI and the tests: upgrade, downgrade and current, on the configured database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kotaku.config import Settings
from kotaku.db import create_engine

PACKAGE = Path(__file__).resolve().parent
# The source checkout's top folder (where `migrations/` is); meaningless in an installed wheel.
ROOT = PACKAGE.parent


def script_location() -> Path:
    """The Alembic scripts (env.py, script.py.mako, versions/).

    An installed wheel carries them inside the package as `kotaku/_migrations` (pyproject maps the
    repository's `migrations/` there); a source checkout, editable install or not, has them at the top.
    """
    for candidate in (PACKAGE / "_migrations", ROOT / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError(f"Alembic scripts not found in {PACKAGE / '_migrations'} nor {ROOT / 'migrations'}")


def alembic_config(url: str, connect_args: dict[str, Any] | None = None) -> Config:
    """Alembic config for `url`; `connect_args` reach the driver (e.g. a PostgreSQL search_path).

    Built in code, so it works the same from a wheel: the repository's alembic.ini is only for running
    `alembic` by hand in a checkout (e.g. `alembic revision --autogenerate`).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    cfg.attributes["database_url"] = url
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
