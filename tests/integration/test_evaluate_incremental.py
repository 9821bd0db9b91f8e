"""The incremental evaluation of one KSM (after a saved report) finds exactly what a full sweep finds for
that KSM, while reading only the photos that can pair with the KSM's own (same file, or a perceptual
hash that agrees on one of the pigeonhole pieces)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Media, MediaKind
from kotaku.monitoring import checks
from kotaku.monitoring import evaluate as evaluation
from kotaku.monitoring.evaluate import evaluate
from kotaku.security import NikVault
from tests.factories import Program, build_program

TODAY = date(2026, 11, 26)
AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
BASE = 0xC3A5F0E1D2B49687


def near(bits: int, shift: int = 20) -> str:
    """BASE with `bits` bits flipped from bit `shift` on, as stored (16 lowercase hex digits)."""
    return f"{BASE ^ (((1 << bits) - 1) << shift):016x}"


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, TODAY)


async def add_photos(db: Database, p: Program) -> dict[str, int]:
    """Duplicates and near duplicates across KSMs and days, same-day repeats, unrelated photos, hashes in
    other spellings, and a placed and a dated photo; returns their ids by name."""
    a, b, c, m = p["ksm_a"], p["ksm_b"], p["ksm_c"], p["ksm_m"]
    d = [TODAY - timedelta(days=i) for i in range(6)]
    rows: dict[str, dict[str, Any]] = {
        # The same file at two sites and again later at the first.
        "same_a": {"ksm_id": a, "report_date": d[3], "sha256": "f" * 64, "phash": near(0)},
        "same_b": {"ksm_id": b, "report_date": d[2], "sha256": "f" * 64, "phash": near(0)},
        "same_a_later": {"ksm_id": a, "report_date": d[0], "sha256": "f" * 64, "phash": near(0)},
        # The same day at the same site: never a pair; the same file without a perceptual hash.
        "same_day_a": {"ksm_id": a, "report_date": d[3], "sha256": "f" * 64, "phash": None},
        "sha_only_c": {"ksm_id": c, "report_date": d[1], "sha256": "f" * 64, "phash": None},
        # Near: 1, 2 and 3 bits from BASE (in different pieces), at other sites and days; 4 bits: not.
        "near1_b": {"ksm_id": b, "report_date": d[1], "sha256": "1" * 64, "phash": near(1, 0)},
        "near2_c": {"ksm_id": c, "report_date": d[4], "sha256": "2" * 64, "phash": near(2, 30)},
        "near3_m": {"ksm_id": m, "report_date": d[0], "sha256": "3" * 64, "phash": near(3, 50)},
        "far4_m": {"ksm_id": m, "report_date": d[2], "sha256": "4" * 64, "phash": near(4, 8)},
        # Close to near3_m but not to BASE: a pair only of m and c.
        "chain_c": {"ksm_id": c, "report_date": d[5], "sha256": "5" * 64, "phash": near(6, 50)},
        # Other spellings of hashes close to BASE (uppercase, "0x", short): read and judged in Python.
        "upper_b": {"ksm_id": b, "report_date": d[5], "sha256": None, "phash": near(1, 40).upper()},
        "short_c": {"ksm_id": c, "report_date": d[3], "sha256": None, "phash": "0x" + f"{BASE:016x}"[2:]},
        "short_m": {"ksm_id": m, "report_date": d[4], "sha256": None, "phash": f"{BASE:016x}"[2:]},
        "canon_of_short": {"ksm_id": a, "report_date": d[2], "sha256": None, "phash": f"{BASE & (2**56 - 1):016x}"},
        # Unrelated to everything.
        "alone_a": {"ksm_id": a, "report_date": d[1], "sha256": "6" * 64, "phash": "0123456789abcdef"},
        "alone_m": {"ksm_id": m, "report_date": d[1], "sha256": "7" * 64, "phash": "fedcba9876543210"},
        "bad_hash_b": {"ksm_id": b, "report_date": d[1], "sha256": None, "phash": "not-a-hash"},
        # For photo_far and photo_stale: 2 km from the site, taken 20 days before its report.
        "placed_b": {"ksm_id": b, "report_date": d[0], "sha256": "8" * 64, "phash": None,
                     "latitude": -7.2660 + 0.018, "longitude": 110.4000, "activity_id": p["mck"],
                     "taken_at": AT - timedelta(days=20)},
    }  # fmt: skip
    ids: dict[str, int] = {}
    async with db.transaction() as s:
        media = {name: Media(kind=MediaKind.PHOTO, **row) for name, row in rows.items()}
        s.add_all(media.values())
        await s.flush()
        ids = {name: x.id for name, x in media.items()}
    return ids


def key(f: Any) -> tuple[Any, ...]:
    return (f.kind, f.subject_type, f.subject_id)


async def test_one_ksm_alone_finds_what_the_full_sweep_finds_for_it(
    db: Database, settings: Settings, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = program
    ids = await add_photos(db, p)
    name_of = {v: k for k, v in ids.items()}
    compared: list[set[str]] = []
    real = checks.check_photo_duplicates

    def spy(photos: Any, cfg: Any, subject_ksms: Any = None) -> Any:
        compared.append({name_of.get(x.id, str(x.id)) for x in photos})
        return real(photos, cfg, subject_ksms)

    monkeypatch.setattr(evaluation.checks, "check_photo_duplicates", spy)
    async with db.session() as s:
        full = await evaluate(s, settings, AT)
    dups = {
        name_of[f.subject_id]: name_of[f.figures["other_media_id"]]
        for f in full
        if f.kind == "photo_duplicate"
    }
    # The fixture's pairs, as the full sweep sees them (newer -> its closest earlier match).
    # The fixture's pairs as the full sweep sees them: each newer photo -> its closest earlier match (the
    # latest of equals), across sites and days, and across spellings of the same hash.
    assert dups == {
        "same_b": "same_day_a",
        "same_a_later": "sha_only_c",
        "sha_only_c": "same_day_a",
        "same_a": "upper_b",
        "near1_b": "same_b",
        "near2_c": "upper_b",
        "near3_m": "chain_c",
        "short_c": "short_m",
        "canon_of_short": "short_m",
    }
    assert "far4_m" not in dups and "alone_a" not in dups and "alone_m" not in dups
    assert {"photo_far", "photo_stale"} <= {f.kind for f in full if f.subject_id == ids["placed_b"]}

    reads: dict[int, set[str]] = {}
    ksms = sorted({p["ksm_a"], p["ksm_b"], p["ksm_c"], p["ksm_m"]} | {f.ksm_id for f in full if f.ksm_id})
    for k in ksms:
        compared.clear()
        async with db.session() as s:
            alone = await evaluate(s, settings, AT, [k])
        expected = sorted((f for f in full if f.ksm_id == k), key=key)
        assert sorted(alone, key=key) == expected, f"KSM {k}"
        reads[k] = compared[0]
    everything = set(ids)
    # KSM A's hashes are all stored as 16 hex digits: its photos and the possible partners were read (by
    # sha256, by a run of hex digits in common, or a hash in another spelling), not the unrelated ones.
    assert reads[p["ksm_a"]] == everything - {"alone_m", "placed_b"}
    # KSM B has a hash in another spelling (uppercase): every photo is read, as in a full sweep.
    assert reads[p["ksm_b"]] == everything
