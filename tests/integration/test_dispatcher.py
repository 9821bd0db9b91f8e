"""The outbox dispatcher with a fake Sender: order, retries, retry_after, permanent failures, crash recovery,
and two dispatchers sharing one outbox."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import (
    Alert,
    AlertSeverity,
    Channel,
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
)
from kotaku.notify.dispatcher import Dispatcher, Pacer, backoff_delay, render_payload
from kotaku.notify.outbox import PRIORITY_HIGH, PRIORITY_LOW, enqueue_to_chat, record_delivery, release_held
from kotaku.notify.ports import DeliveryContext, SendResult, SendStatus
from kotaku.schemas import Outbound, OutboundKind
from tests.fakes import FakeSender

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.current = T0

    def __call__(self) -> datetime:
        return self.current


def delivery(settings: Settings, **kw: object):  # type: ignore[no-untyped-def]
    base = {"backoff_base_seconds": 10.0, "backoff_max_seconds": 600.0, "max_attempts": 3}
    return settings.delivery.model_copy(update={**base, **kw})


async def queue(db: Database, n: int, *, prefix: str = "r", priority: int = 5, key: str = "k") -> None:
    async with db.transaction() as s:
        for i in range(n):
            await enqueue_to_chat(
                s,
                channel=Channel.TEST,
                chat_id=f"{prefix}{i}",
                kind="test",
                payload={"text": f"pesan {prefix}{i}", "choices": [{"label": "Lapor", "value": "/progres"}]},
                dedup_key=f"{key}:{prefix}{i}",
                now=T0,
                priority=priority,
            )


async def rows(db: Database) -> dict[str, OutboxMessage]:
    async with db.session() as s:
        return {m.recipient: m for m in (await s.execute(select(OutboxMessage))).scalars()}


async def test_drain_sends_each_message_once_with_its_choices(db: Database, settings: Settings) -> None:
    await queue(db, 5)
    await queue(db, 5)  # same dedup keys: nothing new
    sender = FakeSender()
    stats = await Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=Clock()).drain()
    assert stats.sent == 5
    assert sorted(sender.recipients()) == [f"r{i}" for i in range(5)]
    _, msgs = sender.delivered[0]
    assert msgs[0].choices[0].value == "/progres"
    # A second dispatcher later finds nothing to send.
    again = await Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=Clock()).drain()
    assert again.sent == 0 and len(sender.delivered) == 5
    for m in (await rows(db)).values():
        assert m.status == OutboxStatus.SENT and m.attempts == 1 and m.sent_at == T0


async def test_high_priority_goes_first(db: Database, settings: Settings) -> None:
    await queue(db, 3, prefix="low", priority=PRIORITY_LOW)
    await queue(db, 3, prefix="high", priority=PRIORITY_HIGH)
    sender = FakeSender()
    await Dispatcher(db, {Channel.TEST: sender}, delivery(settings, concurrency=1), now=Clock()).drain()
    assert sender.recipients() == ["high0", "high1", "high2", "low0", "low1", "low2"]


async def test_transient_failure_retried_with_backoff_then_sent(db: Database, settings: Settings) -> None:
    await queue(db, 1)
    clock = Clock()
    sender = FakeSender(script={"r0": [SendResult(SendStatus.RETRY, reason="HTTP 502")]})
    d = Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=clock)
    stats = await d.drain()
    assert stats.retried == 1 and stats.sent == 0
    m = (await rows(db))["r0"]
    assert m.status == OutboxStatus.PENDING and m.attempts == 1 and m.last_error == "HTTP 502"
    # First retry waits between base/2 and base seconds.
    assert T0 + timedelta(seconds=5) <= m.next_attempt_at <= T0 + timedelta(seconds=10)
    clock.current = m.next_attempt_at - timedelta(milliseconds=1)
    assert (await d.drain()).sent == 0
    clock.current = m.next_attempt_at
    assert (await d.drain()).sent == 1
    assert sender.calls["r0"] == 2 and len(sender.delivered) == 1
    assert (await rows(db))["r0"].status == OutboxStatus.SENT


async def test_sender_exception_counts_as_transient(db: Database, settings: Settings) -> None:
    await queue(db, 1)
    sender = FakeSender(raise_for={"r0"})
    stats = await Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=Clock()).drain()
    assert stats.retried == 1
    assert "boom" in ((await rows(db))["r0"].last_error or "")


async def test_retry_after_is_honoured(db: Database, settings: Settings) -> None:
    await queue(db, 1)
    clock = Clock()
    sender = FakeSender(script={"r0": [SendResult(SendStatus.RATE_LIMITED, retry_after=37)]})
    # Pacing follows the same clock, so the channel pause after a 429 passes when the clock moves.
    d = Dispatcher(
        db, {Channel.TEST: sender}, delivery(settings), now=clock, monotonic=lambda: clock().timestamp()
    )
    assert (await d.drain()).rate_limited == 1
    m = (await rows(db))["r0"]
    assert m.next_attempt_at == T0 + timedelta(seconds=37)
    assert m.attempts == 0  # waiting for a limit is not a failed attempt
    clock.current = T0 + timedelta(seconds=36)
    assert (await d.drain()).sent == 0
    clock.current = T0 + timedelta(seconds=37)
    assert (await d.drain()).sent == 1


async def test_permanent_failure_recorded_and_not_retried(db: Database, settings: Settings) -> None:
    await queue(db, 2)
    clock = Clock()
    sender = FakeSender(
        script={"r0": [SendResult(SendStatus.PERMANENT, reason="Forbidden: bot was blocked")]}
    )
    d = Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=clock)
    stats = await d.drain()
    assert stats.failed == 1 and stats.sent == 1
    m = (await rows(db))["r0"]
    assert m.status == OutboxStatus.FAILED and m.last_error == "Forbidden: bot was blocked"
    clock.current = T0 + timedelta(days=1)
    await d.drain()
    assert sender.calls["r0"] == 1


async def test_gives_up_after_max_attempts_with_reason(db: Database, settings: Settings) -> None:
    await queue(db, 1)
    clock = Clock()
    sender = FakeSender(script={"r0": [SendResult(SendStatus.RETRY, reason="timeout")] * 5})
    d = Dispatcher(db, {Channel.TEST: sender}, delivery(settings, max_attempts=3), now=clock)
    for _ in range(5):
        await d.drain()
        clock.current += timedelta(hours=1)
    m = (await rows(db))["r0"]
    assert sender.calls["r0"] == 3
    assert m.status == OutboxStatus.FAILED and m.attempts == 3
    assert m.last_error == "gave up after 3 attempts: timeout"


async def test_crash_between_send_and_mark_resends_after_claim_timeout(
    db: Database, settings: Settings
) -> None:
    await queue(db, 3)
    clock = Clock()
    cfg = delivery(settings, claim_timeout_seconds=300)
    crashed = Dispatcher(db, {Channel.TEST: FakeSender()}, cfg, now=clock)
    claimed = await crashed.claim(2)  # claimed (maybe sent), then the process died before marking
    assert len(claimed) == 2
    survivor_sender = FakeSender()
    survivor = Dispatcher(db, {Channel.TEST: survivor_sender}, cfg, now=clock)
    await survivor.drain()
    assert survivor_sender.recipients() == ["r2"]  # the claimed ones are not touched yet
    clock.current = T0 + timedelta(seconds=301)
    await survivor.drain()
    assert sorted(survivor_sender.recipients()) == ["r0", "r1", "r2"]
    # The crashed dispatcher's late mark changes nothing: the rows are no longer its claim.
    await crashed.mark([(claimed[0], SendResult(SendStatus.RETRY))])
    assert all(m.status == OutboxStatus.SENT for m in (await rows(db)).values())


async def test_two_dispatchers_share_the_outbox_without_duplicates(db: Database, settings: Settings) -> None:
    await queue(db, 120)
    cfg = delivery(settings, batch_size=10, concurrency=4)
    a, b = FakeSender(delay=0.001), FakeSender(delay=0.001)
    await asyncio.gather(
        Dispatcher(db, {Channel.TEST: a}, cfg, now=Clock()).drain(),
        Dispatcher(db, {Channel.TEST: b}, cfg, now=Clock()).drain(),
    )
    got = a.recipients() + b.recipients()
    assert sorted(got) == sorted(f"r{i}" for i in range(120))
    async with db.session() as s:
        sent = (
            await s.execute(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT))
        ).scalar_one()
    assert sent == 120


async def test_a_stop_finishes_the_sends_in_flight_and_gives_back_the_rest(
    db: Database, settings: Settings
) -> None:
    """SIGTERM mid-batch: the sends in hand finish and are marked sent; the claimed rest is pending again
    at once (not after claim_timeout_seconds), for another process or the next start."""
    await queue(db, 40)
    cfg = delivery(settings, batch_size=40, concurrency=2)
    sender = FakeSender(delay=0.05)
    dispatcher = Dispatcher(db, {Channel.TEST: sender}, cfg, now=Clock())
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    for _ in range(200):
        if len(sender.delivered) >= 4:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    by_status: dict[OutboxStatus, int] = {}
    for m in (await rows(db)).values():
        by_status[m.status] = by_status.get(m.status, 0) + 1
        if m.status == OutboxStatus.PENDING:
            assert m.claimed_by is None
    assert by_status.get(OutboxStatus.SENDING, 0) == 0  # nothing left claimed
    assert by_status[OutboxStatus.SENT] == len(sender.delivered) < 40
    assert by_status[OutboxStatus.PENDING] == 40 - len(sender.delivered)
    # Another dispatcher sends the rest now, each message once in all.
    other = FakeSender()
    await Dispatcher(db, {Channel.TEST: other}, cfg, now=Clock()).drain()
    assert sorted(sender.recipients() + other.recipients()) == sorted(f"r{i}" for i in range(40))


async def test_a_dispatcher_claims_no_more_than_it_sends_before_the_claim_goes_stale(
    db: Database, settings: Settings
) -> None:
    """At 2 messages/s and a 5 s claim timeout a dispatcher holds at most 5 (+ half again queued): a
    claim it holds never ages past the timeout, where another process would take it and send it too."""
    await queue(db, 40)
    cfg = delivery(settings, console_per_second=2.0, claim_timeout_seconds=5.0)
    dispatcher = Dispatcher(db, {Channel.TEST: FakeSender()}, cfg, now=Clock())
    assert dispatcher.claim_cap() == 5
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    await asyncio.sleep(0.3)
    async with db.session() as s:
        claimed = (
            await s.execute(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENDING))
        ).scalar_one()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert 0 < claimed <= 8


async def test_only_channels_with_a_sender_are_claimed(db: Database, settings: Settings) -> None:
    await queue(db, 1)
    d = Dispatcher(
        db, {Channel.CONSOLE: FakeSender(channel=Channel.CONSOLE)}, delivery(settings), now=Clock()
    )
    assert await d.claim(10) == []


def test_render_payload_with_image(tmp_path: Path) -> None:
    png = tmp_path / "kurva.png"
    png.write_bytes(b"\x89PNG fake")
    msgs = render_payload({"text": "Ringkasan", "image_path": str(png), "image_caption": "Kurva S"})
    assert [m.kind for m in msgs] == [OutboundKind.TEXT, OutboundKind.IMAGE]
    assert msgs[1].content == b"\x89PNG fake" and msgs[1].text == "Kurva S"
    # A missing image still delivers the text.
    assert len(render_payload({"text": "x", "image_path": str(tmp_path / "gone.png")})) == 1


def test_backoff_grows_and_is_capped(settings: Settings) -> None:
    cfg = settings.delivery.model_copy(update={"backoff_base_seconds": 2.0, "backoff_max_seconds": 60.0})
    rng = random.Random(7)
    for attempt, top in [(1, 2), (2, 4), (3, 8), (6, 60), (20, 60)]:
        values = [backoff_delay(cfg, attempt, rng) for _ in range(50)]
        assert all(top / 2 <= v <= top for v in values)
        assert len(set(values)) > 1  # jitter


def test_pacer_spaces_slots_evenly() -> None:
    t = [100.0]
    pacer = Pacer(4.0, monotonic=lambda: t[0])
    # An idle pacer may catch up by CATCH_UP (20 ms) of slots, then spaces them evenly.
    assert [pacer.reserve() for _ in range(4)] == pytest.approx([0.0, 0.23, 0.48, 0.73])
    pacer.pause(10)
    assert pacer.reserve() == pytest.approx(10.0)


async def test_pacer_never_exceeds_the_rate_in_a_sliding_second() -> None:
    t = [0.0]

    async def no_sleep(seconds: float) -> None:
        t[0] += seconds

    pacer = Pacer(5.0, monotonic=lambda: t[0])
    times = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("kotaku.notify.dispatcher.asyncio.sleep", no_sleep)
        for _ in range(20):
            await pacer.acquire()
            times.append(t[0])
    assert all(sum(1 for x in times if s <= x < s + 1.0) <= 5 for s in times)


async def test_an_unreachable_recipient_is_marked_and_skipped(db: Database, settings: Settings) -> None:
    """A send answered "blocked" marks that identity only (tests/e2e/test_reachability.py: writing clears it)."""
    async with db.transaction() as s:
        person = Person(code="p1", name="Pak Satu", role=Role.FASILITATOR)
        s.add(person)
        await s.flush()
        s.add(ChannelIdentity(person_id=person.id, channel=Channel.TEST, external_id="r0", chat_id="r0"))
        s.add(ChannelIdentity(person_id=person.id, channel=Channel.TEST, external_id="r1", chat_id="r1"))
    await queue(db, 2)
    sender = FakeSender(
        script={"r0": [SendResult(SendStatus.PERMANENT, reason="403 Forbidden: blocked", unreachable=True)]}
    )
    stats = await Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=Clock()).drain()
    assert stats.failed == 1 and stats.sent == 1
    async with db.session() as s:
        marks = {i.external_id: i for i in (await s.execute(select(ChannelIdentity))).scalars()}
    assert marks["r0"].unreachable_at == T0 and "403" in (marks["r0"].unreachable_reason or "")
    assert marks["r1"].unreachable_at is None


class ContextSender(FakeSender):
    """Records the delivery context the dispatcher gives; answers from `script` like FakeSender."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.contexts: list[DeliveryContext | None] = []

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult:
        self.contexts.append(context)
        return await super().send(recipient, messages, context)


async def test_held_messages_wait_for_the_recipient_and_go_when_they_write(
    db: Database, settings: Settings
) -> None:
    async with db.transaction() as s:
        person = Person(code="p1", name="Pak Satu", role=Role.KETUA_KSM, language="en")
        s.add(person)
        await s.flush()
        s.add(
            ChannelIdentity(
                person_id=person.id, channel=Channel.TEST, external_id="r0", chat_id="r0", last_seen_at=T0
            )
        )
        await s.flush()
        await enqueue_to_chat(
            s,
            channel=Channel.TEST,
            chat_id="r0",
            kind="reminder",
            payload={"text": "isi laporan"},
            dedup_key="held:r0",
            now=T0,
            person_id=person.id,
        )
    sender = ContextSender(script={"r0": [SendResult(SendStatus.HELD, reason="outside the 24-hour window")]})
    clock = Clock()
    d = Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=clock)
    stats = await d.drain()
    assert stats.held == 1 and stats.failed == 0 and stats.sent == 0
    ctx = sender.contexts[0]
    assert ctx is not None and ctx.kind == "reminder" and ctx.last_inbound_at == T0 and ctx.language == "en"
    m = (await rows(db))["r0"]
    assert m.status == OutboxStatus.HELD and m.last_error == "outside the 24-hour window"
    clock.current = T0 + timedelta(days=2)
    await d.drain()
    assert sender.calls["r0"] == 1  # held: not retried by time
    async with db.transaction() as s:
        assert await release_held(s, Channel.TEST, "r0", clock.current) == 1
    await d.drain()
    m = (await rows(db))["r0"]
    assert m.status == OutboxStatus.SENT and sender.texts() == ["isi laporan"]


async def test_delivery_statuses_are_stored_in_order_and_a_refusal_holds(
    db: Database, settings: Settings
) -> None:
    await queue(db, 1)
    sender = FakeSender()
    await Dispatcher(db, {Channel.TEST: sender}, delivery(settings), now=Clock()).drain()
    msg = (await rows(db))["r0"]
    async with db.transaction() as s:
        await record_delivery(s, outbox_id=msg.id, external_id="wamid.X", status="read", at=T0)
        late = await record_delivery(s, outbox_id=None, external_id="wamid.X", status="delivered", at=T0)
        assert late is not None and late.delivery_status == "read"  # a late "delivered" keeps "read"
        assert await record_delivery(s, outbox_id=None, external_id="nope", status="sent", at=T0) is None
        await record_delivery(
            s,
            outbox_id=msg.id,
            external_id=None,
            status="failed",
            at=T0,
            error="131047 re-engagement",
            hold=True,
        )
    m = (await rows(db))["r0"]
    assert m.external_id == "wamid.X" and m.delivery_status == "failed" and m.status == OutboxStatus.HELD
    assert m.delivery_error == "131047 re-engagement"


async def test_a_restricted_account_pauses_the_channel_and_alerts_once(
    db: Database, settings: Settings
) -> None:
    await queue(db, 3)
    restricted = SendResult(
        SendStatus.RATE_LIMITED, retry_after=1, reason="368 blocked", account_restricted=True
    )
    sender = FakeSender(script={f"r{i}": [restricted] for i in range(3)})
    d = Dispatcher(db, {Channel.TEST: sender}, delivery(settings, concurrency=1), now=Clock())
    await d.mark([(c, restricted) for c in await d.claim(3)])
    async with db.session() as s:
        alerts = (await s.execute(select(Alert).where(Alert.kind == "channel_restricted"))).scalars().all()
    assert len(alerts) == 1 and alerts[0].severity == AlertSeverity.CRITICAL
    assert d.limits[Channel.TEST].overall.reserve() >= settings.whatsapp.restricted_pause_minutes * 60 - 1
