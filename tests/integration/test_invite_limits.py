"""Guessing invite codes: wrong codes are limited per identity, per channel and for everyone, in sliding
windows kept in the database (so every process sees the same count); the admins hear of a burst once per
window; codes never appear whole in the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from kotaku.config import InviteConfig
from kotaku.db import Database
from kotaku.models import Channel, ChannelIdentity, Invite, OutboxMessage, Person, RateCounter, Role
from kotaku.security import NikVault
from kotaku.services.invites import create_invite, mask_code, normalize_code
from kotaku.services.onboarding import RedeemError, RedeemResult, redeem_invite
from kotaku.services.scope import Scope
from tests.catalogue_keys import keys_in, says
from tests.conftest import PG_URL
from tests.e2e.conftest import World, clock, world  # noqa: F401 (fixtures)
from tests.factories import Program, build_program

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SMALL = InviteConfig(
    max_failures_per_hour=5, window_minutes=60, max_failures_per_channel=10, max_failures_global=15
)


@pytest.fixture
async def program(db: Database, vault: NikVault) -> Program:
    return await build_program(db, vault, NOW.date())


async def _invite(db: Database, program: Program, phone: str | None = None) -> str:
    async with db.transaction() as s:
        created = await create_invite(
            s, role=Role.WORKER, scope=Scope(ksm_id=program["ksm_a"]), valid_days=14, phone=phone, at=NOW
        )
    return created.code


async def _redeem(
    db: Database,
    code: str,
    *,
    user: str,
    channel: Channel = Channel.TELEGRAM,
    at: datetime = NOW,
    config: InviteConfig = SMALL,
    vouched: bool = False,
) -> RedeemResult:
    async with db.transaction() as s:
        return await redeem_invite(
            s,
            channel=channel,
            external_id=user,
            chat_id=user,
            code_text=code,
            display_name=None,
            now=at,
            config=config,
            vouched=vouched,
        )


async def _guesses(
    db: Database, n: int, *, prefix: str, channel: Channel = Channel.TELEGRAM, at: datetime = NOW
) -> list[RedeemError | None]:
    """`n` wrong codes, each from a new identity (so no identity reaches its own limit)."""
    return [
        (await _redeem(db, f"WRONG{i:03d}", user=f"{prefix}-{i}", channel=channel, at=at)).error
        for i in range(n)
    ]


async def _burst_notices(db: Database) -> list[OutboxMessage]:
    async with db.session() as s:
        stmt = select(OutboxMessage).where(OutboxMessage.kind == "invite_burst").order_by(OutboxMessage.id)
        return list((await s.execute(stmt)).scalars())


async def test_many_identities_reach_the_channel_limit_and_a_good_code_waits(
    db: Database, program: Program
) -> None:
    code = await _invite(db, program)
    assert await _guesses(db, 10, prefix="tg") == [RedeemError.UNKNOWN] * 10
    # The 11th identity has a valid code, but registration by code on Telegram is held now.
    held = await _redeem(db, code, user="tg-honest")
    assert held.error == RedeemError.BUSY and held.person is None
    async with db.session() as s:
        invite = (await s.execute(select(Invite).where(Invite.code == code))).scalar_one()
        assert invite.used_at is None
    # Another channel is under its own limit (everyone together: 10 of 15).
    other = await _redeem(db, "WRONGXYZ", user="wa-1", channel=Channel.WHATSAPP)
    assert other.error == RedeemError.UNKNOWN
    # Once the window has slid past the wrong codes, the good code works.
    done = await _redeem(db, code, user="tg-honest", at=NOW + timedelta(minutes=61))
    assert done.error is None and done.person is not None


async def test_everyone_together_reach_the_global_limit(db: Database, program: Program) -> None:
    assert await _guesses(db, 8, prefix="tg") == [RedeemError.UNKNOWN] * 8
    assert await _guesses(db, 7, prefix="wa", channel=Channel.WHATSAPP) == [RedeemError.UNKNOWN] * 7
    # 15 in all: no channel reached 10, but the console is held too.
    assert (await _redeem(db, "WRONG999", user="c-1", channel=Channel.CONSOLE)).error == RedeemError.BUSY


async def test_the_window_slides(db: Database, program: Program) -> None:
    assert await _guesses(db, 6, prefix="a") == [RedeemError.UNKNOWN] * 6
    later = NOW + timedelta(minutes=40)
    assert await _guesses(db, 4, prefix="b", at=later) == [RedeemError.UNKNOWN] * 4
    assert (await _redeem(db, "WRONG999", user="c", at=later)).error == RedeemError.BUSY
    # 61 minutes after the first six, only the four later ones are in the window.
    assert (
        await _redeem(db, "WRONG999", user="c", at=NOW + timedelta(minutes=61))
    ).error == RedeemError.UNKNOWN
    # Buckets that left the window are deleted: the table stays small.
    async with db.session() as s:
        oldest = (await s.execute(select(func.min(RateCounter.bucket_start)))).scalar_one()
    assert oldest is not None and oldest > NOW


async def test_the_limit_holds_across_processes(
    db: Database, program: Program, pg_schema: str | None
) -> None:
    """A second process (its own engine and connections on the same database) sees the first one's count."""
    if db.engine.dialect.name == "sqlite":
        other = Database(db.settings)
    else:
        assert PG_URL and pg_schema
        other = Database(
            db.settings, url=PG_URL, connect_args={"server_settings": {"search_path": pg_schema}}
        )
    try:
        assert await _guesses(db, 5, prefix="p1") == [RedeemError.UNKNOWN] * 5
        assert await _guesses(other, 5, prefix="p2") == [RedeemError.UNKNOWN] * 5
        assert (await _redeem(db, "WRONG999", user="p1-new")).error == RedeemError.BUSY
        assert (await _redeem(other, "WRONG999", user="p2-new")).error == RedeemError.BUSY
    finally:
        await other.dispose()


async def test_the_admins_are_told_once_per_window(db: Database, program: Program) -> None:
    async with db.transaction() as s:
        person = Person(code="admin-2", name="Admin Dua", role=Role.ADMIN, language="en")
        s.add(person)
        await s.flush()
        s.add(ChannelIdentity(person_id=person.id, channel=Channel.TELEGRAM, external_id="tg-admin-2"))
    with capture_logs() as logs:
        await _guesses(db, 9, prefix="x")
        assert await _burst_notices(db) == []
        await _guesses(db, 1, prefix="y")  # the 10th wrong code on Telegram reaches the limit
        await _guesses(db, 5, prefix="z")  # held attempts do not tell them again
    notices = await _burst_notices(db)
    assert sorted(n.recipient for n in notices) == ["admin", "tg-admin-2"]  # every admin identity, once
    by_recipient = {n.recipient: n.payload["text"] for n in notices}
    assert says(by_recipient["admin"], "access.invite_burst", "id", n=10, channel="telegram", minutes=60)
    assert says(by_recipient["tg-admin-2"], "access.invite_burst", "en", n=10, channel="telegram")
    assert [e["event"] for e in logs].count("invite_burst") == 1
    # The next window, still under attack: told again, once.
    await _guesses(db, 12, prefix="w", at=NOW + timedelta(minutes=61))
    assert len(await _burst_notices(db)) == 4


async def test_an_invite_made_out_to_the_number_is_no_guess(db: Database, program: Program) -> None:
    code = await _invite(db, program, phone="+6281234500001")
    await _guesses(db, 10, prefix="tg", channel=Channel.WHATSAPP)
    assert (await _redeem(db, code, user="6281234500001", channel=Channel.WHATSAPP)).error == RedeemError.BUSY
    vouched = await _redeem(db, code, user="6281234500001", channel=Channel.WHATSAPP, vouched=True)
    assert vouched.error is None and vouched.person is not None


async def test_codes_are_never_logged_whole(db: Database, program: Program) -> None:
    code = await _invite(db, program)
    with capture_logs() as logs:
        await _redeem(db, "ZZ7K3QWX", user="guess-1")
        await _redeem(db, code.lower(), user="right-1")
    assert [(e["event"], e["code"]) for e in logs if "code" in e] == [
        ("invite_failed", "ZZ…"),
        ("invite_redeemed", f"{code[:2]}…"),
    ]
    logged = repr(logs)
    assert "ZZ7K3QWX" not in logged and code not in logged and code.lower() not in logged


def test_code_normalising_and_masking() -> None:
    assert normalize_code("ab3d-ef 7h") == "AB3DEF7H"
    assert normalize_code("ＡＢ３Ｄ") == ""  # fullwidth letters are no code letters
    assert len(normalize_code("9" * 5000)) == 17  # longer than any code: cut, and matches none
    assert mask_code("AB3DEF7H") == "AB…" and mask_code("AB") == "…" and mask_code("") == "…"


# --- through the chat -------------------------------------------------------------------------------


async def test_many_identities_guessing_are_held_and_the_admin_told(world: World) -> None:  # noqa: F811
    """The probe's pattern at the default limits: many identities, each under its own 5 an hour. Before the
    shared limits none was ever held; now the 51st wrong code on the channel is, and the admin hears."""
    replies: list[str] = []
    for i in range(12):
        ch = world.channel(f"guesser-{i}")
        for j in range(5):
            await ch.text(f"DAFTAR W{i:02d}X{j}QQQ")
            replies.append(ch.last_text())
    unknown = [r for r in replies if "engine.invite_unknown" in keys_in(r)]
    busy = [r for r in replies if says(r, "access.invite_busy", minutes=60)]
    assert (len(unknown), len(busy)) == (50, 10)
    notices = await _burst_notices(world.db)
    assert [n.recipient for n in notices] == ["admin"]
    payload: dict[str, Any] = notices[0].payload
    assert payload["failures"] == 50 and payload["channel"] == "test"
