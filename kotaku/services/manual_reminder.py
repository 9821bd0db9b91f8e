"""A manager's reminder to a late KSM, now: from the button of `/status`, through the outbox to the KSM's
coordinators, at most once per KSM and local day whoever asks (a second request names the first).

The message goes as outbox kind `reminder` (so WhatsApp uses the reminder template outside the 24-hour
window) under the dedup key `manual_reminder:ksm<id>:<local date>`; its payload says who asked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue
from kotaku.catalogue import role_label
from kotaku.config import Settings
from kotaku.i18n import fmt_date
from kotaku.models import AuditLog, Ksm, OutboxMessage, Person, Role
from kotaku.notify.outbox import PRIORITY_HIGH, notify_people
from kotaku.services.scope import Scope
from kotaku.services.summary import missed_days, reporting_status, scope_ksms

KEY_PREFIX = "manual_reminder"
OUTBOX_KIND = "reminder"


def dedup_key(ksm_id: int, day: date) -> str:
    return f"{KEY_PREFIX}:ksm{ksm_id}:{day.isoformat()}"


class Outcome(enum.StrEnum):
    SENT = "sent"
    ALREADY_SENT = "already_sent"  # someone asked today already
    REPORTED = "reported"  # the KSM has reported today: nothing to remind
    NOT_RUNNING = "not_running"  # no works run today
    NO_COORDINATOR = "no_coordinator"  # no active, reachable ketua KSM


@dataclass(frozen=True)
class SentReminder:
    """A manual reminder queued for a KSM on its local day: who asked, when, to whom."""

    ksm_id: int
    day: date
    by_id: int | None
    by_name: str
    at: datetime
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class RemindResult:
    outcome: Outcome
    ksm: Ksm
    day: date
    reminder: SentReminder | None = None  # the one sent now, or the one sent earlier today


def _sent(msg: OutboxMessage, recipients: tuple[str, ...] = ()) -> SentReminder | None:
    p: dict[str, Any] = msg.payload or {}
    try:
        day = date.fromisoformat(str(p["local_date"]))
        ksm_id = int(p["ksm_id"])
    except (KeyError, TypeError, ValueError):
        return None
    at = msg.created_at if msg.created_at.tzinfo is not None else msg.created_at.replace(tzinfo=UTC)
    return SentReminder(
        ksm_id=ksm_id,
        day=day,
        by_id=p.get("requested_by_id"),
        by_name=str(p.get("requested_by_name") or "-"),
        at=at,
        recipients=recipients,
    )


async def sent_today(
    session: AsyncSession, today_by_ksm: dict[int, date], now: datetime
) -> dict[int, SentReminder]:
    """The manual reminder each of these KSMs got on its local today (`today_by_ksm`), if any. One query
    (the outbox rows of the last two days under the prefix)."""
    if not today_by_ksm:
        return {}
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.dedup_key.startswith(f"{KEY_PREFIX}:"),
            OutboxMessage.created_at >= now - timedelta(days=2),
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    found: dict[int, SentReminder] = {}
    for msg in (await session.execute(stmt)).scalars():
        sent = _sent(msg)
        if sent is not None and today_by_ksm.get(sent.ksm_id) == sent.day and sent.ksm_id not in found:
            found[sent.ksm_id] = sent
    return found


async def _earlier(session: AsyncSession, ksm_id: int, day: date) -> SentReminder | None:
    """The reminder queued for the KSM on `day`, with the names of the people it went to."""
    stmt = (
        select(OutboxMessage, Person.name)
        .outerjoin(Person, Person.id == OutboxMessage.person_id)
        .where(OutboxMessage.dedup_key.startswith(dedup_key(ksm_id, day) + ":"))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    rows = (await session.execute(stmt)).all()
    if not rows:
        return None
    recipients = tuple(dict.fromkeys(name for _, name in rows if name))
    return _sent(rows[0][0], recipients)


async def coordinators(session: AsyncSession, ksm_id: int) -> list[Person]:
    """The KSM's active coordinators (ketua KSM), by name."""
    stmt = (
        select(Person)
        .where(Person.scope_ksm_id == ksm_id, Person.role == Role.KETUA_KSM, Person.active.is_(True))
        .order_by(Person.name, Person.id)
    )
    return list((await session.execute(stmt)).scalars())


def notice_text(ksm: Ksm, day: date, by: Person, lang: str) -> str:
    return catalogue.t(
        "status.remind_notice",
        lang,
        ksm=ksm.name,
        date=fmt_date(day, lang),
        name=by.name,
        role=role_label(by.role, lang),
    )


def _buttons(lang: str) -> list[dict[str, str]]:
    return [
        {"label": catalogue.t("pengingat.btn_progres", lang), "value": "/progres"},
        {"label": catalogue.t("pengingat.btn_hadir", lang), "value": "/hadir"},
    ]


async def remind_ksm(
    session: AsyncSession, settings: Settings, *, ksm_id: int, by: Person, now: datetime
) -> RemindResult:
    """Queue the reminder to a late KSM's coordinators, in the caller's transaction; once per local day.

    The caller checks that `by` may see the KSM. Nothing is queued when the KSM reported today, has no
    works running, was reminded today already (the result carries that reminder), or has no coordinator
    who can be reached."""
    ksm = await session.get(Ksm, ksm_id)
    if ksm is None:
        raise LookupError(f"KSM {ksm_id} not found")
    scope = Scope(ksm_id=ksm_id)
    sk = await scope_ksms(session, scope, now)
    status = (await reporting_status(session, scope, now))[0]
    day = status.today
    earlier = await _earlier(session, ksm_id, day)
    if earlier is not None:
        return RemindResult(Outcome.ALREADY_SENT, ksm, day, earlier)
    if status.reported:
        return RemindResult(Outcome.REPORTED, ksm, day)
    if not (await missed_days(session, settings, sk, {ksm_id}))[ksm_id].running:
        return RemindResult(Outcome.NOT_RUNNING, ksm, day)
    people = await coordinators(session, ksm_id)
    reached: list[str] = []
    key = dedup_key(ksm_id, day)
    for person in people:
        lang = person.language or settings.app.language
        payload = {
            "text": notice_text(ksm, day, by, lang),
            "choices": _buttons(lang),
            "columns": 2,
            "ksm_id": ksm_id,
            "local_date": day.isoformat(),
            "requested_by_id": by.id,
            "requested_by_name": by.name,
        }
        if await notify_people(
            session,
            [person],
            kind=OUTBOX_KIND,
            payload=payload,
            dedup_key=key,
            now=now,
            priority=PRIORITY_HIGH,
        ):
            reached.append(person.name)
    if not reached:
        return RemindResult(Outcome.NO_COORDINATOR, ksm, day)
    session.add(
        AuditLog(
            at=now,
            actor_id=by.id,
            action="manual_reminder",
            entity="ksm",
            entity_id=ksm_id,
            new={"local_date": day.isoformat(), "recipients": reached},
        )
    )
    sent = SentReminder(ksm_id, day, by.id, by.name, now, tuple(reached))
    return RemindResult(Outcome.SENT, ksm, day, sent)
