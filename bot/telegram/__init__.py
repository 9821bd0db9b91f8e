"""The Telegram channel (python-telegram-bot 22): `run(settings)` starts it in polling or webhook mode,
with the reminder scheduler and the outbox dispatcher beside it, and bot/web.py on server.host:port
(/healthz, /metrics, and the webhook route in webhook mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn

from bot.telegram.app import (
    ALLOWED_UPDATES,
    Metrics,
    TelegramHandlers,
    build_application,
    command_list,
    delivery_bot,
    handlers_of,
    set_commands,
)
from bot.telegram.convert import FileTooLarge, to_inbound
from bot.telegram.render import CallbackData, Renderer, keyboard, split_text
from bot.telegram.sender import TelegramSender
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.models import Channel

__all__ = [
    "ALLOWED_UPDATES",
    "CallbackData",
    "FileTooLarge",
    "Metrics",
    "Renderer",
    "TelegramHandlers",
    "TelegramSender",
    "build_application",
    "command_list",
    "delivery_bot",
    "handlers_of",
    "keyboard",
    "run",
    "serve",
    "set_commands",
    "split_text",
    "to_inbound",
]

log = logging.getLogger(__name__)


class StartError(RuntimeError):
    """The channel cannot start with this configuration (the message says why and what to set)."""


def run(settings: Settings) -> None:
    """Blocking entry point for `kotaku run` (SIGINT/SIGTERM stop it cleanly)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    tg = settings.telegram
    polling = tg.mode == "polling"
    if not polling and (not tg.webhook_url or tg.webhook_secret is None):
        raise StartError(
            "telegram.mode = 'webhook' needs telegram.webhook_url (the public https URL of "
            f"{tg.webhook_path}) and telegram.webhook_secret"
        )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    from bot.web import create_app

    kotaku = bootstrap(settings)
    metrics = Metrics()
    application = build_application(settings, kotaku.engine, metrics=metrics, polling=polling)
    try:
        async with application:
            await set_commands(application)
            delivery = delivery_bot(settings)
            await delivery.initialize()
            sender = TelegramSender(
                delivery, renderer=Renderer(delivery, callback=handlers_of(application).renderer.callback)
            )
            kotaku.add_sender(Channel.TELEGRAM, sender)
            background = await kotaku.start_background()
            await application.start()
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings, application, metrics),
                    host=settings.server.host,
                    port=settings.server.port,
                    log_level="warning",
                    lifespan="off",
                )
            )
            server_task = asyncio.create_task(server.serve())
            if polling:
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
            stop_task = asyncio.create_task(stop.wait())
            await asyncio.wait({stop_task, server_task}, return_when=asyncio.FIRST_COMPLETED)
            stop_task.cancel()
            if polling and application.updater is not None:
                await application.updater.stop()
            server.should_exit = True
            with contextlib.suppress(Exception, SystemExit):
                await server_task
            await background.stop()
            await delivery.shutdown()
            await application.stop()
    finally:
        await kotaku.close()
