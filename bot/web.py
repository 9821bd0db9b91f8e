"""The HTTP side (Starlette, served by uvicorn): `/healthz`, `/metrics` and the Telegram webhook.

The webhook route checks `X-Telegram-Bot-Api-Secret-Token` against `telegram.webhook_secret` in constant
time; a wrong or missing secret gets 403 and nothing is processed. Accepted updates go to the PTB
Application's update queue (the same path as polling), so the answer to Telegram is immediate.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kotaku.config import Settings

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.telegram.app import Metrics

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def secret_ok(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def create_app(
    settings: Settings, telegram_app: Application | None = None, metrics: Metrics | None = None
) -> Starlette:
    from bot.telegram.app import Metrics

    counters = metrics or Metrics()
    secret = settings.telegram.webhook_secret.get_secret_value() if settings.telegram.webhook_secret else None

    async def healthz(request: Request) -> Response:
        running = telegram_app is None or telegram_app.running
        return JSONResponse({"ok": running}, status_code=200 if running else 503)

    async def metrics_route(request: Request) -> Response:
        return PlainTextResponse(counters.render(), media_type="text/plain; version=0.0.4")

    async def telegram_webhook(request: Request) -> Response:
        if not secret_ok(request.headers.get(SECRET_HEADER), secret):
            counters.inc("kotaku_telegram_webhook_rejected_total")
            return PlainTextResponse("forbidden", status_code=403)
        if telegram_app is None:
            return PlainTextResponse("telegram not running", status_code=503)
        from telegram import Update

        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, telegram_app.bot)
        except (ValueError, TypeError, KeyError) as exc:
            counters.inc("kotaku_telegram_webhook_bad_total")
            log.warning("bad webhook body: %s", exc)
            return PlainTextResponse("bad request", status_code=400)
        counters.inc("kotaku_telegram_webhook_received_total")
        await telegram_app.update_queue.put(update)
        return PlainTextResponse("ok")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
        Route(settings.telegram.webhook_path, telegram_webhook, methods=["POST"]),
    ]
    return Starlette(routes=routes)
