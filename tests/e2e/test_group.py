"""KSM group chats: a coordinator binds the group; registered members report there, per user."""

from __future__ import annotations

from sqlalchemy import select

from kotaku.models import AttendanceDay, ConversationState, GroupBinding
from tests.catalogue_keys import keys_in, says
from tests.e2e.conftest import World


async def test_bind_group_and_report_there(world: World) -> None:
    ketua = world.channel().as_user("ketua-a", "grp-1", group=True)
    await ketua.text("/daftarkan_grup")
    assert says(ketua.last_text(), "engine.group_bound", ksm="KSM Bejalen Makmur")
    async with world.db.session() as s:
        binding = (await s.execute(select(GroupBinding))).scalar_one()
        assert binding.chat_id == "grp-1" and binding.ksm_id == world.program["ksm_a"]

    # A facilitator covering several KSMs reports in the group without choosing: the group says which KSM.
    fasil = world.channel().as_user("fasil", "grp-1", group=True)
    await fasil.text("/hadir 18")
    assert "flow.choose_ksm" not in keys_in(fasil.all_text())
    assert fasil.last_choices()

    chatter = await ketua.text("besok hujan, semen datang jam 8")  # group chatter outside a report
    assert chatter == []

    # Conversations are per user: the ketua's draft is not disturbed by the facilitator's.
    await ketua.text("/hadir semua")
    await ketua.tap("Simpan")
    async with world.db.session() as s:
        day = (await s.execute(select(AttendanceDay))).scalar_one()
        assert day.ksm_id == world.program["ksm_a"] and day.entered_by_id == world.program["ketua-a"]
        convs = (
            await s.execute(select(ConversationState).where(ConversationState.chat_id == "grp-1"))
        ).scalars()
        users = {c.user_id: c.flow for c in convs}
    assert users["fasil"] == "hadir" and users["ketua-a"] is None


async def test_group_strangers_and_other_ksm(world: World) -> None:
    ketua = world.channel().as_user("ketua-a", "grp-2", group=True)
    await ketua.text("/daftarkan_grup")
    stranger = world.channel().as_user("someone", "grp-2", group=True)
    await stranger.text("halo semua")  # ordinary group chatter is ignored
    assert stranger.outbox == []
    await stranger.text("/hadir")
    assert "engine.group_stranger" in keys_in(stranger.last_text())
    other = world.channel().as_user("ketua-c", "grp-2", group=True)
    await other.text("/hadir semua")
    assert "flow.no_ksm" in keys_in(other.last_text())
    async with world.db.session() as s:
        assert (await s.execute(select(AttendanceDay))).first() is None


async def test_worker_cannot_bind_and_private_chat_explains(world: World) -> None:
    worker = world.channel().as_user("pekerja-a", "grp-3", group=True)
    await worker.text("/daftarkan_grup")
    assert "engine.group_not_allowed" in keys_in(worker.last_text())
    private = world.channel("ketua-a")
    await private.text("/daftarkan_grup")
    assert "engine.group_only" in keys_in(private.last_text())
