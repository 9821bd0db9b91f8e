"""Shared fixtures: settings in a temp folder, and a migrated database on SQLite and, when
`KOTAKU_TEST_DATABASE_URL` is set, on PostgreSQL (each test process in its own schema)."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kotaku.config import Settings, load_settings
from kotaku.db import Database
from kotaku.models import Base
from kotaku.security import NikVault, generate_key

PG_URL = os.environ.get("KOTAKU_TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]
TEST_NIK_KEY = generate_key()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KOTAKU_") and key != "KOTAKU_TEST_DATABASE_URL":
            monkeypatch.delenv(key, raising=False)
    return load_settings(
        app={"env": "test", "data_dir": str(tmp_path / "var")},
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'kotaku.db'}"},
        media={"dir": str(tmp_path / "media")},
        security={"nik_key": TEST_NIK_KEY},
    )


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    """Each test starts from structlog's defaults: a test that configured logging (a CLI run, the masking
    tests) must not leave a level filter that hides the events another test captures."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def vault() -> NikVault:
    return NikVault(TEST_NIK_KEY)


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str | None]:
    """One PostgreSQL schema for this test process, dropped at the end."""
    if not PG_URL:
        yield None
        return
    import asyncio

    schema = f"t_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        engine = create_async_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    yield schema
    asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, settings: Settings, pg_schema: str | None
) -> AsyncIterator[Database]:
    """A database with the full schema, empty, on each configured backend."""
    if request.param == "sqlite":
        database = Database(settings)
        async with database.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        yield database
        await database.dispose()
        return
    assert PG_URL and pg_schema
    database = Database(settings, url=PG_URL, connect_args={"server_settings": {"search_path": pg_schema}})
    async with database.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


@contextlib.contextmanager
def logging_set_up(configure: Callable[[], None]) -> Iterator[None]:
    """Logging as `configure` sets it (the CLI's or `kotaku run`'s), then the root logger put back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure()
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()
