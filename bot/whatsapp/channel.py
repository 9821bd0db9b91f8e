"""What the inbox worker does with a stored WhatsApp item: a message becomes an `Inbound` for the engine
and the replies go straight back (not through the outbox, as on Telegram); a status is recorded on its
outbox entry; an error is logged. A handler that raises is retried by the worker (kotaku.services.inbox).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from pywa_async import WhatsApp

from bot.whatsapp.convert import (
    ERROR,
    MESSAGE,
    STATUS,
    Converted,
    Notice,
    contact_of,
    to_delivery,
    to_inbound,
)
from bot.whatsapp.render import Renderer
from kotaku import catalogue, clock
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.dialog.engine import Engine
from kotaku.logs import HandledUpdate, handling_update, note_update
from kotaku.metrics import Metrics
from kotaku.models import Channel, InboxMessage
from kotaku.notify.outbox import record_delivery
from kotaku.notify.reachability import mark_unreachable
from kotaku.schemas import InboundKind, Outbound
from kotaku.services.media import human_size
from kotaku.services.people import WhatsAppContact, note_whatsapp_contact

log = structlog.get_logger(__name__)

REENGAGEMENT = 131047  # outside the window: the entry waits for the person (held)
UNDELIVERABLE = 131026  # not a WhatsApp user, or cannot receive: no more notices there


def _outcome_of(notice: Notice | None) -> str:
    """The log's and the metrics' outcome of a message that reaches no flow."""
    if notice is None:
        return "ignored"
    return "too_large" if notice.key == "whatsapp.file_too_large" else "unsupported"


class WhatsAppChannel:
    """The inbox worker's handler for Channel.WHATSAPP."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        engine: Engine,
        wa: WhatsApp,
        renderer: Renderer,
        metrics: Metrics | None = None,
        now: Callable[[], datetime] = clock.now,
        media_retry_delay: float = 1.0,
    ) -> None:
        self.settings = settings
        self.db = db
        self.engine = engine
        self.wa = wa
        self.renderer = renderer
        self.metrics = metrics or Metrics()
        self.now = now
        self.media_retry_delay = media_retry_delay

    async def handle(self, row: InboxMessage) -> None:
        """One stored item, in a `handling_update` scope: its request id on every line logged meanwhile,
        then one `update_handled` line (statuses at debug level) and the item counted and timed."""
        level = logging.DEBUG if row.kind == STATUS else logging.INFO
        with handling_update(
            Channel.WHATSAPP.value, row.kind, done=self._observe, level=level, inbox_id=row.id
        ):
            if row.kind == MESSAGE:
                await self.on_message(row.body)
            elif row.kind == STATUS:
                await self.on_status(row.body)
            elif row.kind == ERROR:
                log.warning("whatsapp_webhook_error", error=json.dumps(row.body.get("error"))[:500])
            else:
                note_update(outcome="ignored")

    def _observe(self, handled: HandledUpdate) -> None:
        self.metrics.update_handled(handled.channel, handled.kind, handled.outcome, handled.seconds)

    # --- messages ----------------------------------------------------------------------------------

    async def _contact(self, user_id: str, wa_id: str | None, phone: str | None) -> WhatsAppContact:
        async with self.db.transaction() as session:
            return await note_whatsapp_contact(session, user_id=user_id, wa_id=wa_id, wa_id_e164=phone)

    async def on_message(self, body: dict[str, Any]) -> None:
        who = contact_of(body)
        contact = await self._contact(who.user_id, who.wa_id, who.phone)
        lang = contact.language or self.settings.app.language
        converted: Converted = await to_inbound(
            body, self.wa, self.settings, user_id=contact.user_id, retry_delay=self.media_retry_delay
        )
        inbound = converted.inbound
        if converted.notice is not None:
            await self._notice(who.chat_id, converted.notice, lang)
        if inbound is None:
            note_update(outcome=_outcome_of(converted.notice))
            return
        if inbound.kind == InboundKind.CHOICE and inbound.choice is not None:
            pressed = self.renderer.memory.pressed(inbound.chat_id, inbound.choice)
            if pressed.page is not None and pressed.token is not None:
                await self.renderer.page(inbound.chat_id, pressed.token, pressed.page, lang=lang)
                return
            if pressed.expired or pressed.value is None:
                note_update(outcome="expired")
                await self._notice(inbound.chat_id, Notice("whatsapp.choices_expired"), lang)
                return
            inbound = inbound.model_copy(update={"choice": pressed.value})
        outs = await self.engine.handle(inbound)
        if not contact.known:  # a first registration: the identity exists now, with its phone
            contact = await self._contact(contact.user_id, who.wa_id, who.phone)
            lang = contact.language or lang
        await self._reply(inbound.chat_id, outs, lang)

    async def _notice(self, chat_id: str, notice: Notice, lang: str) -> None:
        params = dict(notice.params)
        for key in ("size", "limit"):
            if isinstance(params.get(key), int):
                params[key] = human_size(params[key], lang)
        await self._reply(chat_id, [Outbound(text=catalogue.t(notice.key, lang, **params))], lang)

    async def _reply(self, chat_id: str, outs: list[Outbound], lang: str) -> None:
        """Replies go out at once. A failure is logged, not raised: the message itself is handled (the
        engine recorded it), so handling it again would say nothing."""
        if not outs:
            return
        try:
            sent = await self.renderer.render(chat_id, outs, lang=lang)
        except Exception as exc:
            self.metrics.reply(Channel.WHATSAPP, "failed")
            log.error("whatsapp_reply_not_sent", chat=chat_id, error=repr(exc)[:500])
            return
        self.metrics.reply(Channel.WHATSAPP, "sent", len(sent.wamids))

    # --- statuses ----------------------------------------------------------------------------------

    async def on_status(self, body: dict[str, Any]) -> None:
        delivery = to_delivery(body)
        at = delivery.at or self.now()
        async with self.db.transaction() as session:
            entry = await record_delivery(
                session,
                outbox_id=delivery.outbox_id,
                external_id=delivery.wamid or None,
                status=delivery.status,
                at=at,
                error=delivery.error,
                hold=delivery.status == "failed" and REENGAGEMENT in delivery.codes,
            )
            if delivery.status == "failed" and UNDELIVERABLE in delivery.codes:
                for recipient in delivery.recipients:
                    await mark_unreachable(
                        session, Channel.WHATSAPP, recipient, delivery.error or "131026 undeliverable", at
                    )
        if entry is None:
            log.info("whatsapp_status_unknown_message", wamid=delivery.wamid, status=delivery.status)
