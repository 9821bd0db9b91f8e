"""The HTTP side (Starlette, served by uvicorn): `/healthz` (live: always 200), `/readyz` (ready: 200 or
503 with the reason of each check, kotaku.health), `/metrics` (Prometheus text, kotaku.metrics), the
Telegram webhook and the WhatsApp webhook (bot.serve runs them with the channels). While the server
drains (`ServerState.draining`, set by bot.serve at SIGTERM) both webhooks and /readyz answer 503.

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
from kotaku.health import SHUTTING_DOWN, Readiness
from kotaku.metrics import CONTENT_TYPE, Metrics
from kotaku.models import Channel

if TYPE_CHECKING:
    from pywa_async import WhatsApp
    from telegram.ext import Application

    from kotaku.db import Database
    from kotaku.services.inbox import InboxWorker

log = logging.getLogger(__name__)

TG, WA = Channel.TELEGRAM, Channel.WHATSAPP

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SIGNATURE_HEADER = "X-Hub-Signature-256"  # pywa.utils.HUB_SIG
VERIFY_TOKEN_PARAM, CHALLENGE_PARAM = "hub.verify_token", "hub.challenge"  # pywa.utils.HUB_VT, HUB_CH


def secret_ok(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class ServerState:
    """What the server side tells the routes: `draining` from SIGTERM on (bot.serve), when both webhooks
    answer 503 so the platform sends the update again later, perhaps to another process."""

    draining: bool = False


DRAINING = SHUTTING_DOWN


@dataclass
class TelegramHook:
    """What the Telegram route needs: the PTB Application (to read updates with its bot), the database
    and the inbox worker to wake; `running` tells /readyz whether its inbox worker runs too."""

    application: Application
    db: Database
    worker: InboxWorker | None = None
    now: Callable[[], datetime] = field(default=clock.now)
    running: Callable[[], bool] | None = None


@dataclass
class WhatsAppHook:
    """What the WhatsApp routes need: the pywa client (challenge, signature), the database and the inbox
    worker to wake; `running` tells /readyz whether the channel works (its inbox worker runs)."""

    wa: WhatsApp
    db: Database
    worker: InboxWorker | None = None
    now: Callable[[], datetime] = field(default=clock.now)
    running: Callable[[], bool] | None = None


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
    state: ServerState | None = None,
    *,
    db: Database | None = None,
) -> Starlette:
    """The routes of one process. `metrics` collects what the channels count (a fresh `Metrics` when
    none); `state` is the server's switch (`draining`); `db` (default: the hooks' database) is what
    /readyz checks and whose figures /metrics exports."""
    counters = metrics or Metrics()
    state = state or ServerState()
    hook = telegram or whatsapp
    db = db or (hook.db if hook is not None else None)
    gauges = None
    if db is not None:
        gauges = counters.watch_database(
            db,
            now=hook.now if hook is not None else clock.now,
            cache_s=settings.health.cache_s,
            timeout_s=settings.health.timeout_s,
        )
    readiness = Readiness(db, settings.health, gauges=gauges)

    def channels() -> dict[str, bool]:
        running: dict[str, bool] = {}
        if telegram is not None:
            running[Channel.TELEGRAM.value] = bool(telegram.application.running) and (
                telegram.running is None or telegram.running()
            )
        if whatsapp is not None:
            running[Channel.WHATSAPP.value] = whatsapp.running() if whatsapp.running is not None else True
        return running

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        report = await readiness.check(draining=state.draining, channels=channels())
        return JSONResponse(report.as_dict(), status_code=200 if report.ok else 503)

    async def metrics_route(request: Request) -> Response:
        await counters.refresh()
        return Response(counters.render(), media_type=CONTENT_TYPE)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
        _telegram_route(settings, telegram, counters, state),
    ]
    if whatsapp is not None:
        routes += _whatsapp_routes(settings, whatsapp, counters, state)
    return Starlette(routes=routes)


def _telegram_route(
    settings: Settings, hook: TelegramHook | None, counters: Metrics, state: ServerState
) -> Route:
    from bot.telegram.convert import conversation_of, inbox_id, parse_update
    from kotaku.services import inbox

    secret = settings.telegram.webhook_secret.get_secret_value() if settings.telegram.webhook_secret else None
    limit = settings.server.max_body_bytes

    async def webhook(request: Request) -> Response:
        if not secret_ok(request.headers.get(SECRET_HEADER), secret):
            counters.webhook(TG, "rejected")
            return refused(403, "forbidden")
        if hook is None:
            return refused(503, "telegram not running")
        if state.draining:
            counters.webhook(TG, "draining")
            return refused(503, DRAINING)
        try:
            data = load_json(await read_body(request, limit))
            update = parse_update(data, hook.application.bot)
        except _BodyTooLarge:
            counters.webhook(TG, "too_large")
            return refused(413, f"body over {limit} bytes")
        except ValueError as exc:
            counters.webhook(TG, "bad")
            log.warning("bad telegram webhook body: %s", str(exc)[:200])
            return refused(400, str(exc)[:200])
        if update.message is None and update.callback_query is None:
            counters.webhook(TG, "ignored")  # nothing the bot answers (edits, ...)
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
            counters.webhook(TG, "received")
            if hook.worker is not None:
                hook.worker.wake()
        else:
            counters.webhook(TG, "duplicate")
        return PlainTextResponse("ok")

    return Route(settings.telegram.webhook_path, webhook, methods=["POST"])


def _whatsapp_routes(
    settings: Settings, hook: WhatsAppHook, counters: Metrics, state: ServerState
) -> list[Route]:
    from bot.whatsapp.convert import split_update
    from kotaku.services import inbox

    verify_token = settings.whatsapp.verify_token
    expected = verify_token.get_secret_value() if verify_token is not None else None
    limit = settings.server.max_body_bytes

    async def challenge(request: Request) -> Response:
        given = request.query_params.get(VERIFY_TOKEN_PARAM)
        if not secret_ok(given, expected):  # also refuses everything while no verify_token is configured
            counters.webhook(WA, "rejected")
            return PlainTextResponse("forbidden", status_code=403)
        text, status = await hook.wa.webhook_challenge_handler(
            given, request.query_params.get(CHALLENGE_PARAM)
        )
        return PlainTextResponse(text or "", status_code=status)

    async def webhook(request: Request) -> Response:
        if state.draining:
            counters.webhook(WA, "draining")
            return refused(503, DRAINING)
        try:
            body = await read_body(request, limit)
        except _BodyTooLarge:
            counters.webhook(WA, "too_large")
            return refused(413, f"body over {limit} bytes")
        except BadBody as exc:
            counters.webhook(WA, "bad")
            return refused(400, str(exc))
        denied = await hook.wa.webhook_update_validator(body, request.headers.get(SIGNATURE_HEADER))
        if denied is not None:
            counters.webhook(WA, "rejected")
            return PlainTextResponse(denied[0], status_code=denied[1])
        try:
            items = split_update(load_json(body))
        except ValueError as exc:
            counters.webhook(WA, "bad")
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
        counters.webhook(WA, "received", stored)
        counters.webhook(WA, "duplicate", len(items) - stored)
        if stored and hook.worker is not None:
            hook.worker.wake()
        return PlainTextResponse("ok")

    path = settings.whatsapp.webhook_path
    return [Route(path, challenge, methods=["GET"]), Route(path, webhook, methods=["POST"])]
