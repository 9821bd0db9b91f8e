"""Alembic migrations: up to head, the schema equals the models, down to base and up again.

Runs on a temporary SQLite file and, when `KOTAKU_TEST_DATABASE_URL` is set, on PostgreSQL in a
fresh schema of its own.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from kotaku import migrate
from kotaku.config import Settings
from kotaku.db import create_engine
from kotaku.models import Base
from tests.conftest import PG_URL

VERSIONS = Path(migrate.ROOT) / "migrations" / "versions"


@dataclass
class Target:
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)


def _pg_exec(sql: str) -> None:
    async def run() -> None:
        assert PG_URL
        engine = create_async_engine(PG_URL)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(params=["sqlite", *(["postgresql"] if PG_URL else [])])
def target(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target(url=f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
        return
    assert PG_URL
    schema = f"m_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE SCHEMA "{schema}"')
    try:
        yield Target(url=PG_URL, connect_args={"server_settings": {"search_path": schema}})
    finally:
        _pg_exec(f'DROP SCHEMA "{schema}" CASCADE')


def _inspect(settings: Settings, t: Target) -> tuple[set[str], list[Any]]:
    """(table names, autogenerate diffs against the models) for the target database."""

    def work(sync_conn: Any) -> tuple[set[str], list[Any]]:
        tables = set(inspect(sync_conn).get_table_names())
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return tables, compare_metadata(ctx, Base.metadata)

    async def run() -> tuple[set[str], list[Any]]:
        engine = create_engine(settings, t.url, t.connect_args or None)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_matches_models_downgrade_and_upgrade_again(settings: Settings, target: Target) -> None:
    head = migrate.head_revision()
    assert head is not None
    kw: dict[str, Any] = {"url": target.url, "connect_args": target.connect_args or None}

    assert migrate.current_revision(settings, **kw) is None
    migrate.upgrade(settings, "head", **kw)
    assert migrate.current_revision(settings, **kw) == head

    tables, diffs = _inspect(settings, target)
    assert set(Base.metadata.tables) <= tables
    assert diffs == [], "migrations and models differ; run `alembic revision --autogenerate`"

    migrate.downgrade(settings, "base", **kw)
    assert migrate.current_revision(settings, **kw) is None
    tables, _ = _inspect(settings, target)
    assert tables - {"alembic_version"} == set()

    migrate.upgrade(settings, "head", **kw)
    assert migrate.current_revision(settings, **kw) == head
    tables, diffs = _inspect(settings, target)
    assert set(Base.metadata.tables) <= tables
    assert diffs == []


def test_postgres_schema_is_isolated(settings: Settings) -> None:
    """Migrating into a fresh schema leaves the connection's default schema untouched."""
    if not PG_URL:
        pytest.skip("KOTAKU_TEST_DATABASE_URL not set")
    schema = f"m_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE SCHEMA "{schema}"')
    try:
        args = {"server_settings": {"search_path": schema}}
        migrate.upgrade(settings, "head", url=PG_URL, connect_args=args)
        tables, _ = _inspect(settings, Target(url=PG_URL, connect_args=args))
        assert "activity" in tables

        async def count_in_schema() -> int:
            engine = create_async_engine(PG_URL)
            try:
                async with engine.connect() as conn:
                    res = await conn.execute(
                        text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                        {"s": schema},
                    )
                    return int(res.scalar_one())
            finally:
                await engine.dispose()

        assert asyncio.run(count_in_schema()) == len(Base.metadata.tables) + 1  # + alembic_version
    finally:
        _pg_exec(f'DROP SCHEMA "{schema}" CASCADE')


def test_single_head_and_linear_history() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations found"
    assert sum(1 for r in revisions if r.down_revision is None) == 1


def test_migration_files_are_named_by_date_and_slug() -> None:
    files = sorted(p.name for p in VERSIONS.glob("*.py") if p.name != "__init__.py")
    assert files, "no migration files found"
    pattern = re.compile(r"^(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])_[a-z0-9_]+\.py$")
    bad = [name for name in files if not pattern.match(name)]
    assert bad == []


def test_every_migration_is_reversible() -> None:
    """Each revision file defines a downgrade that does something (not a bare `pass`)."""
    for path in VERSIONS.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "def downgrade()" in source, path.name
        body = source.split("def downgrade()", 1)[1]
        assert re.search(r"op\.\w+\(", body), f"{path.name}: downgrade does nothing"


def test_the_outbox_accepts_held_messages_after_upgrade(settings: Settings, target: Target) -> None:
    """The status CHECK constraint follows the enum: 'held' is accepted, a made-up status refused."""
    kw: dict[str, Any] = {"url": target.url, "connect_args": target.connect_args or None}
    migrate.upgrade(settings, "head", **kw)
    insert = (
        "INSERT INTO outbox_message (dedup_key, channel, recipient, kind, payload, priority, status, "
        "attempts, next_attempt_at, created_at) VALUES (:key, 'whatsapp', '628', 'reminder', '{}', 5, "
        ":status, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )

    async def run(status: str) -> None:
        engine = create_engine(settings, target.url, target.connect_args or None)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(insert), {"key": f"k-{status}", "status": status})
        finally:
            await engine.dispose()

    asyncio.run(run("held"))
    with pytest.raises(Exception, match=r"(?i)check"):
        asyncio.run(run("lost"))
