"""Invites: single-use, expiring, unguessable codes that bind a chat identity to a person, role and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.models import Invite, Role
from kotaku.security import random_code
from kotaku.services.scope import ROLE_SCOPES, Scope

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LENGTH = 8  # 31**8 ≈ 8.5e11 codes; with 5 tries an hour per identity, guessing is hopeless.


class InviteScopeMismatch(ValueError):
    """The scope kind does not fit the role (e.g. a KSM coordinator scoped to a province)."""


@dataclass(frozen=True)
class CreatedInvite:
    code: str
    role: Role
    scope: Scope
    expires_at: datetime


def normalize_code(text: str) -> str:
    """Codes are case-insensitive and survive spaces or dashes typed by users."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def check_role_scope(role: Role, scope: Scope) -> None:
    allowed = ROLE_SCOPES[role]
    region_levels = {"kelurahan", "kecamatan", "kabkota", "provinsi"}
    if scope.kind not in allowed and not (scope.kind == "region" and region_levels & set(allowed)):
        raise InviteScopeMismatch(
            f"peran {role.value} memerlukan cakupan {' / '.join(allowed)}, bukan {scope.kind}"
        )


async def create_invite(
    session: AsyncSession,
    *,
    role: Role,
    scope: Scope,
    valid_days: int,
    name: str | None = None,
    phone: str | None = None,
    person_id: int | None = None,
    created_by_id: int | None = None,
    at: datetime | None = None,
) -> CreatedInvite:
    check_role_scope(role, scope)
    now = at or clock.now()
    expires = now + timedelta(days=valid_days)
    for _ in range(5):
        code = random_code(INVITE_LENGTH, INVITE_ALPHABET)
        exists = (await session.execute(select(Invite.id).where(Invite.code == code))).first()
        if exists:
            continue
        invite = Invite(
            code=code,
            role=role,
            scope_ksm_id=scope.ksm_id,
            scope_bkm_id=scope.bkm_id,
            scope_region_id=scope.region_id,
            person_id=person_id,
            name=name,
            phone=phone,
            created_by_id=created_by_id,
            created_at=now,
            expires_at=expires,
        )
        session.add(invite)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            continue
        return CreatedInvite(code=code, role=role, scope=scope, expires_at=expires)
    raise RuntimeError("could not allocate a unique invite code")


def telegram_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def whatsapp_text(code: str) -> str:
    return f"DAFTAR {code}"


def whatsapp_link(phone_number: str | None, code: str) -> str | None:
    if not phone_number:
        return None
    digits = "".join(ch for ch in phone_number if ch.isdigit())
    return f"https://wa.me/{digits}?text=DAFTAR%20{code}"
