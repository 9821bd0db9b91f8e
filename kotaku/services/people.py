"""The people of the program as a directory (who can be chosen in the console chat and the CLI), and
the channel identity of a person known there by their code (the console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kotaku import catalogue
from kotaku.models import Channel, ChannelIdentity, Person


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
