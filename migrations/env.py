"""Alembic environment: async engine, the models' metadata, batch mode on SQLite, type comparison."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from kotaku.config import load_settings
from kotaku.db import create_engine
from kotaku.models import Base

config = context.config
# Only `alembic` run by hand reads the repository's alembic.ini (and its logging set-up); `kotaku db`
# builds its Config in code (kotaku/migrate.py), with no file, and keeps kotaku's own logging.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    return load_settings().database.url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":")[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        # SQLite rolls DDL back like any statement (kotaku.db issues the BEGIN): one transaction for the
        # whole run, so a failing step leaves the database as it was instead of half migrated.
        transactional_ddl=True,
        compare_type=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Switch SQLite's foreign keys on or off; a PRAGMA that only works outside a transaction, so it goes
    straight to the driver's connection (SQLAlchemy would open one first)."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"the migration left rows without their parent row in: {', '.join(tables)}")


def _do_run(connection: Connection) -> None:
    # On SQLite, batch mode rebuilds a table (copy, DROP, rename) and a downgrade drops tables that still
    # hold rows. With foreign keys on, SQLite runs each DROP as a DELETE: ON DELETE CASCADE would empty the
    # referencing tables, RESTRICT refuses the step. So foreign keys are off while migrating, and the
    # result is checked (PRAGMA foreign_key_check) before it is committed.
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    try:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)


async def _run_async() -> None:
    engine = create_engine(load_settings(), url=_url(), connect_args=config.attributes.get("connect_args"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_do_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _do_run(connectable)
        return
    asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
