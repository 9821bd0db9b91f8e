"""A person whose number the channel vouches for (WhatsApp) is registered by the invite made out to that
number by writing anything; without such an invite, or with two, they still need DAFTAR CODE."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from kotaku.models import Channel, ChannelIdentity, Role
from kotaku.schemas import Inbound
from kotaku.services.invites import create_invite
from kotaku.services.scope import Scope
from tests.catalogue_keys import keys_in
from tests.e2e.conftest import World

IDS = itertools.count(1)
PHONE = "+6281234567890"


async def _invite(world: World, phone: str | None) -> str:
    async with world.db.transaction() as s:
        inv = await create_invite(
            s,
            role=Role.KETUA_KSM,
            scope=Scope(ksm_id=world.program["ksm_a"]),
            valid_days=14,
            name="Pak Baru",
            phone=phone,
            at=world.clock(),
        )
    return inv.code


async def _say(world: World, text: str, phone: str | None, user: str = "ID.555") -> str:
    replies = await world.engine.handle(
        Inbound(
            channel=Channel.WHATSAPP,
            user_id=user,
            chat_id="6281234567890",
            message_id=f"wamid.{next(IDS)}",
            text=text,
            phone=phone,
            display_name="Pak Baru",
        )
    )
    return "\n".join(r.text for r in replies)


async def _identity(world: World, user: str = "ID.555") -> ChannelIdentity | None:
    async with world.db.session() as s:
        stmt = select(ChannelIdentity).where(ChannelIdentity.external_id == user)
        return (await s.execute(stmt)).scalar_one_or_none()


async def test_the_invite_for_this_number_registers_on_any_message(world: World) -> None:
    await _invite(world, PHONE)
    assert "engine.welcome" in keys_in(await _say(world, "halo", PHONE))
    identity = await _identity(world)
    assert identity is not None and identity.person_id is not None


async def test_no_number_or_another_number_still_needs_the_code(world: World) -> None:
    code = await _invite(world, PHONE)
    assert "engine.stranger" in keys_in(await _say(world, "halo", None))
    assert "engine.stranger" in keys_in(await _say(world, "halo", "+6289999999999", user="ID.777"))
    assert await _identity(world) is None
    assert "engine.welcome" in keys_in(await _say(world, f"DAFTAR {code}", None))


async def test_two_open_invites_for_one_number_are_not_guessed(world: World) -> None:
    await _invite(world, PHONE)
    await _invite(world, PHONE)
    assert "engine.stranger" in keys_in(await _say(world, "halo", PHONE))
    assert await _identity(world) is None
