"""The people of the program as a directory (who can be chosen in the console chat and the CLI), the
channel identity of a person known there by their code (the console), and what a WhatsApp webhook tells
about a contact (its business-scoped user id, its phone number)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kotaku import catalogue
from kotaku.models import Channel, ChannelIdentity, ConversationState, Person


@dataclass(frozen=True)
class PersonEntry:
    id: int
    code: str
    name: str
    role: str
    scope: str
    language: str
    phone: str | None = None

    @property
    def who(self) -> str:
        return f"{self.name} ({self.code}, {self.role}, {self.scope})"


def scope_name(person: Person, lang: str = catalogue.DEFAULT_LANG) -> str:
    """The name of a person's scope: their KSM, BKM or region, or the whole program (relations loaded)."""
    for place in (person.scope_ksm, person.scope_bkm, person.scope_region):
        if place is not None:
            return place.name
    return catalogue.t("people.scope_national", lang)


def _people() -> Select[Any]:
    return select(Person).options(
        selectinload(Person.scope_ksm), selectinload(Person.scope_bkm), selectinload(Person.scope_region)
    )


def _entry(p: Person) -> PersonEntry:
    return PersonEntry(
        id=p.id,
        code=p.code,
        name=p.name,
        role=p.role.value,
        scope=scope_name(p),
        language=p.language or catalogue.DEFAULT_LANG,
        phone=p.phone,
    )


async def directory(session: AsyncSession) -> list[PersonEntry]:
    """Every person, in the order they were entered."""
    return [_entry(p) for p in (await session.execute(_people().order_by(Person.id))).scalars()]


async def identity_by_code(session: AsyncSession, channel: Channel, code: str) -> PersonEntry | None:
    """The person with this code, given an identity on `channel` whose external id is the code (created
    when missing; an identity with that code always follows the person who has the code now)."""
    person: Person | None = (await session.execute(_people().where(Person.code == code))).scalar_one_or_none()
    if person is None:
        return None
    identity = (
        await session.execute(
            select(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == code
            )
        )
    ).scalar_one_or_none()
    if identity is None:
        session.add(
            ChannelIdentity(
                person_id=person.id, channel=channel, external_id=code, chat_id=code, display_name=person.name
            )
        )
    elif identity.person_id != person.id:
        identity.person_id = person.id
    return _entry(person)


@dataclass(frozen=True)
class WhatsAppContact:
    """The identity a WhatsApp message belongs to: the user id the engine should use (the identity's
    external id when one exists) and the person's language; `known` False for a stranger."""

    user_id: str
    known: bool
    language: str | None = None


async def _whatsapp_identity(session: AsyncSession, column: Any, value: str) -> ChannelIdentity | None:
    stmt = (
        select(ChannelIdentity)
        .where(ChannelIdentity.channel == Channel.WHATSAPP, column == value)
        .order_by(ChannelIdentity.id)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def note_whatsapp_contact(
    session: AsyncSession, *, user_id: str, wa_id: str | None = None, wa_id_e164: str | None = None
) -> WhatsAppContact:
    """Keep a WhatsApp identity in step with what the webhook says of the sender.

    `user_id` is the business-scoped user id (BSUID) when the webhook has one, else the `wa_id`. An identity
    registered before Meta sent BSUIDs has the `wa_id` as external id: it is moved to the BSUID (with its
    conversations) unless an identity with the BSUID exists already. A message in the old format (no BSUID)
    from someone whose identity has already moved is found by its chat (the `wa_id`). The phone number
    (E.164 of the `wa_id`) is stored on the identity.
    """
    identity = await _whatsapp_identity(session, ChannelIdentity.external_id, user_id)
    if identity is None and wa_id and wa_id != user_id:
        identity = await _whatsapp_identity(session, ChannelIdentity.external_id, wa_id)
        if identity is not None:
            identity.external_id = user_id
            await _move_conversations(session, wa_id, user_id)
    if identity is None and wa_id and wa_id == user_id:
        identity = await _whatsapp_identity(session, ChannelIdentity.chat_id, wa_id)
    if identity is None:
        return WhatsAppContact(user_id=user_id, known=False)
    if wa_id_e164 and identity.phone != wa_id_e164:
        identity.phone = wa_id_e164
    person = await session.get(Person, identity.person_id)
    return WhatsAppContact(
        user_id=identity.external_id, known=True, language=person.language if person is not None else None
    )


async def _move_conversations(session: AsyncSession, old_user_id: str, new_user_id: str) -> None:
    """Conversations kept under the old user id continue under the new one (where none exists yet)."""
    rows = (
        await session.execute(
            select(ConversationState).where(
                ConversationState.channel == Channel.WHATSAPP, ConversationState.user_id == old_user_id
            )
        )
    ).scalars()
    for conv in list(rows):
        taken = (
            await session.execute(
                select(ConversationState.id).where(
                    ConversationState.channel == Channel.WHATSAPP,
                    ConversationState.chat_id == conv.chat_id,
                    ConversationState.user_id == new_user_id,
                )
            )
        ).first()
        if taken is None:
            conv.user_id = new_user_id
