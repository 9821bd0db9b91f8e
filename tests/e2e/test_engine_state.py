"""The conversation state: written once per message, an unknown state or an unreadable draft is logged,
answered and started afresh (never a silent end), and the flow registry refuses duplicates."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from kotaku.dialog.flow import FlowRegistry
from kotaku.dialog.flows import default_flows
from kotaku.dialog.flows.status import StatusFlow
from kotaku.models import ConversationState
from tests.catalogue_keys import keys_in
from tests.e2e.conftest import World


async def _state(world: World, user: str) -> ConversationState:
    async with world.db.session() as s:
        stmt = select(ConversationState).where(ConversationState.user_id == user)
        return (await s.execute(stmt)).scalar_one()


async def _force(world: World, user: str, **values: object) -> None:
    async with world.db.transaction() as s:
        stmt = select(ConversationState).where(ConversationState.user_id == user)
        conv = (await s.execute(stmt)).scalar_one()
        for key, value in values.items():
            setattr(conv, key, value)


async def test_an_unknown_state_is_answered_and_reset(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    assert (await _state(world, "ketua-a")).flow == "hadir"
    await _force(world, "ketua-a", state="no_such_state")
    await ch.text("1")
    assert "engine.state_lost" in keys_in(ch.all_text())
    conv = await _state(world, "ketua-a")
    assert conv.flow is None and conv.state is None and conv.data == {}
    await ch.text("/hadir")  # and the next report starts normally
    assert (await _state(world, "ketua-a")).flow == "hadir"


async def test_an_unknown_flow_is_answered_and_reset(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    await _force(world, "ketua-a", flow="removed_flow", state="x")
    await ch.text("halo")
    assert "engine.state_lost" in keys_in(ch.all_text())
    assert (await _state(world, "ketua-a")).flow is None


async def test_conversation_state_is_written_once_per_message(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    updates: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE CONVERSATION_STATE"):
            updates.append(statement)

    event.listen(world.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await ch.text("1")  # today: the checklist is built with several queries
    finally:
        event.remove(world.db.engine.sync_engine, "before_cursor_execute", count)
    assert len(updates) == 1


def test_the_registry_refuses_a_flow_or_command_twice() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        FlowRegistry([*default_flows(), StatusFlow()])
    registry = FlowRegistry(default_flows())
    assert registry.for_command("hadir") is registry.get("hadir")
    assert registry.get("nope") is None and registry.for_command("nope") is None


async def test_a_draft_that_no_longer_fits_its_flow_is_answered_and_reset(world: World) -> None:
    ch = world.channel("ketua-a")
    await ch.text("/hadir")
    conv = await _state(world, "ketua-a")
    await _force(world, "ketua-a", data={**conv.data, "ksm_id": "not a number"})
    await ch.text("1")
    assert "engine.state_lost" in keys_in(ch.all_text())
    conv = await _state(world, "ketua-a")
    assert conv.flow is None and conv.data == {}
