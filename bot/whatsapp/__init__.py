"""The WhatsApp channel (Cloud API through pywa 4.5, async): `run(settings)` serves the webhook on
bot/web.py (server.host:port + whatsapp.webhook_path) with the reminder scheduler and the outbox
dispatcher beside it. Webhook items are stored in the inbox before Meta gets its 200 and handled by an
inbox worker (in order per conversation; what a crash left is handled at the next start); replies to a
message go out at once, notifications through the outbox (`WhatsAppSender`).

Nothing is registered with Meta at start: the callback URL, the verify token and the subscribed fields
are set once in the app dashboard (docs: Meta's "Set up webhooks").
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from pywa_async import WhatsApp

from bot.whatsapp.channel import WhatsAppChannel
from bot.whatsapp.client import BaseURLTransport, build_client, close_client
from bot.whatsapp.convert import Converted, FileTooLarge, Item, split_update, to_delivery, to_inbound
from bot.whatsapp.render import ChoiceMemory, Planner, Renderer, split_text
from bot.whatsapp.sender import WhatsAppSender, result_of_error
from kotaku.bootstrap import Kotaku
from kotaku.config import Settings
from kotaku.metrics import Metrics
from kotaku.models import Channel
from kotaku.services.inbox import InboxWorker, stop_worker, worker_options

__all__ = [
    "BaseURLTransport",
    "ChoiceMemory",
    "Converted",
    "FileTooLarge",
    "Item",
    "Planner",
    "Renderer",
    "StartError",
    "WhatsAppChannel",
    "WhatsAppPart",
    "WhatsAppSender",
    "build_client",
    "part",
    "result_of_error",
    "run",
    "serve",
    "split_text",
    "split_update",
    "to_delivery",
    "to_inbound",
]

log = structlog.get_logger(__name__)


class StartError(RuntimeError):
    """The channel cannot start with this configuration (the message says why and what to set)."""


class WhatsAppPart:
    """The WhatsApp channel as bot.serve.serve_channels runs it (alone, or beside Telegram)."""

    name = "whatsapp"

    def __init__(self, settings: Settings, *, media_retry_delay: float = 1.0) -> None:
        cfg = settings.whatsapp
        if not cfg.phone_id or cfg.token is None or not cfg.token.get_secret_value():
            raise StartError("WhatsApp needs whatsapp.phone_id and whatsapp.token")
        self.settings = settings
        self.media_retry_delay = media_retry_delay
        self.wa: WhatsApp | None = None
        self.worker: InboxWorker | None = None
        self.kotaku: Kotaku | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self, kotaku: Kotaku, metrics: Metrics) -> None:
        cfg = self.settings.whatsapp
        if cfg.app_secret is None:
            log.warning("whatsapp_webhook_signatures_not_checked", reason="whatsapp.app_secret is not set")
        if cfg.verify_token is None:
            log.warning("whatsapp_verification_refused", reason="whatsapp.verify_token is not set")
        self.kotaku = kotaku
        self.wa = wa = build_client(self.settings)
        renderer = Renderer(
            wa,
            memory=ChoiceMemory(),
            default_lang=self.settings.app.language,
            on_cut=lambda what: metrics.truncated.labels(Channel.WHATSAPP.value).inc(),
        )
        kotaku.add_sender(Channel.WHATSAPP, WhatsAppSender(wa, cfg, renderer=renderer, now=kotaku.now))
        channel = WhatsAppChannel(
            settings=self.settings,
            db=kotaku.db,
            engine=kotaku.engine,
            wa=wa,
            renderer=renderer,
            metrics=metrics,
            now=kotaku.now,
            media_retry_delay=self.media_retry_delay,
        )
        self.worker = InboxWorker(
            kotaku.db, Channel.WHATSAPP, channel.handle, now=kotaku.now, **worker_options(self.settings)
        )

    def web(self) -> dict[str, Any]:
        from bot.web import WhatsAppHook

        assert self.wa is not None and self.kotaku is not None
        return {
            "whatsapp": WhatsAppHook(
                self.wa, self.kotaku.db, self.worker, self.kotaku.now, running=self._running
            )
        }

    def _running(self) -> bool:
        """For /readyz: the inbox worker is at work."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """The inbox worker: first what was stored but not handled before (a crash, a stop), then what
        the webhook stores."""
        assert self.worker is not None
        self._stop.clear()
        self._task = asyncio.create_task(self.worker.run(self._stop), name="whatsapp-inbox")
        log.info("whatsapp_started", webhook_path=self.settings.whatsapp.webhook_path)

    async def stop(self) -> None:
        if self._task is None:
            self._stop.set()
            return
        await stop_worker(self._task, self.worker, self._stop, self.settings.server.shutdown_s / 2)
        self._task = None

    async def close(self) -> None:
        if self.wa is not None:
            await close_client(self.wa)
            self.wa = None


def part(settings: Settings) -> WhatsAppPart:
    return WhatsAppPart(settings)


def run(settings: Settings) -> None:
    """Blocking entry point for `kotaku run` (SIGINT/SIGTERM stop it cleanly)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    from bot.serve import serve_channels

    await serve_channels(settings, [WhatsAppPart(settings)], stop=stop)
