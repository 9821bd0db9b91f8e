"""Onboarding by invite code, strangers, wrong codes and their limit, duplicates, languages."""

from __future__ import annotations

from datetime import timedelta

from kotaku.models import Role
from kotaku.services.invites import create_invite
from kotaku.services.scope import Scope
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import World


async def _invite(world: World, role: Role = Role.KETUA_KSM, days: int = 14) -> str:
    async with world.db.transaction() as s:
        inv = await create_invite(
            s,
            role=role,
            scope=Scope(ksm_id=world.program["ksm_a"]),
            valid_days=days,
            name="Pak Baru",
            at=world.clock(),
        )
    return inv.code


async def test_stranger_gets_explanation_and_nothing_else(world: World) -> None:
    ch = world.channel("stranger-1")
    await ch.text("/hadir 10")
    assert "engine.stranger" in keys_in(ch.last_text())
    assert not ch.last().choices


async def test_deep_link_binds_identity(world: World) -> None:
    code = await _invite(world)
    ch = world.channel("tg-555")
    await ch.text(f"/start {code}")
    assert says(ch.all_text(), "engine.welcome", name="Pak Baru", scope="KSM Bejalen Makmur")
    await ch.text("/bantuan")
    assert "engine.help" in keys_in(ch.last_text()) and "/hadir" in ch.last_text()


async def test_daftar_text_lowercase_with_spaces(world: World) -> None:
    code = await _invite(world)
    ch = world.channel("wa-62812")
    await ch.text(f"daftar {code.lower()}")
    assert "engine.welcome" in keys_in(ch.all_text())


async def test_used_and_expired_codes(world: World) -> None:
    code = await _invite(world)
    await world.channel("first").text(f"DAFTAR {code}")
    second = world.channel("second")
    await second.text(f"DAFTAR {code}")
    assert "engine.invite_used" in keys_in(second.last_text())
    old = await _invite(world, days=1)
    world.clock.advance(days=2)
    third = world.channel("third")
    await third.text(f"DAFTAR {old}")
    assert "engine.invite_expired" in keys_in(third.last_text())


async def test_five_failures_per_hour(world: World) -> None:
    code = await _invite(world)
    ch = world.channel("guesser")
    for i in range(5):
        await ch.text(f"DAFTAR WRONG{i:03d}")
        assert "engine.invite_unknown" in keys_in(ch.last_text())
    await ch.text(f"DAFTAR {code}")
    assert "engine.invite_too_many" in keys_in(ch.last_text())
    world.clock.advance(hours=1, minutes=1)
    await ch.text(f"DAFTAR {code}")
    assert "engine.welcome" in keys_in(ch.all_text())


async def test_duplicate_message_id_changes_nothing(world: World) -> None:
    code = await _invite(world)
    ch = world.channel("dup")
    first = await ch.text(f"DAFTAR {code}", message_id="same-1")
    again = await ch.resend("same-1", f"DAFTAR {code}")
    assert first and again == []


async def test_language_switch(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/bahasa en")
    assert "engine.language_set" in keys_in(ch.last_text(), "en")
    await ch.text("/qwerty")
    assert says(ch.last_text(), "engine.unknown_command", "en", command="qwerty")
    await ch.text("/foo")  # close to a command: the suggestion, in the person's language
    assert says(ch.last_text(), "engine.did_you_mean", "en", command="foo", suggestion="foto")
    await ch.text("/bahasa")
    await ch.tap("Bahasa Indonesia")
    assert "engine.language_set" in keys_in(ch.last_text(), "id")


async def test_expired_draft_notice(world: World) -> None:
    ch = world.channel("ketua-a")
    # A draft of any flow; the engine expires it after dialog.draft_ttl_hours.
    world.engine.settings.dialog.draft_ttl_hours = 1
    from sqlalchemy import select

    from kotaku.models import ConversationState

    await ch.text("menu")
    async with world.db.transaction() as s:
        conv = (
            await s.execute(select(ConversationState).where(ConversationState.user_id == "ketua-a"))
        ).scalar_one()
        conv.flow, conv.state, conv.expires_at = "hadir", "x", world.clock() + timedelta(hours=1)
    world.clock.advance(hours=2)
    await ch.text("halo")
    assert says(ch.all_text(), "engine.draft_expired", flow="hadir")
