"""Binding a chat identity to an invited person: redeem a code, with limits on wrong codes per identity,
per channel and for everyone (sliding windows in the database), and the admins told of a burst."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue
from kotaku.config import InviteConfig
from kotaku.models import AuditLog, AuthFailure, Channel, ChannelIdentity, Invite, Person, Role
from kotaku.notify.outbox import PRIORITY_HIGH, notify_people
from kotaku.security import random_code
from kotaku.services import limits
from kotaku.services.invites import MAX_CODE_CHARS, mask_code, normalize_code

log = structlog.get_logger(__name__)

ALL_KEY = "invite:all"


class RedeemError(enum.StrEnum):
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    TOO_MANY = "too_many"  # this identity's wrong codes
    BUSY = "busy"  # everyone's (or this channel's) wrong codes: registration by code is held for a while
    ALREADY_REGISTERED = "already_registered"


@dataclass(frozen=True)
class RedeemResult:
    person: Person | None
    error: RedeemError | None = None


def channel_key(channel: Channel) -> str:
    return f"invite:{channel.value}"


def window_of(config: InviteConfig) -> limits.Window:
    return limits.Window(timedelta(minutes=config.window_minutes))


async def recent_failures(session: AsyncSession, channel: Channel, external_id: str, now: datetime) -> int:
    stmt = select(func.count(AuthFailure.id)).where(
        AuthFailure.channel == channel,
        AuthFailure.external_id == external_id,
        AuthFailure.at > now - timedelta(hours=1),
    )
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class SharedFailures:
    """Wrong codes in the window: from everyone, and from this channel."""

    all: int
    channel: int

    def reached(self, config: InviteConfig) -> bool:
        return self.all >= config.max_failures_global or self.channel >= config.max_failures_per_channel


async def shared_failures(
    session: AsyncSession, channel: Channel, now: datetime, config: InviteConfig
) -> SharedFailures:
    window = window_of(config)
    return SharedFailures(
        all=await limits.count(session, ALL_KEY, window, now),
        channel=await limits.count(session, channel_key(channel), window, now),
    )


async def tell_admins_of_burst(
    session: AsyncSession, channel: Channel, failures: SharedFailures, now: datetime, config: InviteConfig
) -> int:
    """Queue one notice to every admin, at most once per window: wrong codes are coming in bulk and
    registration by code is held. Returns how many messages were queued."""
    admins = list(
        (
            await session.execute(
                select(Person).where(Person.role == Role.ADMIN, Person.active.is_(True)).order_by(Person.id)
            )
        ).scalars()
    )
    queued = 0
    for admin in admins:
        text = catalogue.t(
            "access.invite_burst",
            admin.language or catalogue.DEFAULT_LANG,
            n=failures.all,
            channel=channel.value,
            n_channel=failures.channel,
            minutes=config.window_minutes,
            max_all=config.max_failures_global,
            max_channel=config.max_failures_per_channel,
        )
        queued += await notify_people(
            session,
            [admin],
            kind="invite_burst",
            payload={"text": text, "failures": failures.all, "channel": channel.value},
            dedup_key=f"invite-burst:{window_of(config).index(now)}",
            now=now,
            priority=PRIORITY_HIGH,
        )
    if queued:
        log.warning(
            "invite_burst", channel=channel.value, failures=failures.all, channel_failures=failures.channel
        )
    return queued


async def redeem_invite(
    session: AsyncSession,
    *,
    channel: Channel,
    external_id: str,
    chat_id: str,
    code_text: str,
    display_name: str | None,
    now: datetime,
    config: InviteConfig,
    vouched: bool = False,
) -> RedeemResult:
    """Use an invite for this identity. Wrong codes are counted (per identity, per channel and for
    everyone); the caller must commit them too. `vouched`: the code was found by the number the channel
    vouches for (an invite made out to it), no guess, so the limits on guessing do not apply."""
    existing = (
        await session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return RedeemResult(await session.get(Person, existing.person_id), RedeemError.ALREADY_REGISTERED)
    code = normalize_code(code_text)
    if not vouched:
        if await recent_failures(session, channel, external_id, now) >= config.max_failures_per_hour:
            log.info("invite_refused", channel=channel.value, user=external_id, reason="too_many")
            return RedeemResult(None, RedeemError.TOO_MANY)
        shared = await shared_failures(session, channel, now, config)
        if shared.reached(config):
            log.warning("invite_refused", channel=channel.value, user=external_id, reason="busy")
            await tell_admins_of_burst(session, channel, shared, now, config)
            return RedeemResult(None, RedeemError.BUSY)

    invite = (
        (
            await session.execute(select(Invite).where(Invite.code == code).with_for_update())
        ).scalar_one_or_none()
        if code and len(code) <= MAX_CODE_CHARS
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
        await limits.hit(session, [ALL_KEY, channel_key(channel)], window_of(config), now)
        log.info(
            "invite_failed", channel=channel.value, user=external_id, reason=error.value, code=mask_code(code)
        )
        shared = await shared_failures(session, channel, now, config)
        if shared.reached(config):
            await tell_admins_of_burst(session, channel, shared, now, config)
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
    log.info(
        "invite_redeemed",
        channel=channel.value,
        person=person.code,
        role=invite.role.value,
        code=mask_code(code),
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
