"""KSM group chats: who may link a group chat to a KSM, and the link itself with its audit entry."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.events import GroupBound
from kotaku.models import AuditLog, Channel, GroupBinding, Ksm, Person, Role
from kotaku.services.scope import ksm_ids_in_scope, scope_of
from kotaku.uow import UnitOfWork

BINDING_ROLES = frozenset({Role.KETUA_KSM, Role.FASILITATOR})


class BindRefused(enum.StrEnum):
    NOT_A_GROUP = "not_a_group"
    NOT_ALLOWED = "not_allowed"


class GroupBindingRefused(Exception):
    def __init__(self, reason: BindRefused) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def group_ksm_id(session: AsyncSession, channel: Channel, chat_id: str) -> int | None:
    """The KSM a group chat is linked to, if any."""
    stmt = select(GroupBinding.ksm_id).where(GroupBinding.channel == channel, GroupBinding.chat_id == chat_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def bind_group(
    uow: UnitOfWork,
    *,
    person: Person,
    channel: Channel,
    chat_id: str,
    is_group: bool,
    current_ksm_id: int | None,
    now: datetime,
) -> Ksm:
    """Link a group chat to the one KSM of a coordinator, or of a facilitator with exactly one KSM in
    scope (a group already linked inside the facilitator's scope is linked again to the same KSM).
    Raises GroupBindingRefused."""
    if not is_group:
        raise GroupBindingRefused(BindRefused.NOT_A_GROUP)
    if person.role not in BINDING_ROLES:
        raise GroupBindingRefused(BindRefused.NOT_ALLOWED)
    session = uow.session
    if person.role == Role.KETUA_KSM:
        ksm_ids = [person.scope_ksm_id] if person.scope_ksm_id is not None else []
    else:
        allowed = await ksm_ids_in_scope(session, scope_of(person))
        if current_ksm_id is not None:
            ksm_ids = [current_ksm_id] if current_ksm_id in allowed else []
        else:
            ksm_ids = allowed
    if len(ksm_ids) != 1:
        raise GroupBindingRefused(BindRefused.NOT_ALLOWED)
    ksm = await session.get(Ksm, ksm_ids[0])
    if ksm is None:
        raise GroupBindingRefused(BindRefused.NOT_ALLOWED)
    binding = (
        await session.execute(
            select(GroupBinding).where(GroupBinding.channel == channel, GroupBinding.chat_id == chat_id)
        )
    ).scalar_one_or_none()
    if binding is None:
        session.add(
            GroupBinding(channel=channel, chat_id=chat_id, ksm_id=ksm.id, bound_by_id=person.id, bound_at=now)
        )
    else:
        binding.ksm_id, binding.bound_by_id, binding.bound_at = ksm.id, person.id, now
    session.add(
        AuditLog(
            at=now,
            actor_id=person.id,
            action="group_bound",
            entity="ksm",
            entity_id=ksm.id,
            new={"chat_id": chat_id},
        )
    )
    uow.record(GroupBound(at=now, ksm_id=ksm.id, channel=channel.value, chat_id=chat_id))
    return ksm
