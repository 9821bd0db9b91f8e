"""Group commit on SQLite: one-row write transactions from many concurrent writers, with FULL durability by
a sync per commit (`database.sqlite_group_commit = false`) and by group commit (the default), alternating,
`--repeat` times each in one run: commits/s min and median, and the WAL syncs group commit made.

    .venv/bin/python -m benchmarks.bench_commit [--transactions 2000] [--writers 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import AuditLog, Base


async def one(group: bool, transactions: int, writers: int) -> tuple[float, int]:
    """(commits/s, WAL syncs) of one run on a fresh database file."""
    with tempfile.TemporaryDirectory(prefix="kotaku-bench-commit-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'commit.db'}"
        db = Database(load_settings(database={"url": url, "sqlite_group_commit": group}))
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            gate = asyncio.Semaphore(writers)

            async def write(i: int) -> None:
                async with gate, db.transaction() as session:
                    session.add(AuditLog(action="bench", entity="commit", entity_id=i))

            started = time.perf_counter()
            await asyncio.gather(*(write(i) for i in range(transactions)))
            seconds = time.perf_counter() - started
            return transactions / seconds, db.wal_sync.syncs if db.wal_sync else transactions
        finally:
            await db.dispose()


async def run(transactions: int = 2000, writers: int = 32, repeat: int = 3) -> dict[str, dict[str, float]]:
    runs: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
    for _ in range(repeat):
        for group in (False, True):
            runs[group].append(await one(group, transactions, writers))
    out = {}
    for group, name in ((False, "full_each_commit"), (True, "group_commit")):
        rates = [r for r, _ in runs[group]]
        out[name] = {"min": min(rates), "median": statistics.median(rates), "syncs": runs[group][-1][1]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--transactions", type=int, default=2000)
    ap.add_argument("--writers", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    result = asyncio.run(run(args.transactions, args.writers, args.repeat))
    for name, r in result.items():
        print(f"{name:<18} min {r['min']:7.0f}/s  median {r['median']:7.0f}/s  WAL syncs {r['syncs']:.0f}")
    ratio = result["group_commit"]["median"] / result["full_each_commit"]["median"]
    print(f"group commit / a sync per commit (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
