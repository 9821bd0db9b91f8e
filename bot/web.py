"""The HTTP side (Starlette, served by uvicorn): `/healthz`, `/metrics`, the Telegram webhook and the
WhatsApp webhook; and `serve_channels`, which runs one or more channels behind one web server with one
bootstrap and one background (reminder scheduler and outbox dispatcher).

Telegram: the route checks `X-Telegram-Bot-Api-Secret-Token` against `telegram.webhook_secret` in constant
time; a wrong or missing secret gets 403 and nothing is processed. Accepted updates go to the PTB
Application's update queue (the same path as polling), so the answer to Telegram is immediate.

WhatsApp: `GET whatsapp.webhook_path` answers Meta's verification challenge (`hub.verify_token`);
`POST` refuses a body over `server.max_body_bytes` (413), then checks `X-Hub-Signature-256` with the app
secret (missing 401, wrong 403: nothing stored), refuses malformed JSON (400), cuts the update into its
items (each message with its contact, each status, each error) and stores them in the inbox in one
transaction before answering 200; the inbox worker handles them in order per conversation. A redelivery
(same message id, same status) is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kotaku import clock
from kotaku.config import Settings

if TYPE_CHECKING:
    from pywa_async import WhatsApp
    from telegram.ext import Application

    from bot.telegram.app import Metrics
    from kotaku.bootstrap import Kotaku
    from kotaku.db import Database
    from kotaku.services.inbox import InboxWorker

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SIGNATURE_HEADER = "X-Hub-Signature-256"  # pywa.utils.HUB_SIG
VERIFY_TOKEN_PARAM, CHALLENGE_PARAM = "hub.verify_token", "hub.challenge"  # pywa.utils.HUB_VT, HUB_CH


def secret_ok(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class WhatsAppHook:
    """What the WhatsApp routes need: the pywa client (challenge, signature), the database and the inbox
    worker to wake."""

    wa: WhatsApp
    db: Database
    worker: InboxWorker | None = None
    now: Callable[[], datetime] = field(default=clock.now)


class _BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BodyTooLarge
    return bytes(body)


def create_app(
    settings: Settings,
    telegram_app: Application | None = None,
    metrics: Metrics | None = None,
    whatsapp: WhatsAppHook | None = None,
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
    if whatsapp is not None:
        routes += _whatsapp_routes(settings, whatsapp, counters)
    return Starlette(routes=routes)


def _whatsapp_routes(settings: Settings, hook: WhatsAppHook, counters: Metrics) -> list[Route]:
    from bot.whatsapp.convert import split_update
    from kotaku.models import Channel
    from kotaku.services import inbox

    verify_token = settings.whatsapp.verify_token
    expected = verify_token.get_secret_value() if verify_token is not None else None
    limit = settings.server.max_body_bytes

    async def challenge(request: Request) -> Response:
        given = request.query_params.get(VERIFY_TOKEN_PARAM)
        if not secret_ok(given, expected):  # also refuses everything while no verify_token is configured
            counters.inc("kotaku_whatsapp_webhook_rejected_total")
            return PlainTextResponse("forbidden", status_code=403)
        text, status = await hook.wa.webhook_challenge_handler(
            given, request.query_params.get(CHALLENGE_PARAM)
        )
        return PlainTextResponse(text or "", status_code=status)

    async def webhook(request: Request) -> Response:
        try:
            body = await _read_body(request, limit)
        except _BodyTooLarge:
            counters.inc("kotaku_whatsapp_webhook_too_large_total")
            return PlainTextResponse("payload too large", status_code=413)
        refused = await hook.wa.webhook_update_validator(body, request.headers.get(SIGNATURE_HEADER))
        if refused is not None:
            counters.inc("kotaku_whatsapp_webhook_rejected_total")
            return PlainTextResponse(refused[0], status_code=refused[1])
        try:
            items = split_update(json.loads(body))
        except (ValueError, RecursionError) as exc:
            counters.inc("kotaku_whatsapp_webhook_bad_total")
            log.warning("bad whatsapp webhook body: %s", str(exc)[:200])
            return PlainTextResponse("bad request", status_code=400)
        stored = 0
        now = hook.now()
        async with hook.db.transaction() as session:
            for item in items:
                if await inbox.store(
                    session,
                    channel=Channel.WHATSAPP,
                    external_id=item.external_id,
                    conversation=item.conversation,
                    body=item.body,
                    now=now,
                    kind=item.kind,
                ):
                    stored += 1
        counters.inc("kotaku_whatsapp_webhook_received_total", stored)
        counters.inc("kotaku_whatsapp_webhook_duplicates_total", len(items) - stored)
        if stored and hook.worker is not None:
            hook.worker.wake()
        return PlainTextResponse("ok")

    path = settings.whatsapp.webhook_path
    return [Route(path, challenge, methods=["GET"]), Route(path, webhook, methods=["POST"])]


# --- running channels ----------------------------------------------------------------------------------


class ChannelPart(Protocol):
    """A channel as `serve_channels` runs it, in this order: `open` (clients, its outbox sender added to
    kotaku), `web` (its create_app arguments), `start` (intake: polling, webhook registration, the inbox
    worker), then at the end `stop` (intake off) and `close` (clients; also after a failed `open`)."""

    name: str

    async def open(self, kotaku: Kotaku, metrics: Metrics) -> None: ...

    def web(self) -> dict[str, Any]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def close(self) -> None: ...


async def serve_channels(
    settings: Settings, parts: Sequence[ChannelPart], stop: asyncio.Event | None = None
) -> None:
    """Run `parts` in one event loop with one bootstrap, one background (the outbox dispatcher has every
    part's sender) and one web server with every part's routes, until `stop` (SIGINT/SIGTERM set it)."""
    import uvicorn

    from bot.telegram.app import Metrics
    from kotaku.bootstrap import bootstrap

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    kotaku = bootstrap(settings)
    metrics = Metrics()
    opened: list[ChannelPart] = []
    try:
        for part in parts:
            opened.append(part)
            await part.open(kotaku, metrics)
        background = await kotaku.start_background()
        try:
            web_args: dict[str, Any] = {}
            for part in parts:
                web_args.update(part.web())
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings, metrics=metrics, **web_args),
                    host=settings.server.host,
                    port=settings.server.port,
                    log_level="warning",
                    lifespan="off",
                )
            )
            server_task = asyncio.create_task(server.serve())
            started: list[ChannelPart] = []
            try:
                for part in parts:
                    started.append(part)
                    await part.start()
                log.info("channels started: %s", ", ".join(p.name for p in parts))
                stop_task = asyncio.create_task(stop.wait())
                await asyncio.wait({stop_task, server_task}, return_when=asyncio.FIRST_COMPLETED)
                stop_task.cancel()
            finally:
                for part in reversed(started):
                    try:
                        await part.stop()
                    except Exception:
                        log.exception("channel %s did not stop cleanly", part.name)
                server.should_exit = True
                with contextlib.suppress(Exception, SystemExit):
                    await server_task
        finally:
            await background.stop()
    finally:
        for part in reversed(opened):
            try:
                await part.close()
            except Exception:
                log.exception("channel %s did not close cleanly", part.name)
        await kotaku.close()
