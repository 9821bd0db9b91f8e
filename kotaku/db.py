"""Async engine and sessions for SQLite and PostgreSQL, with the SQLite pragmas that make it safe to share."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session

from kotaku.config import Settings
from kotaku.security import create_private_file


def _ensure_sqlite_file(url: str) -> None:
    """A new SQLite file is created here, 0600 in a 0700 folder, before SQLite would make it world-readable;
    its `-wal` and `-shm` files take the database file's mode."""
    parsed = make_url(url)
    db = parsed.database
    if db and db != ":memory:" and not db.startswith("file:"):
        create_private_file(Path(db))


async def insert_if_absent(
    session: AsyncSession, entity: Any, conflict: Sequence[str], **values: Any
) -> Any | None:
    """INSERT ... ON CONFLICT (`conflict`) DO NOTHING on SQLite or PostgreSQL; the new row's id (its first
    primary-key column) when this statement added the row, else None. On PostgreSQL it waits for a
    concurrent transaction inserting the same key, so a SELECT ... FOR UPDATE right after it always finds
    the row, committed or this transaction's own."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = entity.__table__
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*table.primary_key.columns)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def create_engine(
    settings: Settings, url: str | None = None, connect_args: dict[str, Any] | None = None
) -> AsyncEngine:
    """Engine for `database.url` (or `url`); SQLite gets WAL, foreign keys, busy timeout, BEGIN IMMEDIATE."""
    url = url or settings.database.url
    kwargs: dict[str, Any] = {"echo": settings.database.echo}
    if connect_args:
        kwargs["connect_args"] = connect_args
    if url.startswith("sqlite"):
        _ensure_sqlite_file(url)
        engine = create_async_engine(url, **kwargs)
        synchronous = settings.database.sqlite_synchronous
        if wal_path(url, settings) is not None:
            synchronous = "NORMAL"  # the WAL is synced by `WalSync`, once for many commits
        _install_sqlite_pragmas(engine, settings.database.sqlite_busy_timeout_ms, synchronous)
        return engine
    kwargs["pool_size"] = settings.database.pool_size
    # No ping round trip before each transaction: connections are recycled, the most recently used one is
    # taken first (the others may be closed by the server when idle), and a connection found dropped is
    # invalidated by SQLAlchemy; the engine handles the update again (`Engine.handle`).
    kwargs["pool_recycle"] = settings.database.pool_recycle_s
    kwargs["pool_use_lifo"] = True
    return create_async_engine(url, **kwargs)


def wal_path(url: str, settings: Settings) -> Path | None:
    """The write-ahead log a group commit syncs (`database.sqlite_group_commit` with FULL, a database
    file), else None."""
    cfg = settings.database
    if not (cfg.sqlite_group_commit and cfg.sqlite_synchronous == "FULL" and url.startswith("sqlite")):
        return None
    db = make_url(url).database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(f"{db}-wal")


class WalSync:
    """Group commit on SQLite: one sync of the write-ahead log for every commit made before it started.

    A committed transaction's frames are in the WAL (written, not yet synced: `synchronous=NORMAL`); once
    the WAL file is synced they survive a power cut, as with FULL. `durable()` returns after a sync that
    began after the caller's commit; callers that commit while a sync runs share the next one. Checkpoints
    sync the WAL and the database themselves (SQLite, NORMAL), so a missing WAL file needs no sync."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.syncs = 0  # how many syncs ran (for tests and figures)
        self._asked = 0  # commits that asked for durability
        self._done = 0  # commits covered by a finished sync
        self._task: asyncio.Task[None] | None = None

    async def durable(self) -> None:
        self._asked += 1
        wanted = self._asked
        while self._done < wanted:
            if self._task is None:
                self._task = asyncio.create_task(self._sync(), name="sqlite-wal-sync")
            await asyncio.shield(self._task)

    async def _sync(self) -> None:
        upto = self._asked  # the commits made before this sync starts
        try:
            await asyncio.to_thread(self._fsync)
            self._done = max(self._done, upto)
        finally:
            self._task = None

    def _fsync(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)  # the file's data, whichever connection wrote it
        finally:
            os.close(fd)
        self.syncs += 1


def _install_sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int, synchronous: str = "FULL") -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN so we can make it IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # FULL: a commit is on disk (WAL synced) before it returns, so a report the bot acknowledged
        # survives a power cut; NORMAL may lose the last commits then (never corrupts).
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            # A read (`Database.read()`): a deferred BEGIN, a snapshot of the WAL that neither waits
            # for the writer nor holds it up, however long the read takes (an export of the program).
            conn.exec_driver_sql("BEGIN")
            return
        # Taking the write lock up front avoids "database is locked" on read-then-write upgrades.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


# The execution option of a read-only session (`Database.read`).
READ_ONLY = "kotaku_read_only"


# --- program structure kept across transactions -------------------------------------------------------

# The `session.info` key of the database's `StructureCache` (every session of a `Database` has it).
STRUCTURE_CACHE = "kotaku_structure_cache"
# The tables the cache holds facts of: a write to one of them in this process empties it.
STRUCTURE_TABLES = frozenset({"ksm", "bkm", "region"})
# How long a cached fact is trusted: what another process changes (an import) shows after at most this.
STRUCTURE_TTL_S = 60.0
_STRUCTURE_WRITTEN = "kotaku_structure_written"


class StructureCache:
    """Facts of the program's structure (where a KSM lies: its name, code, kelurahan, time zone) kept by
    the process across transactions, so an ordinary update does not read them again each time.

    An entry lives `ttl_s` seconds: a change made by another process (an import, another bot process)
    is seen after at most that. A write in this process to a KSM, BKM or region (`STRUCTURE_TABLES`,
    through the ORM or an ORM-enabled INSERT/UPDATE/DELETE) empties the cache when it is flushed and again
    when its transaction ends, so neither the new value nor a value read meanwhile outlives it."""

    def __init__(self, ttl_s: float = STRUCTURE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry[0] > self.ttl_s:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        self._entries[key] = (self.clock(), value)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def structure_cache(session: AsyncSession | Session) -> StructureCache | None:
    """The process cache of program structure of the session's database (None for a session made
    elsewhere)."""
    cache = session.info.get(STRUCTURE_CACHE)
    return cache if isinstance(cache, StructureCache) else None


def _structure_written(session: Session) -> None:
    session.info[_STRUCTURE_WRITTEN] = True
    cache = structure_cache(session)
    if cache is not None:
        cache.clear()


def _after_flush(session: Session, _context: Any) -> None:
    if STRUCTURE_CACHE not in session.info:
        return
    for objects in (session.new, session.dirty, session.deleted):
        for obj in objects:
            table = getattr(obj, "__table__", None)
            if table is not None and table.name in STRUCTURE_TABLES:
                _structure_written(session)
                return


def _on_orm_execute(state: ORMExecuteState) -> None:
    if STRUCTURE_CACHE not in state.session.info:
        return
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in STRUCTURE_TABLES:
            _structure_written(state.session)


def _transaction_ended(session: Session, *_args: Any) -> None:
    if session.info.pop(_STRUCTURE_WRITTEN, False):
        cache = structure_cache(session)
        if cache is not None:
            cache.clear()


event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "do_orm_execute", _on_orm_execute)
event.listen(Session, "after_commit", _transaction_ended)
event.listen(Session, "after_rollback", _transaction_ended)


def session_factory(
    engine: AsyncEngine, cache: StructureCache | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on `engine`; with `cache`, each session finds it in its `info` (`structure_cache`)."""
    info = {STRUCTURE_CACHE: cache} if cache is not None else None
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


_HOLDS_WRITE_LOCK: ContextVar[bool] = ContextVar("kotaku_holds_sqlite_write_lock", default=False)


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(
        self, settings: Settings, url: str | None = None, connect_args: dict[str, Any] | None = None
    ) -> None:
        self.settings = settings
        # What another process needs to open the same database (a parallel export's workers).
        self.url = url or settings.database.url
        self.connect_args = connect_args
        self.engine = create_engine(settings, url, connect_args)
        wal = wal_path(self.url, settings)
        self.wal_sync: WalSync | None = WalSync(wal) if wal is not None else None
        self.structure = StructureCache()
        self.sessionmaker = session_factory(self.engine, self.structure)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only, in one transaction seeing one state of the database. On SQLite a
        deferred transaction (a WAL snapshot): it takes no write lock, so a long read (an export) never
        holds up the bot's writes, and it never queues behind them (use `transaction()` to write). On
        PostgreSQL a read-only transaction (a write in it is an error)."""
        async with self.sessionmaker() as session:
            if self.is_sqlite:
                await session.connection(execution_options={READ_ONLY: True})
            else:
                await session.connection()
                await session.execute(text("SET TRANSACTION READ ONLY"))
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        if self._write_lock is None or _HOLDS_WRITE_LOCK.get():
            async with self.sessionmaker() as session, session.begin():
                yield session
            return
        # SQLite has one writer: queueing writers here is far cheaper than letting them spin in the
        # busy handler behind BEGIN IMMEDIATE (measured: `kotaku bench telegram`). A transaction opened
        # inside another one in the same task does not wait for itself.
        async with self._write_lock:
            token = _HOLDS_WRITE_LOCK.set(True)
            try:
                async with self.sessionmaker() as session, session.begin():
                    yield session
            finally:
                _HOLDS_WRITE_LOCK.reset(token)
        if self.wal_sync is not None:
            # Committed, the write lock free for the next writer: return once the commit is on disk.
            await self.wal_sync.durable()

    async def dispose(self) -> None:
        await self.engine.dispose()
