"""The dispatcher: delivers due outbox messages through the channel senders, paced under each channel's
limits, retrying transient failures with backoff and jitter and recording permanent ones.

A pipeline per dispatcher: one feeder claims due rows (highest priority first; `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several dispatchers share the work), `concurrency` workers send, one marker writes the
outcomes in group commits. A crash between send and mark resends at most the messages then in flight
(bounded by `delivery.concurrency`); a claim older than `claim_timeout_seconds` is taken over, so nothing
is lost.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from kotaku import clock
from kotaku.config import DeliveryConfig, WhatsAppConfig
from kotaku.db import Database
from kotaku.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    Channel,
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    Person,
)
from kotaku.notify.ports import DeliveryContext, Sender, SendResult, SendStatus
from kotaku.notify.reachability import mark_unreachable
from kotaku.schemas import Choice, Outbound, OutboundKind

log = logging.getLogger(__name__)


# --- payload -> Outbound ---------------------------------------------------------------------------


def render_payload(payload: Mapping[str, Any]) -> list[Outbound]:
    """An outbox payload `{"text", "choices"?, "columns"?, "image_path"?, "image_caption"?, "file_path"?,
    "file_name"?, "mime_type"?, "file_caption"?}` as messages.

    Choices are `{"label", "value"}` dicts. Other keys (obstacle ids ...) are for the record only. A missing
    image or file is skipped (logged) so the text still arrives. A file (an export) goes as a document named
    `file_name` (default: the file's own name).
    """
    messages: list[Outbound] = []
    text = str(payload.get("text") or "")
    choices = [Choice(label=str(c["label"]), value=str(c["value"])) for c in payload.get("choices") or []]
    if text or choices:
        messages.append(Outbound(text=text, choices=choices, columns=int(payload.get("columns") or 1)))
    image_path = payload.get("image_path")
    if image_path:
        path = Path(str(image_path))
        try:
            content = path.read_bytes()
        except OSError as exc:
            log.warning("outbox image missing", extra={"path": str(path), "error": str(exc)})
        else:
            messages.append(
                Outbound(
                    kind=OutboundKind.IMAGE,
                    text=str(payload.get("image_caption") or ""),
                    content=content,
                    file_name=path.name,
                    mime_type="image/png",
                )
            )
    file_path = payload.get("file_path")
    if file_path:
        path = Path(str(file_path))
        try:
            content = path.read_bytes()
        except OSError as exc:
            log.warning("outbox file missing", extra={"path": str(path), "error": str(exc)})
        else:
            messages.append(
                Outbound(
                    kind=OutboundKind.FILE,
                    text=str(payload.get("file_caption") or ""),
                    content=content,
                    file_name=str(payload.get("file_name") or path.name),
                    mime_type=str(payload.get("mime_type") or "application/octet-stream"),
                )
            )
    return messages


# --- pacing ----------------------------------------------------------------------------------------


CATCH_UP = 0.02


class Pacer:
    """Evenly spaced slots at `rate` per second, and never more than `rate` sends in any sliding second.

    The slots keep the flow smooth; the window check after waking guards against a stalled event loop
    releasing several late slots at once, which a server counting a sliding window would answer with 429.
    """

    def __init__(self, rate: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.per_window = max(1, int(rate))
        self._next = 0.0
        self._monotonic = monotonic
        self._sent: collections.deque[float] = collections.deque()

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait for it."""
        now = self._monotonic()
        # A pacer that fell behind (a busy loop, slow answers) may catch up by CATCH_UP seconds of slots;
        # the sliding-window check in acquire() still caps every second at the rate.
        slot = max(self._next, now - CATCH_UP)
        self._next = slot + self.interval
        return max(slot - now, 0.0)

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
        while True:
            now = self._monotonic()
            while self._sent and self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if len(self._sent) < self.per_window:
                self._sent.append(now)
                return
            await asyncio.sleep(self._sent[0] + 1.0 - now + 0.0005)

    def pause(self, seconds: float) -> None:
        """After a 429: no slot before `seconds` from now."""
        self._next = max(self._next, self._monotonic() + seconds)

    @property
    def idle(self) -> bool:
        return self._next < self._monotonic()


@dataclass
class ChannelLimits:
    """Overall pace for a channel plus optional per-chat and per-group paces (Telegram)."""

    per_second: float
    per_chat_per_second: float | None = None
    group_per_minute: float | None = None
    margin: float = 1.0
    monotonic: Callable[[], float] = time.monotonic
    overall: Pacer = field(init=False)
    chats: dict[str, Pacer] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.overall = Pacer(self.per_second * self.margin, self.monotonic)

    def _chat_pacer(self, recipient: str) -> Pacer | None:
        if recipient.startswith("-") and self.group_per_minute:
            rate = self.group_per_minute / 60.0
        elif self.per_chat_per_second:
            rate = self.per_chat_per_second
        else:
            return None
        pacer = self.chats.get(recipient)
        if pacer is None:
            if len(self.chats) > 10_000:
                self.chats = {k: p for k, p in self.chats.items() if not p.idle}
            pacer = self.chats[recipient] = Pacer(rate * self.margin, self.monotonic)
        return pacer

    async def acquire(self, recipient: str) -> None:
        chat = self._chat_pacer(recipient)
        if chat is not None:
            await chat.acquire()
        await self.overall.acquire()


def limits_for(
    cfg: DeliveryConfig,
    monotonic: Callable[[], float] = time.monotonic,
    whatsapp: WhatsAppConfig | None = None,
) -> dict[Channel, ChannelLimits]:
    m, mono = cfg.rate_margin, monotonic
    whatsapp = whatsapp or WhatsAppConfig()
    return {
        Channel.TELEGRAM: ChannelLimits(
            cfg.telegram_per_second, cfg.telegram_per_chat_per_second, cfg.telegram_group_per_minute, m, mono
        ),
        Channel.WHATSAPP: ChannelLimits(
            whatsapp.rate_per_s,
            1 / whatsapp.pair_seconds if whatsapp.pair_seconds else None,
            margin=m,
            monotonic=mono,
        ),
        Channel.CONSOLE: ChannelLimits(cfg.console_per_second, margin=m, monotonic=mono),
        Channel.TEST: ChannelLimits(cfg.console_per_second, margin=m, monotonic=mono),
    }


def backoff_delay(cfg: DeliveryConfig, attempts: int, rng: random.Random) -> float:
    """Seconds before retry number `attempts` (1-based): exponential, capped, with jitter in [d/2, d]."""
    delay = min(cfg.backoff_max_seconds, cfg.backoff_base_seconds * (2 ** max(attempts - 1, 0)))
    return rng.uniform(delay / 2, delay)


# --- the dispatcher ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: Channel
    recipient: str
    payload: dict[str, Any]
    attempts: int
    priority: int
    kind: str = ""
    last_inbound_at: datetime | None = None
    language: str | None = None

    def context(self) -> DeliveryContext:
        return DeliveryContext(
            outbox_id=self.id,
            kind=self.kind,
            payload=self.payload,
            last_inbound_at=self.last_inbound_at,
            language=self.language or "id",
        )


# What the dispatcher tells about each send once its outcome is recorded: (channel, outbox kind, outcome),
# the outcome one of "ok", "retry", "429", "permanent", "held" (kotaku.metrics counts them).
OnSend = Callable[[Channel, str, str], None]


def send_outcome(result: SendResult, attempts: int, max_attempts: int) -> str:
    """The outcome `mark` records for `result` of a message tried `attempts` times before."""
    if result.status == SendStatus.SENT:
        return "ok"
    if result.status == SendStatus.HELD:
        return "held"
    if result.status == SendStatus.RATE_LIMITED:
        return "429"
    if result.status == SendStatus.RETRY and attempts + 1 < max_attempts:
        return "retry"
    return "permanent"


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    rate_limited: int = 0
    failed: int = 0
    held: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        senders: Mapping[Channel, Sender],
        cfg: DeliveryConfig,
        *,
        now: Callable[[], datetime] = clock.now,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        whatsapp: WhatsAppConfig | None = None,
        on_send: OnSend | None = None,
    ) -> None:
        self.db = db
        self.on_send = on_send
        self.senders = dict(senders)
        self.cfg = cfg
        self.whatsapp = whatsapp or WhatsAppConfig()
        self.now = now
        # The process id in it: an operator (and the failover test) can tell whose claims a row carries.
        self.worker_id = worker_id or f"d-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.rng = rng or random.Random()
        self.limits = limits_for(cfg, monotonic, self.whatsapp)
        self.stats = DispatchStats()
        self._pacing: dict[asyncio.Task[Any], Claimed] = {}  # sends waiting for their slot, not yet out

    # --- claiming ----------------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[Claimed]:
        """Take up to `limit` due messages (and claims abandoned by a crashed dispatcher)."""
        if not self.senders or limit <= 0:
            return []
        now = self.now()
        stale = now - timedelta(seconds=self.cfg.claim_timeout_seconds)
        m = OutboxMessage
        # When the recipient last wrote (the WhatsApp window) and their language, for the sender.
        last_inbound = (
            select(func.max(ChannelIdentity.last_seen_at))
            .where(ChannelIdentity.channel == m.channel, ChannelIdentity.chat_id == m.recipient)
            .scalar_subquery()
        )
        language = select(Person.language).where(Person.id == m.person_id).scalar_subquery()
        stmt = (
            select(
                m.id,
                m.channel,
                m.recipient,
                m.payload,
                m.attempts,
                m.priority,
                m.kind,
                last_inbound,
                language,
            )
            .where(
                m.channel.in_(list(self.senders)),
                or_(
                    and_(m.status == OutboxStatus.PENDING, m.next_attempt_at <= now),
                    and_(m.status == OutboxStatus.SENDING, m.claimed_at < stale),
                ),
            )
            .order_by(m.priority, m.next_attempt_at, m.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        async with self.db.transaction() as s:
            claimed = [Claimed(*row) for row in (await s.execute(stmt)).all()]
            if claimed:
                await s.execute(
                    update(m)
                    .where(m.id.in_([c.id for c in claimed]))
                    .values(status=OutboxStatus.SENDING, claimed_by=self.worker_id, claimed_at=now)
                )
        self.stats.claimed += len(claimed)
        return claimed

    def claim_cap(self) -> int:
        """The most messages this dispatcher claims at once: what its channels' paces send in half of
        `claim_timeout_seconds`, so no claim it holds goes stale (and is taken over by another process
        while this one still means to send it)."""
        rate = sum(self.limits[channel].per_second for channel in self.senders)
        return max(1, int(rate * self.cfg.claim_timeout_seconds / 2))

    async def release(self, claimed: list[Claimed]) -> int:
        """Give back claims not sent (a shutdown): due again at once for any dispatcher."""
        m = OutboxMessage
        async with self.db.transaction() as s:
            result = await s.execute(
                update(m)
                .where(m.id.in_([c.id for c in claimed]), m.claimed_by == self.worker_id)
                .values(status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- sending -----------------------------------------------------------------------------------

    async def deliver(self, msg: Claimed) -> SendResult:
        sender = self.senders[msg.channel]
        messages = render_payload(msg.payload)
        if not messages:
            return SendResult(SendStatus.PERMANENT, reason="empty payload")
        task = asyncio.current_task()
        if task is not None:
            self._pacing[task] = msg
        try:
            await self.limits[msg.channel].acquire(msg.recipient)
        finally:
            if task is not None:
                self._pacing.pop(task, None)
        try:
            # asyncio.timeout runs the send in this task: no scheduling gap between the pacer's check and
            # the request going out, so a busy loop cannot bunch sends past the limit.
            async with asyncio.timeout(self.cfg.send_timeout_seconds):
                return await sender.send(msg.recipient, messages, msg.context())
        except TimeoutError:
            return SendResult(SendStatus.RETRY, reason="timeout")
        except Exception as exc:  # a sender must not raise; if it does, treat it as transient
            log.exception("sender raised", extra={"channel": msg.channel.value})
            return SendResult(SendStatus.RETRY, reason=f"sender error: {exc!r}"[:500])

    # --- marking -----------------------------------------------------------------------------------

    async def mark(self, outcomes: list[tuple[Claimed, SendResult]]) -> None:
        """Write outcomes in one transaction; only rows still claimed by this dispatcher are touched."""
        if not outcomes:
            return
        now = self.now()
        sent_ids: list[int] = []
        async with self.db.transaction() as s:
            for msg, result in outcomes:
                mine = and_(OutboxMessage.id == msg.id, OutboxMessage.claimed_by == self.worker_id)
                if result.status == SendStatus.SENT:
                    sent_ids.append(msg.id)
                    if result.external_id:
                        await s.execute(
                            update(OutboxMessage).where(mine).values(external_id=result.external_id[:128])
                        )
                    continue
                values: dict[str, Any]
                if result.status == SendStatus.HELD:
                    self.stats.held += 1
                    values = {"status": OutboxStatus.HELD, "last_error": result.reason or "held"}
                elif result.status == SendStatus.RATE_LIMITED:
                    wait = max(result.retry_after or 1.0, 0.0)
                    if result.account_restricted:
                        wait = max(wait, self.whatsapp.restricted_pause_minutes * 60)
                        await self._alert_restricted(s, msg.channel, result.reason or "", now)
                    self.limits[msg.channel].overall.pause(wait)
                    self.stats.rate_limited += 1
                    values = {
                        "status": OutboxStatus.PENDING,
                        "next_attempt_at": now + timedelta(seconds=wait),
                        "last_error": result.reason or f"429 retry_after={wait}",
                    }
                elif result.status == SendStatus.RETRY and msg.attempts + 1 < self.cfg.max_attempts:
                    self.stats.retried += 1
                    delay = backoff_delay(self.cfg, msg.attempts + 1, self.rng)
                    values = {
                        "status": OutboxStatus.PENDING,
                        "attempts": msg.attempts + 1,
                        "next_attempt_at": now + timedelta(seconds=delay),
                        "last_error": result.reason or "transient failure",
                    }
                else:
                    self.stats.failed += 1
                    reason = result.reason or result.status.value
                    if result.status == SendStatus.RETRY:
                        reason = f"gave up after {msg.attempts + 1} attempts: {reason}"
                    values = {
                        "status": OutboxStatus.FAILED,
                        "attempts": msg.attempts + 1,
                        "last_error": reason,
                    }
                    if result.unreachable:
                        marked = await mark_unreachable(s, msg.channel, msg.recipient, reason, now)
                        log.info("recipient unreachable", extra={"chat": msg.recipient, "identities": marked})
                values["claimed_by"] = None
                await s.execute(update(OutboxMessage).where(mine).values(**values))
            if sent_ids:
                await s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(sent_ids), OutboxMessage.claimed_by == self.worker_id)
                    .values(
                        status=OutboxStatus.SENT,
                        sent_at=now,
                        attempts=OutboxMessage.attempts + 1,
                        claimed_by=None,
                        last_error=None,
                    )
                )
        self.stats.sent += len(sent_ids)
        if self.on_send is not None:
            for msg, result in outcomes:
                self.on_send(msg.channel, msg.kind, send_outcome(result, msg.attempts, self.cfg.max_attempts))

    async def _alert_restricted(self, s: Any, channel: Channel, reason: str, now: datetime) -> None:
        """The sending account is restricted: one open critical alert for the admins (national scope)."""
        open_one = await s.scalar(
            select(Alert.id).where(
                Alert.kind == "channel_restricted",
                Alert.subject_type == "channel",
                Alert.status != AlertStatus.RESOLVED,
            )
        )
        if open_one is not None:
            return
        log.error("channel account restricted", extra={"channel": channel.value, "reason": reason})
        s.add(
            Alert(
                kind="channel_restricted",
                subject_type="channel",
                subject_id=0,
                severity=AlertSeverity.CRITICAL,
                status=AlertStatus.OPEN,
                dedup_key=f"channel_restricted:{channel.value}",
                figures={"channel": channel.value, "reason": reason[:300]},
                message=f"{channel.value}: {reason}"[:500],
                opened_at=now,
                updated_at=now,
            )
        )

    # --- the loop ----------------------------------------------------------------------------------

    async def drain(self) -> DispatchStats:
        """Send everything due now, then return (messages waiting for a later retry stay queued)."""
        await self._pump(stop=asyncio.Event(), until_idle=True)
        return self.stats

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until `stop` is set, polling every `poll_seconds` when idle."""
        await self._pump(stop=stop, until_idle=False)

    async def _pump(self, *, stop: asyncio.Event, until_idle: bool) -> None:
        queue: asyncio.Queue[Claimed] = asyncio.Queue()
        results: asyncio.Queue[tuple[Claimed, SendResult]] = asyncio.Queue()
        busy = [0]
        batch_size = min(self.cfg.batch_size, self.claim_cap())
        low_water = max(batch_size // 2, 1)

        async def worker() -> None:
            while True:
                msg = await queue.get()
                busy[0] += 1
                try:
                    results.put_nowait((msg, await self.deliver(msg)))
                finally:
                    busy[0] -= 1
                    queue.task_done()

        async def marker() -> None:
            while True:
                first = await results.get()
                batch = [first]
                while not results.empty():
                    batch.append(results.get_nowait())
                try:
                    await self.mark(batch)
                except Exception:
                    # Unmarked rows stay claimed and are taken over after claim_timeout_seconds.
                    log.exception("marking outbox results failed")
                finally:
                    for _ in batch:
                        results.task_done()

        tasks = [asyncio.create_task(worker()) for _ in range(self.cfg.concurrency)]
        tasks.append(asyncio.create_task(marker()))
        try:
            while not stop.is_set():
                outstanding = queue.qsize() + busy[0]  # claimed by this dispatcher and not sent yet
                if outstanding >= low_water:
                    await asyncio.sleep(min(0.005 * low_water, 0.05))
                    continue
                try:
                    batch = await self.claim(batch_size - outstanding)
                except Exception:
                    log.exception("claiming outbox messages failed")
                    batch = []
                for msg in batch:
                    queue.put_nowait(msg)
                if batch:
                    continue
                if until_idle:
                    await queue.join()
                    await results.join()
                    if not await self._has_due():
                        return
                    continue
                with_timeout = asyncio.create_task(stop.wait())
                await asyncio.wait({with_timeout}, timeout=self.cfg.poll_seconds)
                with_timeout.cancel()
        finally:
            if stop.is_set() and not until_idle:
                # Shutting down: what was claimed but not started goes back to the queue for another
                # dispatcher (or the next start) at once; only the sends in flight are finished and marked.
                left: list[Claimed] = []
                while not queue.empty():
                    left.append(queue.get_nowait())
                    queue.task_done()
                for waiting, msg in list(self._pacing.items()):  # still waiting for a slot: not sent
                    waiting.cancel()
                    left.append(msg)
                if left:
                    try:
                        await self.release(left)
                    except Exception:  # they are taken over after claim_timeout_seconds
                        log.exception("releasing claimed outbox messages failed")
            if until_idle or stop.is_set():
                await queue.join()
                await results.join()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _has_due(self) -> bool:
        now = self.now()
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(OutboxMessage.id)
                    .where(
                        OutboxMessage.channel.in_(list(self.senders)),
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .limit(1)
                )
            ).first()
        return row is not None
