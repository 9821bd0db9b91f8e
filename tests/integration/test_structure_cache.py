"""The process's cache of program structure (where a KSM lies): read once, then served without a query,
emptied by a write to a KSM, BKM or region in this process (ORM object or ORM-enabled UPDATE), and
trusted only `ttl_s` seconds for what another process changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import event, update

from kotaku.db import Database, StructureCache, structure_cache
from kotaku.models import Ksm, Region
from kotaku.security import NikVault
from kotaku.services.scope import ksm_place, ksm_timezone
from tests.factories import build_program

TODAY = date(2026, 11, 26)


@contextmanager
def queries(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_a_ksm_place_is_read_once_then_served_from_the_cache(db: Database, vault: NikVault) -> None:
    p = await build_program(db, vault, TODAY)
    ksm_id = p["ksm_a"]
    async with db.session() as s:
        assert structure_cache(s) is db.structure
        with queries(db) as first:
            place = await ksm_place(s, ksm_id)
    assert place is not None and place.id == ksm_id and place.timezone == "Asia/Jakarta"
    assert len(first) == 1
    async with db.session() as s:
        with queries(db) as second:
            again = await ksm_place(s, ksm_id)
            assert await ksm_timezone(s, ksm_id) == "Asia/Jakarta"
    assert again == place and second == []  # another transaction, no query
    async with db.session() as s:
        assert await ksm_place(s, 10**9) is None  # no such KSM: nothing cached, None each time


async def test_a_write_in_this_process_empties_the_cache(db: Database, vault: NikVault) -> None:
    p = await build_program(db, vault, TODAY)
    ksm_id = p["ksm_a"]
    async with db.session() as s:
        before = await ksm_place(s, ksm_id)
    assert before is not None and len(db.structure) >= 1
    # An ORM object written: the new name is read, not the cached one.
    async with db.transaction() as s:
        ksm = await s.get(Ksm, ksm_id)
        assert ksm is not None
        ksm.name = "KSM Baru"
    async with db.session() as s:
        renamed = await ksm_place(s, ksm_id)
    assert renamed is not None and renamed.name == "KSM Baru"
    # An ORM-enabled UPDATE of a region: the kelurahan's time zone is read again.
    async with db.session() as s:
        tz_path = (await ksm_place(s, ksm_id)).path  # type: ignore[union-attr]
    kelurahan_code = tz_path.rsplit("/", 1)[-1]
    async with db.transaction() as s:
        await s.execute(update(Region).where(Region.code == kelurahan_code).values(timezone="Asia/Makassar"))
    async with db.session() as s:
        assert await ksm_timezone(s, ksm_id) == "Asia/Makassar"


async def test_a_value_read_inside_a_writing_transaction_does_not_outlive_it(
    db: Database, vault: NikVault
) -> None:
    """Read after the flush of a rename that is then rolled back: the cache must not keep the new name."""
    p = await build_program(db, vault, TODAY)
    ksm_id = p["ksm_a"]
    async with db.session() as s:
        original = await ksm_place(s, ksm_id)
    assert original is not None
    async with db.session() as s:
        ksm = await s.get(Ksm, ksm_id)
        assert ksm is not None
        ksm.name = "Tidak Jadi"
        await s.flush()
        inside = await ksm_place(s, ksm_id)
        assert inside is not None and inside.name == "Tidak Jadi"
        await s.rollback()
    async with db.session() as s:
        after = await ksm_place(s, ksm_id)
    assert after is not None and after.name == original.name


def test_an_entry_lives_ttl_seconds() -> None:
    now = [100.0]
    cache = StructureCache(ttl_s=60.0, clock=lambda: now[0])
    cache.put("k", "v")
    now[0] += 59.0
    assert cache.get("k") == "v"
    now[0] += 2.0
    assert cache.get("k") is None and len(cache) == 0
