"""KSM group chats: who may link a group chat to a KSM, and the link itself with its audit entry.

A group already linked to a KSM stays with it unless the one who asks may bind that KSM too (its own
coordinator, or a facilitator whose scope contains it): nobody moves another KSM's group. When the link
does move, the old KSM's coordinators and whoever linked it before are told through the outbox."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue
from kotaku.events import GroupBound
from kotaku.i18n import fmt_date
from kotaku.models import AuditLog, Channel, GroupBinding, Ksm, Person, Role
from kotaku.notify.outbox import notify_people
from kotaku.services.scope import (
    ksm_ids_in_scope,
    ksm_timezone,
    people_in_scope_of_ksm,
    scope_of,
    zone_abbreviation,
)
from kotaku.uow import UnitOfWork

log = structlog.get_logger(__name__)

BINDING_ROLES = frozenset({Role.KETUA_KSM, Role.FASILITATOR})


class BindRefused(enum.StrEnum):
    NOT_A_GROUP = "not_a_group"
    ROLE = "role"  # the role may not bind groups
    BOUND_ELSEWHERE = "bound_elsewhere"  # the group belongs to a KSM outside the person's scope
    OUTSIDE_SCOPE = "outside_scope"  # the KSM named is outside the person's scope
    UNKNOWN_KSM = "unknown_ksm"  # no KSM has the code named
    CHOOSE_KSM = "choose_ksm"  # several KSMs in scope and none named
    NO_KSM = "no_ksm"  # no KSM in the person's scope


# What the person is told for each refusal (catalogue keys; `{ksm}` the KSM it is about, `{code}` what
# was typed after the command).
REFUSAL_KEYS = {
    BindRefused.NOT_A_GROUP: "engine.group_only",
    BindRefused.ROLE: "engine.group_not_allowed",
    BindRefused.BOUND_ELSEWHERE: "access.group_bound_elsewhere",
    BindRefused.OUTSIDE_SCOPE: "access.group_outside_scope",
    BindRefused.UNKNOWN_KSM: "access.group_unknown_ksm",
    BindRefused.CHOOSE_KSM: "access.group_choose_ksm",
    BindRefused.NO_KSM: "flow.no_ksm",
}
# A facilitator who must name the KSM gets one button per KSM in scope, at most this many.
MAX_CHOICES = 10


class GroupBindingRefused(Exception):
    def __init__(self, reason: BindRefused, ksm: Ksm | None = None, choices: list[Ksm] | None = None) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.ksm = ksm  # the KSM the refusal is about (the group's, or the one named)
        self.choices = choices or []  # for CHOOSE_KSM: the KSMs the person may name


@dataclass(frozen=True)
class Bound:
    ksm: Ksm
    previous: Ksm | None = None  # the KSM the group was linked to before, when the link moved
    told: tuple[str, ...] = ()  # the names of those told of the move


async def group_ksm_id(session: AsyncSession, channel: Channel, chat_id: str) -> int | None:
    """The KSM a group chat is linked to, if any."""
    stmt = select(GroupBinding.ksm_id).where(GroupBinding.channel == channel, GroupBinding.chat_id == chat_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def _bindable_ksm_ids(session: AsyncSession, person: Person) -> list[int]:
    """The KSMs this person may link a group to: a coordinator's own, or every KSM in one's scope."""
    if person.role == Role.KETUA_KSM:
        return [person.scope_ksm_id] if person.scope_ksm_id is not None else []
    return await ksm_ids_in_scope(session, scope_of(person))


async def _ksm_by_code(session: AsyncSession, code: str) -> Ksm | None:
    stmt = select(Ksm).where(func.upper(Ksm.code) == code.strip().upper())
    return (await session.execute(stmt)).scalar_one_or_none()


async def bind_group(
    uow: UnitOfWork,
    *,
    person: Person,
    channel: Channel,
    chat_id: str,
    is_group: bool,
    now: datetime,
    ksm_code: str = "",
) -> Bound:
    """Link a group chat to a KSM: a coordinator's own, or for a facilitator the one named by `ksm_code`
    (or the only one in scope). A group already linked to a KSM outside the person's scope is refused; one
    linked inside it stays with that KSM unless another is named. Raises GroupBindingRefused."""
    if not is_group:
        raise GroupBindingRefused(BindRefused.NOT_A_GROUP)
    if person.role not in BINDING_ROLES:
        raise GroupBindingRefused(BindRefused.ROLE)
    session = uow.session
    allowed = await _bindable_ksm_ids(session, person)
    binding = (
        await session.execute(
            select(GroupBinding)
            .where(GroupBinding.channel == channel, GroupBinding.chat_id == chat_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    current = await session.get(Ksm, binding.ksm_id) if binding is not None else None
    if current is not None and current.id not in allowed:
        raise GroupBindingRefused(BindRefused.BOUND_ELSEWHERE, current)

    if ksm_code.strip():
        target = await _ksm_by_code(session, ksm_code)
        if target is None:
            raise GroupBindingRefused(BindRefused.UNKNOWN_KSM)
        if target.id not in allowed:
            raise GroupBindingRefused(BindRefused.OUTSIDE_SCOPE, target)
    elif current is not None:
        target = current
    elif len(allowed) == 1:
        target = await session.get(Ksm, allowed[0])
    elif not allowed:
        raise GroupBindingRefused(BindRefused.NO_KSM)
    else:
        stmt = select(Ksm).where(Ksm.id.in_(allowed)).order_by(Ksm.code).limit(MAX_CHOICES)
        raise GroupBindingRefused(
            BindRefused.CHOOSE_KSM, choices=list((await session.execute(stmt)).scalars())
        )
    assert target is not None

    previous = current if current is not None and current.id != target.id else None
    old_binder_id = binding.bound_by_id if binding is not None else None
    if binding is None:
        session.add(
            GroupBinding(
                channel=channel, chat_id=chat_id, ksm_id=target.id, bound_by_id=person.id, bound_at=now
            )
        )
    else:
        binding.ksm_id, binding.bound_by_id, binding.bound_at = target.id, person.id, now
    session.add(
        AuditLog(
            at=now,
            actor_id=person.id,
            action="group_bound",
            entity="ksm",
            entity_id=target.id,
            old={"ksm_id": previous.id, "bound_by_id": old_binder_id} if previous is not None else None,
            new={"chat_id": chat_id, "channel": channel.value},
        )
    )
    told: tuple[str, ...] = ()
    if previous is not None:
        told = await _tell_of_move(session, person, previous, target, old_binder_id, channel, chat_id, now)
        log.warning(
            "group_rebound",
            channel=channel.value,
            chat=chat_id,
            by=person.code,
            old_ksm=previous.code,
            new_ksm=target.code,
        )
    uow.record(GroupBound(at=now, ksm_id=target.id, channel=channel.value, chat_id=chat_id))
    return Bound(ksm=target, previous=previous, told=told)


async def _tell_of_move(
    session: AsyncSession,
    mover: Person,
    old: Ksm,
    new: Ksm,
    old_binder_id: int | None,
    channel: Channel,
    chat_id: str,
    now: datetime,
) -> tuple[str, ...]:
    """Tell the old KSM's coordinators and whoever linked the group before (each in their language, in the
    old site's local time) that the group now reports for another KSM. Returns their names."""
    people = await people_in_scope_of_ksm(session, old.id, [Role.KETUA_KSM])
    people = [p for p in people if p.scope_ksm_id == old.id]
    if old_binder_id is not None and all(p.id != old_binder_id for p in people):
        binder = await session.get(Person, old_binder_id)
        if binder is not None and binder.active:
            people.append(binder)
    people = [p for p in people if p.id != mover.id]
    tz = await ksm_timezone(session, old.id)
    local = now.astimezone(ZoneInfo(tz))
    for person in people:
        lang = person.language or catalogue.DEFAULT_LANG
        moment = catalogue.t(
            "cli.moment",
            lang,
            date=fmt_date(local.date(), lang),
            time=f"{local:%H.%M}" if lang == "id" else f"{local:%H:%M}",
            zone=zone_abbreviation(tz),
        )
        text = catalogue.t(
            "access.group_moved_notice",
            lang,
            old=old.name,
            ksm=new.name,
            name=mover.name,
            role=catalogue.role_label(mover.role.value, lang),
            at=moment,
        )
        await notify_people(
            session,
            [person],
            kind="group_moved",
            payload={"text": text, "old_ksm_id": old.id, "ksm_id": new.id, "chat_id": chat_id},
            dedup_key=f"group-moved:{channel.value}:{chat_id}:{now.isoformat()}",
            now=now,
        )
    return tuple(p.name for p in people)
