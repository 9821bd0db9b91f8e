"""Issue 11: the demo's obstacles can be closed. The demo makes codes the way the chat does (`K-7F3Q`),
/selesai reads a typed code tolerantly (case, with or without `K-`, a code of another form as stored), and
tapping an obstacle in the list goes on to its note instead of showing the list again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from kotaku import catalogue
from kotaku.bootstrap import Kotaku, bootstrap
from kotaku.db import Database
from kotaku.demo import seed_demo
from kotaku.models import Alert, AlertStatus, Channel, Obstacle, ObstacleStatus
from kotaku.monitoring.evaluate import evaluate_and_apply
from kotaku.security import NikVault
from kotaku.services.obstacles import SHORT_ID_RE, normalize_short_id
from tests.catalogue_keys import keys_in, says
from tests.channel import TestChannel

AT = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # Thursday 16:00 WIB


@pytest.fixture
async def demo(db: Database, vault: NikVault) -> AsyncIterator[Kotaku]:
    await seed_demo(db, db.settings, at=AT, vault=vault)
    yield bootstrap(db.settings, db=db, now=lambda: AT)


def as_person(kotaku: Kotaku, code: str) -> TestChannel:
    """The demo's people chat on the console channel, their code being their chat id."""
    return TestChannel(kotaku.engine, channel=Channel.CONSOLE).as_user(code)


async def obstacles(db: Database) -> dict[str, Obstacle]:
    async with db.session() as s:
        rows = (await s.execute(select(Obstacle).order_by(Obstacle.id))).scalars()
        return {o.description.split()[0]: o for o in rows}


async def test_the_demo_makes_codes_the_chat_accepts(demo: Kotaku) -> None:
    found = await obstacles(demo.db)
    assert len(found) == 3
    for o in found.values():
        assert SHORT_ID_RE.match(o.short_id.replace("-", "")), o.short_id
        assert normalize_short_id(o.short_id.lower()) == o.short_id


async def test_tapping_the_demo_obstacle_in_the_list_closes_it(demo: Kotaku) -> None:
    semen = (await obstacles(demo.db))["Material"]
    sweep = await evaluate_and_apply(demo.db, demo.settings, AT)
    assert sweep.by_kind.get("obstacle_high") == 1  # the demo's critical alert

    ch = as_person(demo, "fasil-ambarawa")
    await ch.text("/selesai")
    assert says(ch.last_text(), "selesai.list_title", n=1)
    await ch.tap("1")
    asked = ch.last_text()
    assert "selesai.ask_note" in keys_in(asked) and semen.short_id in asked
    assert "selesai.list_title" not in keys_in(asked)  # not the list again
    await ch.text("Semen sudah datang, pengecoran dilanjutkan")
    assert says(ch.last_text(), "selesai.closed", short_id=semen.short_id)

    closed = (await obstacles(demo.db))["Material"]
    assert closed.status == ObstacleStatus.CLOSED
    assert closed.close_note == "Semen sudah datang, pengecoran dilanjutkan"
    later = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    await evaluate_and_apply(demo.db, demo.settings, later)
    async with demo.db.session() as s:
        high = (await s.execute(select(Alert).where(Alert.kind == "obstacle_high"))).scalar_one()
    assert high.status == AlertStatus.RESOLVED  # so the demo's critical alert can end


@pytest.mark.parametrize("typed", ["lower_no_prefix", "spaced_prefix", "as_stored"])
async def test_a_typed_code_is_read_tolerantly(demo: Kotaku, typed: str) -> None:
    drainage = (await obstacles(demo.db))["Dua"]  # Buloa, in fasil-buloa's scope
    code = drainage.short_id
    text = {
        "lower_no_prefix": code.removeprefix("K-").lower(),
        "spaced_prefix": "k " + code.removeprefix("K-"),
        "as_stored": code,
    }[typed]
    ch = as_person(demo, "fasil-buloa")
    await ch.text(f"/selesai {text} warga sudah setuju jalurnya")
    assert says(ch.last_text(), "selesai.closed", short_id=code)
    assert (await obstacles(demo.db))["Dua"].status == ObstacleStatus.CLOSED


async def test_a_code_of_another_form_is_found_as_it_is_stored(demo: Kotaku) -> None:
    """A database seeded by an older demo keeps 6-character codes; they can still be closed, typed in
    any case, and picked from the list."""
    async with demo.db.transaction() as s:
        await s.execute(
            update(Obstacle).where(Obstacle.description.like("Material%")).values(short_id="9BENKU")
        )
        await s.execute(update(Obstacle).where(Obstacle.description.like("Dua%")).values(short_id="SQFRDS"))

    ch = as_person(demo, "fasil-ambarawa")
    await ch.text("/selesai 9benku semen datang")
    assert says(ch.last_text(), "selesai.closed", short_id="9BENKU")

    buloa = as_person(demo, "fasil-buloa")
    await buloa.text("/selesai")
    await buloa.tap("1")
    assert "selesai.ask_note" in keys_in(buloa.last_text())
    await buloa.text("Musyawarah RT selesai, warga setuju")
    assert says(buloa.last_text(), "selesai.closed", short_id="SQFRDS")
    found = await obstacles(demo.db)
    assert {o.status for o in found.values()} == {ObstacleStatus.CLOSED}


async def test_outside_scope_and_not_a_code(demo: Kotaku) -> None:
    drainage = (await obstacles(demo.db))["Dua"]
    ch = as_person(demo, "fasil-ambarawa")
    await ch.text(f"/selesai {drainage.short_id.lower()} sudah")
    assert says(ch.last_text(), "selesai.outside_scope", short_id=drainage.short_id)
    await ch.text("/selesai")
    await ch.text("nanti saja")  # no code of any form
    assert "selesai.bad_pick" in keys_in(ch.last_text())
    await ch.text("1")  # the button's number typed
    assert "selesai.ask_note" in keys_in(ch.last_text())
    assert catalogue.t("selesai.bad_pick") not in ch.last_text()
