"""The HTTP side (Starlette, served by uvicorn): `/healthz`, `/metrics`, the Telegram webhook and the
WhatsApp webhook (bot.serve runs them with the channels).

Both webhooks read at most `server.max_body_bytes` (413 as soon as Content-Length or the bytes read pass
it, without reading the rest), refuse what is not JSON or not the channel's shape (400 with a short JSON
error; NaN, infinities, numbers beyond 64 bits and nesting deeper than 32 levels included) and store what
they accept in the inbox in one transaction before answering 200; an inbox worker per channel handles it
in order per conversation, and what a crash left is handled at the next start. A redelivery (same
Telegram update id, same WhatsApp message id or status) is stored once. Bad input never gets a 5xx.

Telegram: the route checks `X-Telegram-Bot-Api-Secret-Token` against `telegram.webhook_secret` in constant
time before reading the body; a wrong or missing secret gets 403 and nothing is stored.

WhatsApp: `GET whatsapp.webhook_path` answers Meta's verification challenge (`hub.verify_token`);
`POST` checks `X-Hub-Signature-256` with the app secret (missing 401, wrong 403: nothing stored) and cuts
the update into its items (each message with its contact, each status, each error).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kotaku import clock
from kotaku.config import Settings

if TYPE_CHECKING:
    from pywa_async import WhatsApp
    from telegram.ext import Application

    from bot.telegram.app import Metrics
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
class TelegramHook:
    """What the Telegram route needs: the PTB Application (to read updates with its bot), the database
    and the inbox worker to wake."""

    application: Application
    db: Database
    worker: InboxWorker | None = None
    now: Callable[[], datetime] = field(default=clock.now)


@dataclass
class WhatsAppHook:
    """What the WhatsApp routes need: the pywa client (challenge, signature), the database and the inbox
    worker to wake."""

    wa: WhatsApp
    db: Database
    worker: InboxWorker | None = None
    now: Callable[[], datetime] = field(default=clock.now)


# --- webhook bodies ------------------------------------------------------------------------------------

MAX_DEPTH = 32  # real updates nest under 10 levels
INT_LIMIT = 2**63
_ODD_CHARS = re.compile("[\x00\ud800-\udfff]")


class BadBody(ValueError):
    """A webhook body that is not what the channel sends; the message is the short reason answered."""


class _BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (`_BodyTooLarge`) as soon as its declared length or the bytes read so
    far pass `limit`: the rest is never read."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _BodyTooLarge
    except ClientDisconnect as exc:
        raise BadBody("the body was cut short") from exc
    return bytes(body)


def _no_constant(name: str) -> Any:
    raise BadBody(f"{name} is not a JSON number")


def _clean_text(text: str) -> str:
    # NUL and lone surrogates are valid JSON escapes but no text a person typed; PostgreSQL refuses them.
    if not _ODD_CHARS.search(text):
        return text
    return _ODD_CHARS.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def _clean(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadBody(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _clean_text(value)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -INT_LIMIT <= value < INT_LIMIT:
            raise BadBody("a number beyond 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadBody("a number out of range")
        return value
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return {_clean_text(k): _clean(v, depth + 1) for k, v in value.items()}


def load_json(body: bytes) -> Any:
    """The JSON document in a webhook body, within the bounds above, with NUL removed and lone surrogates
    replaced; BadBody when it is none."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except RecursionError as exc:
        raise BadBody(f"nested deeper than {MAX_DEPTH} levels") from exc
    except BadBody:
        raise
    except ValueError as exc:  # also bytes that are not UTF-8, and integers of over 4,300 digits
        raise BadBody("not JSON") from exc
    return _clean(data, 0)


def refused(status: int, error: str) -> Response:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


def create_app(
    settings: Settings,
    telegram: TelegramHook | None = None,
    metrics: Metrics | None = None,
    whatsapp: WhatsAppHook | None = None,
) -> Starlette:
    from bot.telegram.app import Metrics

    counters = metrics or Metrics()

    async def healthz(request: Request) -> Response:
        running = telegram is None or telegram.application.running
        return JSONResponse({"ok": running}, status_code=200 if running else 503)

    async def metrics_route(request: Request) -> Response:
        return PlainTextResponse(counters.render(), media_type="text/plain; version=0.0.4")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
        _telegram_route(settings, telegram, counters),
    ]
    if whatsapp is not None:
        routes += _whatsapp_routes(settings, whatsapp, counters)
    return Starlette(routes=routes)


def _telegram_route(settings: Settings, hook: TelegramHook | None, counters: Metrics) -> Route:
    from bot.telegram.convert import conversation_of, inbox_id, parse_update
    from kotaku.models import Channel
    from kotaku.services import inbox

    secret = settings.telegram.webhook_secret.get_secret_value() if settings.telegram.webhook_secret else None
    limit = settings.server.max_body_bytes

    async def webhook(request: Request) -> Response:
        if not secret_ok(request.headers.get(SECRET_HEADER), secret):
            counters.inc("kotaku_telegram_webhook_rejected_total")
            return refused(403, "forbidden")
        if hook is None:
            return refused(503, "telegram not running")
        try:
            data = load_json(await read_body(request, limit))
            update = parse_update(data, hook.application.bot)
        except _BodyTooLarge:
            counters.inc("kotaku_telegram_webhook_too_large_total")
            return refused(413, f"body over {limit} bytes")
        except ValueError as exc:
            counters.inc("kotaku_telegram_webhook_bad_total")
            log.warning("bad telegram webhook body: %s", str(exc)[:200])
            return refused(400, str(exc)[:200])
        if update.message is None and update.callback_query is None:
            counters.inc("kotaku_telegram_webhook_ignored_total")  # nothing the bot answers (edits, ...)
            return PlainTextResponse("ok")
        async with hook.db.transaction() as session:
            stored = await inbox.store(
                session,
                channel=Channel.TELEGRAM,
                external_id=inbox_id(update, hook.application.bot.token),
                conversation=conversation_of(update),
                body=data,
                now=hook.now(),
                kind="update",
            )
        if stored:
            counters.inc("kotaku_telegram_webhook_received_total")
            if hook.worker is not None:
                hook.worker.wake()
        else:
            counters.inc("kotaku_telegram_webhook_duplicates_total")
        return PlainTextResponse("ok")

    return Route(settings.telegram.webhook_path, webhook, methods=["POST"])


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
            body = await read_body(request, limit)
        except _BodyTooLarge:
            counters.inc("kotaku_whatsapp_webhook_too_large_total")
            return refused(413, f"body over {limit} bytes")
        except BadBody as exc:
            counters.inc("kotaku_whatsapp_webhook_bad_total")
            return refused(400, str(exc))
        denied = await hook.wa.webhook_update_validator(body, request.headers.get(SIGNATURE_HEADER))
        if denied is not None:
            counters.inc("kotaku_whatsapp_webhook_rejected_total")
            return PlainTextResponse(denied[0], status_code=denied[1])
        try:
            items = split_update(load_json(body))
        except ValueError as exc:
            counters.inc("kotaku_whatsapp_webhook_bad_total")
            log.warning("bad whatsapp webhook body: %s", str(exc)[:200])
            return refused(400, str(exc)[:200])
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
