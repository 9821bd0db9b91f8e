"""Rotating the NIK key (SQLite and PostgreSQL): every NIK ends up under the new key only, with the hash
the new key gives, attendance records and drafts included; an interrupted run resumes where it stopped;
a wrong old key changes nothing; and `kotaku security rotate-nik-key` drives it with a progress bar."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select

from kotaku import catalogue, cli
from kotaku.config import load_settings
from kotaku.db import Database
from kotaku.dialog.flows.attendance.states import AttendanceDraft, NewWorker
from kotaku.models import (
    AttendanceMode,
    AttendanceRecord,
    AuditLog,
    Channel,
    ConversationState,
    Gender,
    Skill,
    Worker,
)
from kotaku.security import NikVault, generate_key
from kotaku.services.attendance import Sheet, save_attendance
from kotaku.services.nik_rotation import Rotation, WrongOldKey, rotate_nik_key
from kotaku.uow import UnitOfWork
from tests.catalogue_keys import keys_in, says
from tests.cli import clean_env, run
from tests.factories import build_program

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DRAFT_NIK = "3322051507900042"


class Interrupted(Exception):
    pass


async def _populate(db: Database, vault: NikVault) -> dict[int, str]:
    """The test program, the same person on the rosters of two sites, a day of attendance at both, and a
    draft holding a NIK being entered; returns each worker's NIK by id."""
    program = await build_program(db, vault, TODAY)
    async with db.transaction() as s:
        first = (
            (await s.execute(select(Worker).where(Worker.ksm_id == program["ksm_a"]).order_by(Worker.id)))
            .scalars()
            .first()
        )
        assert first is not None
        enc, h = vault.protect(vault.decrypt(first.nik_encrypted or b""))
        s.add(
            Worker(
                ksm_id=program["ksm_c"],
                name="Pekerja Dua Lokasi",
                gender=Gender.L,
                skill=Skill.PEKERJA,
                nik_encrypted=enc,
                nik_hash=h,
                daily_rate=85_000,
            )
        )
        draft = AttendanceDraft(
            ksm_id=program["ksm_a"],
            added=[
                NewWorker(
                    name="Calon Pekerja",
                    gender=Gender.P,
                    skill=Skill.PEKERJA,
                    nik_token=vault.encrypt(DRAFT_NIK).decode(),
                    nik_hash=vault.hash(DRAFT_NIK),
                    nik_masked="3322••••••••0042",
                    daily_rate=85_000,
                    key=-1,
                )
            ],
        )
        s.add(
            ConversationState(
                channel=Channel.TEST,
                chat_id="ketua-a",
                user_id="ketua-a",
                flow="hadir",
                state="checklist",
                data=draft.model_dump(mode="json"),
                updated_at=NOW,
            )
        )
    for ksm in (program["ksm_a"], program["ksm_c"]):
        async with db.session() as s:
            ids = list((await s.execute(select(Worker.id).where(Worker.ksm_id == ksm))).scalars())
        async with UnitOfWork(db) as uow:
            await save_attendance(
                uow,
                ksm_id=ksm,
                sheet=Sheet(work_date=TODAY, mode=AttendanceMode.ROSTER, worker_ids=tuple(ids)),
                entered_by_id=None,
                channel=Channel.TEST,
                now=NOW,
            )
    async with db.session() as s:
        workers = list((await s.execute(select(Worker))).scalars())
    return {w.id: vault.decrypt(w.nik_encrypted or b"") for w in workers}


async def _workers(db: Database) -> list[Worker]:
    async with db.session() as s:
        return list((await s.execute(select(Worker).order_by(Worker.id))).scalars())


async def _assert_rotated(db: Database, old: NikVault, new: NikVault, niks: dict[int, str]) -> None:
    workers = await _workers(db)
    assert {w.id for w in workers} == set(niks)
    for w in workers:
        token = w.nik_encrypted or b""
        assert new.decrypt(token) == niks[w.id]
        assert not old.can_decrypt(token)
        assert w.nik_hash == new.hash(niks[w.id])
    by_id = {w.id: w for w in workers}
    async with db.session() as s:
        records = list((await s.execute(select(AttendanceRecord))).scalars())
        conv = (await s.execute(select(ConversationState))).scalar_one()
    assert records
    for r in records:
        assert r.nik_hash == by_id[r.worker_id].nik_hash
    # The same person at two sites still carries one hash: the cross-site check still finds them.
    assert len({r.nik_hash for r in records}) == len(records) - 1
    draft = AttendanceDraft.model_validate(conv.data)
    assert draft.added[0].nik_token is not None
    assert new.decrypt(draft.added[0].nik_token.encode()) == DRAFT_NIK
    assert draft.added[0].nik_hash == new.hash(DRAFT_NIK)


async def test_rotation_interrupted_after_a_batch_resumes(db: Database, vault: NikVault) -> None:
    niks = await _populate(db, vault)
    new = NikVault(generate_key())
    batches: list[int] = []

    def stop_after_first(done: Rotation) -> None:
        batches.append(done.rekeyed)
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_nik_key(db, vault, new, now=NOW, batch_size=4, on_batch=stop_after_first)
    workers = await _workers(db)
    under_new = [w.id for w in workers if new.can_decrypt(w.nik_encrypted or b"")]
    assert batches == [4]
    assert under_new == [w.id for w in workers[:4]]  # the first batch is committed, the rest untouched
    assert all(vault.can_decrypt(w.nik_encrypted or b"") for w in workers[4:])

    seen: list[int] = []
    resumed = await rotate_nik_key(
        db, vault, new, now=NOW, batch_size=4, on_batch=lambda done: seen.append(done.seen)
    )
    assert resumed.already == 4
    assert resumed.rekeyed == len(niks) - 4
    assert resumed.drafts == 1
    assert resumed.unreadable == [] and resumed.unreadable_drafts == 0
    assert seen == sorted(seen) and seen[-1] == resumed.total == len(niks) + 1
    await _assert_rotated(db, vault, new, niks)

    again = await rotate_nik_key(db, vault, new, now=NOW)
    assert (again.rekeyed, again.already, again.records, again.drafts) == (0, len(niks), 0, 0)
    await _assert_rotated(db, vault, new, niks)
    async with db.session() as s:
        audits = list(
            (await s.execute(select(AuditLog).where(AuditLog.action == "nik_key_rotated"))).scalars()
        )
    assert [a.new["rekeyed"] for a in audits] == [len(niks) - 4, 0]
    assert not any(nik in json.dumps(a.new) for a in audits for nik in niks.values())


async def test_wrong_old_key_changes_nothing(db: Database, vault: NikVault) -> None:
    await _populate(db, vault)
    before = [(w.nik_encrypted, w.nik_hash) for w in await _workers(db)]

    with pytest.raises(WrongOldKey):
        await rotate_nik_key(db, NikVault(generate_key()), NikVault(generate_key()), now=NOW)

    assert [(w.nik_encrypted, w.nik_hash) for w in await _workers(db)] == before


async def test_a_nik_neither_key_opens_is_listed_and_the_rest_rotated(db: Database, vault: NikVault) -> None:
    niks = await _populate(db, vault)
    async with db.transaction() as s:
        damaged = (await s.execute(select(Worker).order_by(Worker.id.desc()))).scalars().first()
        assert damaged is not None
        damaged.nik_encrypted = NikVault(generate_key()).encrypt(niks[damaged.id])
    new = NikVault(generate_key())

    result = await rotate_nik_key(db, vault, new, now=NOW, batch_size=7)

    assert result.unreadable == [damaged.id]
    assert result.rekeyed == len(niks) - 1
    for w in await _workers(db):
        assert new.can_decrypt(w.nik_encrypted or b"") == (w.id != damaged.id)


# --- the command --------------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    yield from clean_env(tmp_path, monkeypatch)


def _settings(env: dict[str, str], key: str) -> Database:
    return Database(
        load_settings(
            app={"env": "test", "data_dir": env["KOTAKU_APP__DATA_DIR"]},
            database={"url": env["KOTAKU_DATABASE__URL"]},
            security={"nik_key": key},
        )
    )


async def _seed(env: dict[str, str], key: str) -> dict[int, str]:
    db = _settings(env, key)
    try:
        return await _populate(db, NikVault(key))
    finally:
        await db.dispose()


async def _stored(env: dict[str, str], key: str) -> list[Worker]:
    db = _settings(env, key)
    try:
        return await _workers(db)
    finally:
        await db.dispose()


async def _check(env: dict[str, str], old: str, new: str, niks: dict[int, str]) -> None:
    db = _settings(env, new)
    try:
        await _assert_rotated(db, NikVault(old), NikVault(new), niks)
    finally:
        await db.dispose()


def test_cli_rotates_with_the_old_key_from_a_file(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = generate_key(), generate_key()
    assert run(env, "db", "upgrade").exit_code == 0
    niks = asyncio.run(_seed(env, old))
    key_file = tmp_path / "old.key"
    key_file.write_text(old + "\n")
    rotated = {**env, "KOTAKU_SECURITY__NIK_KEY": new}
    shown = io.StringIO()
    monkeypatch.setattr(cli, "err", Console(file=shown, force_terminal=True, width=100))

    result = run(rotated, "security", "rotate-nik-key", "--old-key-file", str(key_file), "--batch-size", "5")

    assert result.exit_code == 0, result.output
    assert "security.rotate.done" in keys_in(result.output)
    assert says(result.output, "security.rotate.done", rekeyed=len(niks), already=0, drafts=1)
    assert catalogue.t("security.rotate.progress") in shown.getvalue()  # the progress bar was drawn
    asyncio.run(_check(env, old, new, niks))

    again = run(rotated, "security", "rotate-nik-key", "--old-key-file", str(key_file), "--json")
    assert again.exit_code == 0, again.output
    doc = json.loads(again.output)
    assert (doc["rekeyed"], doc["already"], doc["unreadable"]) == (0, len(niks), [])


def test_cli_takes_the_old_key_from_the_environment(env: dict[str, str]) -> None:
    old, new = generate_key(), generate_key()
    assert run(env, "db", "upgrade").exit_code == 0
    niks = asyncio.run(_seed(env, old))

    result = run(
        {**env, "KOTAKU_SECURITY__NIK_KEY": new, "KOTAKU_OLD_NIK_KEY": old},
        "security",
        "rotate-nik-key",
        "--json",
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rekeyed"] == len(niks)
    asyncio.run(_check(env, old, new, niks))


@pytest.mark.parametrize(
    ("old_key", "key"),
    [
        (None, "security.rotate.no_old_key"),
        ("not-a-key", "security.rotate.bad_old_key"),
        ("same", "security.rotate.same_key"),
        ("other", "security.rotate.wrong_old_key"),
    ],
)
def test_cli_refuses_a_missing_or_wrong_old_key(env: dict[str, str], old_key: str | None, key: str) -> None:
    old, new = generate_key(), generate_key()
    assert run(env, "db", "upgrade").exit_code == 0
    asyncio.run(_seed(env, old))
    given = {"same": new, "other": generate_key()}.get(old_key or "", old_key)
    extra = {"KOTAKU_OLD_NIK_KEY": given} if given else {}

    result = run({**env, "KOTAKU_SECURITY__NIK_KEY": new, **extra}, "security", "rotate-nik-key")

    assert result.exit_code == 2
    assert key in keys_in(result.output)
    assert all(NikVault(old).can_decrypt(w.nik_encrypted or b"") for w in asyncio.run(_stored(env, old)))


def test_cli_needs_a_new_key(env: dict[str, str]) -> None:
    result = run(env, "security", "rotate-nik-key")  # no security.nik_key, no local key file
    assert result.exit_code == 2
    assert "security.rotate.no_new_key" in keys_in(result.output)


def test_every_sentence_of_the_command_is_in_the_catalogue() -> None:
    source = Path(cli.__file__).read_text(encoding="utf-8")
    named = set(re.findall(r"""["'](security\.[a-z_.]+[a-z_])["']""", source))
    assert len(named) >= 10
    assert sorted(k for k in named if not catalogue.has(k)) == []
