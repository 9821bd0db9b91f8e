"""Binding a chat identity to an invited person: redeem a code, with a limit on failed tries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.models import AuditLog, AuthFailure, Channel, ChannelIdentity, Invite, Person
from kotaku.security import random_code
from kotaku.services.invites import normalize_code


class RedeemError(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    TOO_MANY = "too_many"
    ALREADY_REGISTERED = "already_registered"


@dataclass(frozen=True)
class RedeemResult:
    person: Person | None
    error: RedeemError | None = None


async def recent_failures(session: AsyncSession, channel: Channel, external_id: str, now: datetime) -> int:
    stmt = select(func.count(AuthFailure.id)).where(
        AuthFailure.channel == channel,
        AuthFailure.external_id == external_id,
        AuthFailure.at > now - timedelta(hours=1),
    )
    return int((await session.execute(stmt)).scalar_one())


async def redeem_invite(
    session: AsyncSession,
    *,
    channel: Channel,
    external_id: str,
    chat_id: str,
    code_text: str,
    display_name: str | None,
    now: datetime,
    max_failures: int,
) -> RedeemResult:
    """Use an invite for this identity. Failures are recorded; the caller must commit them too."""
    existing = (
        await session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return RedeemResult(await session.get(Person, existing.person_id), RedeemError.ALREADY_REGISTERED)
    if await recent_failures(session, channel, external_id, now) >= max_failures:
        return RedeemResult(None, RedeemError.TOO_MANY)

    code = normalize_code(code_text)
    invite = (
        (
            await session.execute(select(Invite).where(Invite.code == code).with_for_update())
        ).scalar_one_or_none()
        if code
        else None
    )
    error = None
    if invite is None:
        error = RedeemError.UNKNOWN
    elif invite.used_at is not None:
        error = RedeemError.USED
    elif invite.expires_at <= now:
        error = RedeemError.EXPIRED
    if error is not None:
        session.add(AuthFailure(channel=channel, external_id=external_id, at=now))
        return RedeemResult(None, error)
    assert invite is not None

    person = await session.get(Person, invite.person_id) if invite.person_id else None
    if person is None:
        person = Person(
            code=await _new_person_code(session),
            name=invite.name or display_name or "Pengguna",
            role=invite.role,
            phone=invite.phone,
            scope_ksm_id=invite.scope_ksm_id,
            scope_bkm_id=invite.scope_bkm_id,
            scope_region_id=invite.scope_region_id,
            created_at=now,
        )
        session.add(person)
        await session.flush()
    identity = ChannelIdentity(
        person_id=person.id,
        channel=channel,
        external_id=external_id,
        chat_id=chat_id,
        display_name=display_name,
        created_at=now,
        last_seen_at=now,
    )
    session.add(identity)
    await session.flush()
    invite.used_at = now
    invite.used_by_identity_id = identity.id
    invite.person_id = person.id
    session.add(
        AuditLog(
            at=now,
            actor_id=person.id,
            action="invite_redeemed",
            entity="invite",
            entity_id=invite.id,
            new={"channel": channel.value, "role": invite.role.value},
        )
    )
    return RedeemResult(person)


async def _new_person_code(session: AsyncSession) -> str:
    while True:
        code = "u-" + random_code(6, "23456789abcdefghjkmnpqrstuvwxyz")
        if (await session.execute(select(Person.id).where(Person.code == code))).first() is None:
            return code


async def invite_for_phone(session: AsyncSession, phone: str, now: datetime) -> str | None:
    """The code of the one open invite made out to this phone number (E.164), if exactly one: a person
    whose number the channel vouches for (WhatsApp) is registered by writing anything."""
    stmt = select(Invite.code).where(Invite.phone == phone, Invite.used_at.is_(None), Invite.expires_at > now)
    codes = list((await session.execute(stmt.limit(2))).scalars())
    return codes[0] if len(codes) == 1 else None
