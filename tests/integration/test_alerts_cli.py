"""`kotaku alerts list/ack/resolve/escalate/digest` against a temporary SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.models import Alert, AlertSeverity, AlertStatus, Base, OutboxMessage
from kotaku.security import NikVault, generate_key
from tests.cli import clean_env, run
from tests.factories import Program, build_program

OPENED = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from clean_env(tmp_path, monkeypatch)


def seed(env: dict[str, str]) -> tuple[Program, list[int]]:
    async def go() -> tuple[Program, list[int]]:
        db = Database(load_settings(database={"url": env["KOTAKU_DATABASE__URL"]}))
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        p = await build_program(db, NikVault(generate_key()), date(2026, 11, 26))
        ids = []
        async with db.transaction() as s:
            for subject, ksm, severity in [
                (p["road"], p["ksm_a"], AlertSeverity.CRITICAL),
                (p["cart"], p["ksm_m"], AlertSeverity.WARNING),
            ]:
                a = Alert(
                    kind="critical",
                    subject_type="activity",
                    subject_id=subject,
                    ksm_id=ksm,
                    severity=severity,
                    dedup_key=f"critical:activity:{subject}",
                    figures={"gap": 12.5},
                    message="Tertinggal 12,5 poin",
                    opened_at=OPENED,
                    updated_at=OPENED,
                )
                s.add(a)
                await s.flush()
                ids.append(a.id)
        await db.dispose()
        return p, ids

    return asyncio.run(go())


def stored(env: dict[str, str]) -> tuple[list[Alert], list[OutboxMessage]]:
    async def go() -> tuple[list[Alert], list[OutboxMessage]]:
        db = Database(load_settings(database={"url": env["KOTAKU_DATABASE__URL"]}))
        async with db.session() as s:
            alerts = list((await s.execute(select(Alert).order_by(Alert.id))).scalars())
            msgs = list((await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
        await db.dispose()
        return alerts, msgs

    return asyncio.run(go())


def test_list_ack_escalate_digest(env: dict[str, str]) -> None:
    p, (road, cart) = seed(env)

    listed = run(env, "alerts", "list", "--json")
    assert listed.exit_code == 0, listed.output
    doc = json.loads(listed.stdout)
    assert doc["total"] == 2 and [a["id"] for a in doc["alerts"]] == [road, cart]
    assert doc["alerts"][0]["figures"] == {"gap": 12.5} and doc["alerts"][0]["ksm"] == "KSM Bejalen Makmur"

    scoped = json.loads(run(env, "alerts", "list", "--scope", "33.22", "--json").stdout)
    assert [a["id"] for a in scoped["alerts"]] == [road]
    assert run(env, "alerts", "list", "--scope", "99.99").exit_code == 2
    assert run(env, "alerts", "list", "--status", "nope").exit_code == 2

    refused = run(env, "alerts", "ack", str(road), "--as", "fasil-m")
    assert refused.exit_code == 1 and "Ditolak" in refused.output
    ok = run(
        env, "alerts", "ack", str(cart), "--as", "fasil-m", "--note", "dicek", "--at", "2026-11-26T12:00"
    )
    assert ok.exit_code == 0, ok.output
    assert run(env, "alerts", "ack", "1", "--as", "nobody").exit_code == 2

    early = json.loads(run(env, "alerts", "escalate", "--at", "2026-11-27T09:59", "--json").stdout)
    assert early == {"escalated": []}
    due = json.loads(run(env, "alerts", "escalate", "--at", "2026-11-27T10:00", "--json").stdout)
    assert due == {"escalated": [{"id": road, "level": 1}]}  # 24 h after 10:00 WIB: to Askot/Korkot

    alerts, msgs = stored(env)
    assert alerts[1].status == AlertStatus.ACKNOWLEDGED and alerts[1].ack_note == "dicek"
    assert alerts[1].acknowledged_at == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert {m.person_id for m in msgs} == {p["askot"], p["korkot"]}

    assert json.loads(run(env, "alerts", "digest", "--at", "2026-11-27T08:00", "--json").stdout) == {
        "queued": 0
    }

    resolved = run(env, "alerts", "resolve", str(road), "--as", "admin", "--note", "selesai diperbaiki")
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(run(env, "alerts", "list", "--json").stdout)["total"] == 1
    assert json.loads(run(env, "alerts", "list", "--status", "resolved", "--json").stdout)["total"] == 1
    human = run(env, "alerts", "list", "--status", "all")
    assert human.exit_code == 0 and "Peringatan (all): 2" in human.stdout and "Mariso" in human.stdout
