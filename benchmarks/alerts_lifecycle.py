"""How long the alert lifecycle takes at national scale: applying a full sweep's findings (first time,
again unchanged, half cleared), escalating, and queueing the daily digest.

Synthetic program: 34 provinces, 272 kota, 1,088 kecamatan, 10,880 kelurahan with one KSM each,
32,640 activities; a facilitator per kecamatan, an Askot and a Korkot per kota, one manager per province,
one national admin, each with one chat identity. One finding per activity: 10% critical, 60% warning,
30% info.

    .venv/bin/python -m benchmarks.alerts_lifecycle            # SQLite (temporary file)
    .venv/bin/python -m benchmarks.alerts_lifecycle --pg URL   # PostgreSQL (a fresh schema, dropped after)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import (
    Alert,
    AlertSeverity,
    Base,
    Bkm,
    Channel,
    ChannelIdentity,
    Ksm,
    OutboxMessage,
    Person,
    Region,
    RegionLevel,
    Role,
)
from kotaku.monitoring.findings import Finding
from kotaku.monitoring.lifecycle import apply_findings, escalate_due, queue_digest

PROVINCES, KOTA_PER_PROV, KEC_PER_KOTA, KEL_PER_KEC, ACTS_PER_KSM = 34, 8, 4, 10, 3
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 17:00 WIB


async def seed(db: Database) -> list[int]:
    ksm_ids: list[int] = []
    async with db.transaction() as s:
        people: list[Person] = []
        for p in range(PROVINCES):
            pcode = f"{11 + p}"
            prov = Region(
                code=pcode,
                name=f"Provinsi {p}",
                level=RegionLevel.PROVINSI,
                timezone="Asia/Jakarta",
                path=pcode,
            )
            s.add(prov)
            await s.flush()
            people.append(
                Person(code=f"prov-{p}", name=f"Prov {p}", role=Role.PROVINSI, scope_region_id=prov.id)
            )
            for k in range(KOTA_PER_PROV):
                kcode = f"{pcode}.{k + 1:02d}"
                kota = Region(
                    code=kcode,
                    name=f"Kota {kcode}",
                    level=RegionLevel.KABKOTA,
                    parent_id=prov.id,
                    timezone="Asia/Jakarta",
                    path=f"{pcode}/{kcode}",
                )
                s.add(kota)
                await s.flush()
                people += [
                    Person(code=f"askot-{kcode}", name="Askot", role=Role.ASKOT, scope_region_id=kota.id),
                    Person(code=f"korkot-{kcode}", name="Korkot", role=Role.KORKOT, scope_region_id=kota.id),
                ]
                for c in range(KEC_PER_KOTA):
                    ccode = f"{kcode}.{c + 1:02d}"
                    kec = Region(
                        code=ccode,
                        name=f"Kec {ccode}",
                        level=RegionLevel.KECAMATAN,
                        parent_id=kota.id,
                        timezone="Asia/Jakarta",
                        path=f"{kota.path}/{ccode}",
                    )
                    s.add(kec)
                    await s.flush()
                    people.append(
                        Person(
                            code=f"fasil-{ccode}", name="Fasil", role=Role.FASILITATOR, scope_region_id=kec.id
                        )
                    )
                    kels = [
                        Region(
                            code=f"{ccode}.{i + 1001}",
                            name=f"Kel {i}",
                            level=RegionLevel.KELURAHAN,
                            parent_id=kec.id,
                            timezone="Asia/Jakarta",
                            path=f"{kec.path}/{ccode}.{i + 1001}",
                        )
                        for i in range(KEL_PER_KEC)
                    ]
                    s.add_all(kels)
                    await s.flush()
                    bkms = [
                        Bkm(code=f"BKM-{kel.code}", name=f"BKM {kel.code}", kelurahan_id=kel.id)
                        for kel in kels
                    ]
                    s.add_all(bkms)
                    await s.flush()
                    ksms = [Ksm(code=f"KSM-{b.code}", name=f"KSM {b.code}", bkm_id=b.id) for b in bkms]
                    s.add_all(ksms)
                    await s.flush()
                    ksm_ids += [k.id for k in ksms]
        people.append(Person(code="admin", name="Admin", role=Role.ADMIN))
        s.add_all(people)
        await s.flush()
        s.add_all(
            ChannelIdentity(person_id=p.id, channel=Channel.TEST, external_id=p.code, chat_id=p.code)
            for p in people
        )
    return ksm_ids


def findings(ksm_ids: list[int], keep: float = 1.0) -> list[Finding]:
    out = []
    n = 0
    for ksm_id in ksm_ids:
        for _ in range(ACTS_PER_KSM):
            n += 1
            if (n % 100) >= keep * 100:
                continue
            severity = (
                AlertSeverity.CRITICAL
                if n % 10 == 0
                else AlertSeverity.WARNING
                if n % 10 < 7
                else AlertSeverity.INFO
            )
            out.append(
                Finding(
                    kind="critical" if severity == AlertSeverity.CRITICAL else "behind_streak",
                    subject_type="activity",
                    subject_id=n,
                    ksm_id=ksm_id,
                    severity=severity,
                    figures={"deviation": -12.5, "planned": 40.0, "actual": 27.5},
                    message_key="alert.severity.critical",
                    params={},
                )
            )
    return out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(pg_url: str | None) -> None:
    tmp = tempfile.TemporaryDirectory()
    settings = load_settings(database={"url": f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"})
    schema = None
    if pg_url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        eng = create_async_engine(pg_url)
        async with eng.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await eng.dispose()
        db = Database(settings, url=pg_url, connect_args={"server_settings": {"search_path": schema}})
    else:
        db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    t = time.perf_counter()
    ksm_ids = await seed(db)
    print(
        f"backend: {'postgresql' if pg_url else 'sqlite'}; seeded {len(ksm_ids):,} KSM in {time.perf_counter() - t:.1f} s"
    )
    full = findings(ksm_ids)
    half = findings(ksm_ids, keep=0.5)
    kinds = {"critical", "behind_streak"}

    async def step(label: str, coro_fn) -> object:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        async with db.transaction() as s:
            result = await coro_fn(s)
        print(f"{label:<44} {time.perf_counter() - start:7.2f} s   peak RSS {peak_mb():6.0f} MB   {result}")
        return result

    await step(
        f"apply {len(full):,} findings (first time)",
        lambda s: _summary(apply_findings(s, settings, full, kinds=kinds, now=NOW)),
    )
    await step(
        f"apply {len(full):,} findings again (unchanged)",
        lambda s: _summary(apply_findings(s, settings, full, kinds=kinds, now=NOW + timedelta(hours=1))),
    )
    await step(
        f"apply {len(half):,} findings (half cleared)",
        lambda s: _summary(apply_findings(s, settings, half, kinds=kinds, now=NOW + timedelta(hours=2))),
    )
    await step(
        "escalate_due 24 h later", lambda s: _count(escalate_due(s, settings, NOW + timedelta(hours=24)))
    )
    await step(
        "queue_digest next morning 07:30 WIB",
        lambda s: queue_digest(s, settings, datetime(2026, 11, 27, 0, 30, tzinfo=UTC)),
    )
    async with db.session() as s:
        alerts = (await s.execute(select(func.count(Alert.id)))).scalar_one()
        msgs = (await s.execute(select(func.count(OutboxMessage.id)))).scalar_one()
    print(f"alerts stored: {alerts:,}; outbox messages: {msgs:,}")
    await db.dispose()
    if pg_url and schema:
        eng = create_async_engine(pg_url)
        async with eng.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await eng.dispose()
    tmp.cleanup()


async def _summary(coro) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return (await coro).to_dict()


async def _count(coro) -> str:  # type: ignore[no-untyped-def]
    return f"{len(await coro):,} escalated"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL URL (postgresql+asyncpg://...)")
    asyncio.run(main(parser.parse_args().pg))
