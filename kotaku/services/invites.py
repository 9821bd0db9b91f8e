"""Invites: single-use, expiring, unguessable codes that bind a chat identity to a person, role and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import clock
from kotaku.models import Invite, Person, Role
from kotaku.security import random_code
from kotaku.services.access import Action, allowed, log_refusal, may_invite
from kotaku.services.scope import ROLE_SCOPES, Scope
from kotaku.services.summary import OutsideScope, view_scope

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
INVITE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
INVITE_LENGTH = 8  # 31**8 ≈ 8.5e11 codes; with 5 tries an hour per identity, guessing is hopeless.


class InviteScopeMismatch(ValueError):
    """The scope kind does not fit the role (e.g. a KSM coordinator scoped to a province)."""


# What the inviter is told for each refusal reason (catalogue keys).
REFUSAL_KEYS = {
    "role": "access.invite_not_allowed",
    "role_above": "access.invite_role_above",
    "outside_scope": "access.invite_outside_scope",
}


class InviteNotAllowed(PermissionError):
    """The inviter may not make this invite: `reason` is `role` (the role invites nobody), `role_above`
    (the invited role is not below the inviter's) or `outside_scope` (`scope` names what was asked)."""

    def __init__(self, reason: str, role: Role, scope: str = "") -> None:
        super().__init__(reason)
        self.reason, self.role, self.scope = reason, role, scope


@dataclass(frozen=True)
class CreatedInvite:
    code: str
    role: Role
    scope: Scope
    expires_at: datetime


# Longer than any code made here (the column holds 16): what a person typed beyond this is no code.
MAX_CODE_CHARS = 16
# What of a code may appear in a log line or an alert: enough to tell two attempts apart, never the code.
SHOWN_CODE_CHARS = 2


def normalize_code(text: str) -> str:
    """Codes are case-insensitive and survive spaces or dashes typed by users; only ASCII letters and
    digits count (a fullwidth `Ａ` is no code letter), and anything longer than a code is cut."""
    code = "".join(ch for ch in text.upper() if ch.isascii() and ch.isalnum())
    return code[: MAX_CODE_CHARS + 1]


def mask_code(code: str) -> str:
    """A code as logs show it: its first two characters and an ellipsis (`AB…`)."""
    return f"{code[:SHOWN_CODE_CHARS]}…" if len(code) > SHOWN_CODE_CHARS else "…"


def check_role_scope(role: Role, scope: Scope) -> None:
    allowed = ROLE_SCOPES[role]
    region_levels = {"kelurahan", "kecamatan", "kabkota", "provinsi"}
    if scope.kind not in allowed and not (scope.kind == "region" and region_levels & set(allowed)):
        raise InviteScopeMismatch(
            f"peran {role.value} memerlukan cakupan {' / '.join(allowed)}, bukan {scope.kind}"
        )


async def check_inviter(session: AsyncSession, inviter: Person, role: Role, scope_text: str) -> Scope:
    """The scope of an invite that `inviter` makes for `role`: one's own or a KSM/BKM/region inside it
    (`ScopeNotFound` for an unknown one). Raises InviteNotAllowed, after logging the refusal."""
    reason, scope_label = "", ""
    if not allowed(inviter.role, Action.INVITE):
        reason = "role"
    elif not may_invite(inviter.role, role):
        reason = "role_above"
    else:
        try:
            return await view_scope(session, inviter, scope_text)
        except OutsideScope as exc:
            reason, scope_label = "outside_scope", str(exc)
    log_refusal(inviter, Action.INVITE, reason, invited_role=role.value, scope=scope_text)
    raise InviteNotAllowed(reason, inviter.role, scope_label)


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
