"""The Telegram channel (python-telegram-bot 22): `run(settings)` starts it in polling or webhook mode,
with the reminder scheduler and the outbox dispatcher beside it, and bot/web.py on server.host:port
(/healthz, /metrics, and the webhook route in webhook mode). `TelegramPart` is the same channel as
bot.serve.serve_channels composes it with others (`kotaku run` with Telegram and WhatsApp).

In webhook mode an update is stored in the inbox before Telegram gets its 200 and handled by an inbox
worker (in order per user and chat); what a crash or a stop left is handled at the next start, in
either mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Bot
from telegram.ext import Application

from bot.telegram.app import (
    ALLOWED_UPDATES,
    Metrics,
    TelegramHandlers,
    build_application,
    command_list,
    delivery_bot,
    handlers_of,
    inbox_handler,
    set_commands,
)
from bot.telegram.convert import FileTooLarge, to_inbound
from bot.telegram.render import CallbackData, Renderer, keyboard, split_text
from bot.telegram.sender import TelegramSender
from kotaku.bootstrap import Kotaku
from kotaku.config import Settings
from kotaku.models import Channel
from kotaku.services.inbox import InboxWorker, stop_worker, worker_options

__all__ = [
    "ALLOWED_UPDATES",
    "CallbackData",
    "FileTooLarge",
    "Metrics",
    "Renderer",
    "TelegramHandlers",
    "TelegramPart",
    "TelegramSender",
    "build_application",
    "command_list",
    "delivery_bot",
    "handlers_of",
    "inbox_handler",
    "keyboard",
    "part",
    "run",
    "serve",
    "set_commands",
    "split_text",
    "to_inbound",
]

log = logging.getLogger(__name__)


class StartError(RuntimeError):
    """The channel cannot start with this configuration (the message says why and what to set)."""


class TelegramPart:
    """The Telegram channel as bot.serve.serve_channels runs it (alone, or beside WhatsApp)."""

    name = "telegram"

    def __init__(self, settings: Settings) -> None:
        tg = settings.telegram
        self.polling = tg.mode == "polling"
        if not self.polling and (not tg.webhook_url or tg.webhook_secret is None):
            raise StartError(
                "telegram.mode = 'webhook' needs telegram.webhook_url (the public https URL of "
                f"{tg.webhook_path}) and telegram.webhook_secret"
            )
        self.settings = settings
        self.application: Application | None = None
        self.delivery: Bot | None = None
        self.worker: InboxWorker | None = None
        self.kotaku: Kotaku | None = None
        self._initialized = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self, kotaku: Kotaku, metrics: Metrics) -> None:
        self.application = application = build_application(
            self.settings, kotaku.engine, metrics=metrics, polling=self.polling
        )
        await application.initialize()
        self._initialized = True
        await set_commands(application)
        self.delivery = delivery = delivery_bot(self.settings)
        await delivery.initialize()
        sender = TelegramSender(
            delivery, renderer=Renderer(delivery, callback=handlers_of(application).renderer.callback)
        )
        kotaku.add_sender(Channel.TELEGRAM, sender)
        self.kotaku = kotaku
        self.worker = InboxWorker(
            kotaku.db,
            Channel.TELEGRAM,
            inbox_handler(application),
            now=kotaku.now,
            **worker_options(self.settings),
        )

    def web(self) -> dict[str, Any]:
        from bot.web import TelegramHook

        assert self.application is not None and self.kotaku is not None
        return {
            "telegram": TelegramHook(
                self.application, self.kotaku.db, self.worker, self.kotaku.now, running=self._running
            )
        }

    def _running(self) -> bool:
        """For /readyz: the inbox worker is at work (polling mode: PTB's updater runs too)."""
        worker_ok = self._task is not None and not self._task.done()
        updater = self.application.updater if self.application is not None else None
        return worker_ok and (not self.polling or (updater is not None and updater.running))

    async def start(self) -> None:
        application = self.application
        assert application is not None
        tg = self.settings.telegram
        await application.start()
        assert self.worker is not None
        self._stop.clear()
        self._task = asyncio.create_task(self.worker.run(self._stop), name="telegram-inbox")
        if self.polling:
            await application.bot.delete_webhook(drop_pending_updates=False)
            assert application.updater is not None
            await application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, timeout=10, bootstrap_retries=-1
            )
        else:
            assert tg.webhook_secret is not None and tg.webhook_url
            await application.bot.set_webhook(
                url=tg.webhook_url,
                secret_token=tg.webhook_secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
            )
        log.info("telegram started", extra={"mode": tg.mode})

    async def stop(self) -> None:
        application = self.application
        if application is not None and application.updater is not None and application.updater.running:
            await application.updater.stop()
        if self._task is None:
            self._stop.set()
            return
        await stop_worker(self._task, self.worker, self._stop, self.settings.server.shutdown_s / 2)
        self._task = None

    async def close(self) -> None:
        if self.delivery is not None:
            await self.delivery.shutdown()
            self.delivery = None
        application = self.application
        if application is not None and self._initialized:
            if application.running:
                await application.stop()
            await application.shutdown()
            self._initialized = False


def part(settings: Settings) -> TelegramPart:
    return TelegramPart(settings)


def run(settings: Settings) -> None:
    """Blocking entry point for `kotaku run` (SIGINT/SIGTERM stop it cleanly)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    from bot.serve import serve_channels

    await serve_channels(settings, [TelegramPart(settings)], stop=stop)
