"""Rotating `security.nik_key`: every stored NIK re-encrypted under the new key, in batches that each
commit on their own, so an interrupted run is resumed by running it again.

The keyed hash that matches NIKs (duplicates on a roster, one worker at two sites) is derived from the NIK
key, so it changes too: a worker's new hash is written with the new ciphertext, and the attendance records
that carry the old hash get the new one in the same transaction. A NIK that the new key already decrypts
was done by an earlier run and is left alone. NIKs typed into an unsaved sheet (conversation drafts) are
re-encrypted as well. Run it with the bot stopped: until it ends, old and new hashes do not match.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.db import Database
from kotaku.models import AttendanceRecord, AuditLog, ConversationState, Worker
from kotaku.security import NikVault

BATCH_SIZE = 500
# A wrong old key is refused when none of this many NIKs still to rotate opens with it.
PROBE_NIKS = 20
# Drafts hold a NIK being entered under this key (with its hash beside it under NIK_HASH_KEY).
NIK_TOKEN_KEY = "nik_token"
NIK_HASH_KEY = "nik_hash"


class WrongOldKey(ValueError):
    """The old key does not decrypt the NIKs still waiting to be rotated: nothing was changed."""


@dataclass
class Rotation:
    """How far a rotation got; `on_batch` sees it after each committed batch."""

    total: int = 0  # workers with a NIK, plus drafts holding one
    seen: int = 0
    rekeyed: int = 0  # workers re-encrypted by this run
    already: int = 0  # workers the new key already decrypted (an earlier run)
    records: int = 0  # attendance records given the new hash
    drafts: int = 0  # NIKs in conversation drafts re-encrypted
    unreadable: list[int] = field(default_factory=list)  # workers neither key decrypts
    unreadable_drafts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "rekeyed": self.rekeyed,
            "already": self.already,
            "records": self.records,
            "drafts": self.drafts,
            "unreadable": self.unreadable,
            "unreadable_drafts": self.unreadable_drafts,
        }


def _with_nik_in_draft() -> Any:
    return cast(ConversationState.data, String).like(f"%{NIK_TOKEN_KEY}%")


async def _check_old_key(db: Database, old: NikVault, new: NikVault) -> None:
    """Refuse a wrong old key before anything is written: of the NIKs not yet under the new key, one of the
    first `PROBE_NIKS` must open with it (one damaged value does not block the rotation)."""
    last_id, refused = 0, 0
    async with db.session() as session:
        while True:
            rows = (
                await session.execute(
                    select(Worker.id, Worker.nik_encrypted)
                    .where(Worker.nik_encrypted.is_not(None), Worker.id > last_id)
                    .order_by(Worker.id)
                    .limit(BATCH_SIZE)
                )
            ).all()
            for worker_id, token in rows:
                last_id = worker_id
                if token is None or new.can_decrypt(token):
                    continue
                if old.can_decrypt(token):
                    return
                refused += 1
                if refused >= PROBE_NIKS:
                    break
            if refused >= PROBE_NIKS or not rows:
                break
    if refused:
        raise WrongOldKey("the old key does not decrypt the stored NIKs")


async def rotate_nik_key(
    db: Database,
    old: NikVault,
    new: NikVault,
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[Rotation], None] | None = None,
) -> Rotation:
    """Re-encrypt and re-hash every NIK under `new` (workers, their attendance records, drafts); one
    transaction per batch of `batch_size` workers. Raises WrongOldKey, changing nothing, when `old` does not
    open the first NIK still to rotate; NIKs neither key opens are listed in `Rotation.unreadable`."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    await _check_old_key(db, old, new)
    progress = Rotation()
    async with db.session() as session:
        workers = await session.scalar(
            select(func.count()).select_from(Worker).where(Worker.nik_encrypted.is_not(None))
        )
        drafts = await session.scalar(
            select(func.count()).select_from(ConversationState).where(_with_nik_in_draft())
        )
    progress.total = int(workers or 0) + int(drafts or 0)

    last_id = 0
    while True:
        async with db.transaction() as session:
            batch = list(
                (
                    await session.execute(
                        select(Worker)
                        .where(Worker.nik_encrypted.is_not(None), Worker.id > last_id)
                        .order_by(Worker.id)
                        .limit(batch_size)
                        .with_for_update()
                    )
                ).scalars()
            )
            if not batch:
                break
            for worker in batch:
                await _rotate_worker(session, worker, old, new, progress)
            last_id = batch[-1].id
        progress.seen += len(batch)
        if on_batch is not None:
            on_batch(progress)

    last_id = 0
    while True:
        async with db.transaction() as session:
            convs = list(
                (
                    await session.execute(
                        select(ConversationState)
                        .where(_with_nik_in_draft(), ConversationState.id > last_id)
                        .order_by(ConversationState.id)
                        .limit(batch_size)
                        .with_for_update()
                    )
                ).scalars()
            )
            if not convs:
                break
            for conv in convs:
                data = copy.deepcopy(conv.data)
                if _rekey_draft(data, old, new, progress):
                    conv.data = data
            last_id = convs[-1].id
        progress.seen += len(convs)
        if on_batch is not None:
            on_batch(progress)

    async with db.transaction() as session:
        session.add(
            AuditLog(
                at=now,
                action="nik_key_rotated",
                entity="worker",
                new={k: v for k, v in progress.as_dict().items() if k != "unreadable"}
                | {"unreadable": len(progress.unreadable)},
            )
        )
    return progress


async def _rotate_worker(
    session: AsyncSession, worker: Worker, old: NikVault, new: NikVault, progress: Rotation
) -> None:
    token = worker.nik_encrypted
    assert token is not None
    if new.can_decrypt(token):
        progress.already += 1
        return
    try:
        new_token, new_hash = new.rekey(token, old)
    except ValueError:
        progress.unreadable.append(worker.id)
        return
    old_hash = worker.nik_hash
    worker.nik_encrypted, worker.nik_hash = new_token, new_hash
    progress.rekeyed += 1
    if old_hash and old_hash != new_hash:
        # Every record with this NIK (this worker's, and the same person's at another site) matches again.
        result = await session.execute(
            update(AttendanceRecord).where(AttendanceRecord.nik_hash == old_hash).values(nik_hash=new_hash)
        )
        progress.records += int(result.rowcount or 0)  # type: ignore[attr-defined]


def _rekey_draft(node: Any, old: NikVault, new: NikVault, progress: Rotation) -> bool:
    """Re-encrypt, in place, each NIK token found in a draft's JSON; True when something changed."""
    changed = False
    if isinstance(node, dict):
        token = node.get(NIK_TOKEN_KEY)
        if isinstance(token, str) and token and not new.can_decrypt(token.encode()):
            try:
                new_token, new_hash = new.rekey(token.encode(), old)
            except ValueError:
                progress.unreadable_drafts += 1
            else:
                node[NIK_TOKEN_KEY] = new_token.decode()
                if NIK_HASH_KEY in node:
                    node[NIK_HASH_KEY] = new_hash
                progress.drafts += 1
                changed = True
        for value in node.values():
            changed = _rekey_draft(value, old, new, progress) or changed
    elif isinstance(node, list):
        for value in node:
            changed = _rekey_draft(value, old, new, progress) or changed
    return changed
