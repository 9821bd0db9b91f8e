"""Who may move a KSM group chat to another KSM: nobody from outside the group's KSM (no hijack); its own
coordinator or a facilitator covering it may, and the old KSM's people are told through the outbox."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from sqlalchemy import select
from structlog.testing import capture_logs

from kotaku.models import AuditLog, GroupBinding, OutboxMessage
from tests.catalogue_keys import keys_in, keys_of, says
from tests.e2e.conftest import World

GROUP = "-100900"


async def _binding(world: World, chat: str = GROUP) -> GroupBinding | None:
    async with world.db.session() as s:
        return (
            await s.execute(select(GroupBinding).where(GroupBinding.chat_id == chat))
        ).scalar_one_or_none()


async def _outbox(world: World, kind: str) -> list[OutboxMessage]:
    async with world.db.session() as s:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        return list((await s.execute(stmt)).scalars())


def _refusals(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == "access_refused"]


async def test_a_coordinator_of_another_kota_cannot_take_a_bound_group(world: World) -> None:
    """ketua-a (Bejalen, Kabupaten Semarang) binds the group; ketua-m (Mariso, Kota Makassar) asks for it in
    the same group, with and without naming their KSM: the group stays with Bejalen, each time said why."""
    bejalen = world.channel().as_user("ketua-a", GROUP, group=True)
    await bejalen.text("/daftarkan_grup")
    assert says(bejalen.last_text(), "engine.group_bound", ksm="KSM Bejalen Makmur")

    mariso = world.channel().as_user("ketua-m", GROUP, group=True)
    with capture_logs() as logs:
        await mariso.text("/daftarkan_grup")
        await mariso.text("/daftarkan_grup KSM-MRS-01")
    for reply in mariso.outbox:
        assert says(reply.text, "access.group_bound_elsewhere", ksm="KSM Bejalen Makmur")
        assert "engine.group_bound" not in keys_in(reply.text)
    binding = await _binding(world)
    assert binding is not None
    assert binding.ksm_id == world.program["ksm_a"] and binding.bound_by_id == world.program["ketua-a"]
    refused = _refusals(logs)
    assert [(e["person"], e["reason"], e["ksm"]) for e in refused] == [
        ("ketua-m", "bound_elsewhere", "KSM-BJL-01"),
        ("ketua-m", "bound_elsewhere", "KSM-BJL-01"),
    ]
    assert all(e["action"] == "bind_group" and e["log_level"] == "warning" for e in refused)

    # Reports in the group still go to Bejalen; ketua-m cannot report there at all.
    await mariso.text("/hadir 5")
    assert "flow.no_ksm" in keys_in(mariso.last_text())
    assert await _outbox(world, "group_moved") == []


async def test_a_facilitator_outside_the_groups_ksm_is_refused(world: World) -> None:
    await world.channel().as_user("ketua-a", GROUP, group=True).text("/daftarkan_grup")
    other = world.channel().as_user("fasil-m", GROUP, group=True)  # Mariso's facilitator
    await other.text("/daftarkan_grup KSM-MRS-01")
    assert says(other.last_text(), "access.group_bound_elsewhere", ksm="KSM Bejalen Makmur")
    binding = await _binding(world)
    assert binding is not None and binding.ksm_id == world.program["ksm_a"]


async def test_a_facilitator_covering_the_ksm_moves_it_and_the_old_people_are_told(world: World) -> None:
    await world.channel().as_user("ketua-a", GROUP, group=True).text("/daftarkan_grup")
    fasil = world.channel().as_user("fasil", GROUP, group=True)  # Kecamatan Ambarawa: both Bejalen KSMs
    await fasil.text("/daftarkan_grup KSM-BJL-02")
    assert says(fasil.last_text(), "access.group_moved", old="KSM Bejalen Makmur", ksm="KSM Bejalen Guyub")
    assert says(fasil.last_text(), "access.group_told", names="Pak Darto")
    binding = await _binding(world)
    assert binding is not None
    assert binding.ksm_id == world.program["ksm_b"] and binding.bound_by_id == world.program["fasil"]

    # The old KSM's coordinator (who had also bound it) is told once, in the outbox, in local time.
    [notice] = await _outbox(world, "group_moved")
    assert notice.recipient == "ketua-a" and notice.person_id == world.program["ketua-a"]
    assert says(
        notice.payload["text"],
        "access.group_moved_notice",
        old="KSM Bejalen Makmur",
        ksm="KSM Bejalen Guyub",
        name="Mbak Wulan",
    )
    assert "16.00 WIB" in notice.payload["text"]  # 09:00 UTC at a WIB site
    async with world.db.session() as s:
        audit = (
            await s.execute(select(AuditLog).where(AuditLog.action == "group_bound").order_by(AuditLog.id))
        ).scalars()
        last = list(audit)[-1]
    assert last.old == {"ksm_id": world.program["ksm_a"], "bound_by_id": world.program["ketua-a"]}
    assert last.entity_id == world.program["ksm_b"] and last.actor_id == world.program["fasil"]

    # The new KSM's own coordinator may bind it again to their KSM: nothing moves, nobody is told.
    guyub = world.channel().as_user("ketua-b", GROUP, group=True)
    await guyub.text("/daftarkan_grup")
    assert says(guyub.last_text(), "engine.group_bound", ksm="KSM Bejalen Guyub")
    assert len(await _outbox(world, "group_moved")) == 1
    # ... but ketua-a, whose KSM it no longer is, cannot take it back.
    bejalen = world.channel().as_user("ketua-a", GROUP, group=True)
    await bejalen.text("/daftarkan_grup")
    assert says(bejalen.last_text(), "access.group_bound_elsewhere", ksm="KSM Bejalen Guyub")


async def test_a_facilitator_with_several_ksms_names_the_one(world: World) -> None:
    fasil = world.channel().as_user("fasil", "grp-new", group=True)
    await fasil.text("/daftarkan_grup")
    assert "access.group_choose_ksm" in keys_in(fasil.last_text())
    assert [c.label for c in fasil.last_choices()] == [
        "KSM Bejalen Makmur",
        "KSM Bejalen Guyub",
        "KSM Tambakboyo Rukun",
    ]
    assert await _binding(world, "grp-new") is None
    await fasil.tap("KSM Tambakboyo Rukun")
    assert says(fasil.last_text(), "engine.group_bound", ksm="KSM Tambakboyo Rukun")
    binding = await _binding(world, "grp-new")
    assert binding is not None and binding.ksm_id == world.program["ksm_c"]

    await fasil.text("/daftarkan_grup KSM-XYZ-99")
    assert says(fasil.last_text(), "access.group_unknown_ksm", code="KSM-XYZ-99")
    await fasil.text("/daftarkan_grup KSM-MRS-01")
    assert says(fasil.last_text(), "access.group_outside_scope", ksm="KSM Mariso Jaya")
    binding = await _binding(world, "grp-new")
    assert binding is not None and binding.ksm_id == world.program["ksm_c"]


async def test_a_coordinator_cannot_name_another_ksm(world: World) -> None:
    ketua = world.channel().as_user("ketua-a", "grp-x", group=True)
    await ketua.text("/daftarkan_grup KSM-BJL-02")
    assert says(ketua.last_text(), "access.group_outside_scope", ksm="KSM Bejalen Guyub")
    assert not keys_of(ketua.outbox) & {"engine.group_bound", "access.group_moved"}
    assert await _binding(world, "grp-x") is None
