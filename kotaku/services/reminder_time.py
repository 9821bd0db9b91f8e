"""One's own reminder time (/pengingat): when the daily report reminder, or a facilitator's daily digest,
reaches a person; the time it falls back to; and a pause for one local day. `kotaku.reminders` reads
what is set here when it plans a day."""

from __future__ import annotations

import re
from datetime import date, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.models import GroupBinding, Ksm, Person, Role
from kotaku.uow import UnitOfWork

# A reminder may be set between these local times (not at night).
EARLIEST = time(5, 0)
LATEST = time(21, 59)
_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")


def parse_reminder_time(text: str) -> time | None:
    """`16`, `16:30`, `16.30` -> a time between `EARLIEST` and `LATEST`; None otherwise."""
    m = _TIME_RE.match(text.strip())
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    value = time(hour, minute)
    return value if EARLIEST <= value <= LATEST else None


def gets_digest(person: Person) -> bool:
    """A facilitator's own time is that of the daily digest; everyone else's, of the report reminder."""
    return person.role == Role.FASILITATOR


async def default_reminder_time(session: AsyncSession, settings: Settings, person: Person) -> time:
    """The time that applies when the person has set none: the digest's, or their KSM's reminder time."""
    cfg = settings.reminders
    if gets_digest(person):
        return cfg.digest_time or cfg.first_time
    if person.scope_ksm_id is not None:
        ksm = await session.get(Ksm, person.scope_ksm_id)
        if ksm is not None and ksm.reminder_time is not None:
            return ksm.reminder_time
    return cfg.first_time


async def reminded_in_group(session: AsyncSession, person: Person) -> bool:
    """The person's KSM has a chat group, so its report reminder goes to the group at the KSM's time."""
    if person.scope_ksm_id is None or gets_digest(person):
        return False
    stmt = select(GroupBinding.id).where(GroupBinding.ksm_id == person.scope_ksm_id).limit(1)
    return (await session.execute(stmt)).first() is not None


def set_reminder_time(uow: UnitOfWork, person: Person, value: time | None) -> None:
    """The person's own time, or None for the default again."""
    person.reminder_time = value
    uow.session.add(person)


def pause_reminders(uow: UnitOfWork, person: Person, day: date) -> None:
    """No reminder for the person on local date `day`."""
    person.reminder_paused_on = day
    uow.session.add(person)


def resume_reminders(uow: UnitOfWork, person: Person) -> None:
    person.reminder_paused_on = None
    uow.session.add(person)
