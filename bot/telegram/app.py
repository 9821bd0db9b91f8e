"""The python-telegram-bot `Application`: one handler turning every update into an `Inbound` for the
engine and rendering the replies; callback queries always answered; errors logged with context and
answered with a short apology; the commands menu in Indonesian and English; and what the inbox worker
does with an update the webhook stored (`inbox_handler`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats, Update
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, BaseUpdateProcessor, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.telegram.convert import FileTooLarge, to_inbound
from bot.telegram.render import Renderer
from bot.telegram.request import build_request
from kotaku import catalogue
from kotaku.config import Settings
from kotaku.dialog.engine import Engine
from kotaku.dialog.flow import FlowRegistry
from kotaku.locks import KeyedLocks
from kotaku.logs import HandledUpdate, handling_update, note_update
from kotaku.metrics import Metrics
from kotaku.models import Channel, InboxMessage, Role
from kotaku.services.media import human_size

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]


# Commands shown in groups: the KSM's daily reports (conversations are per user there).
GROUP_COMMANDS = ("hadir", "progres", "kendala", "foto", "rekap", "batal", "bantuan", "daftarkan_grup")


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates run concurrently, but those of one user in one chat run in arrival order (a photo
    followed by a text: the photo, downloaded first, is handled first)."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: KeyedLocks[tuple[int, int]] = KeyedLocks()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = (0, 0)
        if isinstance(update, Update):
            chat, user = update.effective_chat, update.effective_user
            key = (chat.id if chat else 0, user.id if user else 0)
        async with self._locks.hold(key):
            await coroutine

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def _lang(update: object, default: str) -> str:
    if isinstance(update, Update) and update.effective_user and update.effective_user.language_code:
        return "en" if update.effective_user.language_code.startswith("en") else default
    return default


class TelegramHandlers:
    """What the Application calls; kept as an object so tests and the bench can reach the parts."""

    def __init__(self, settings: Settings, engine: Engine, renderer: Renderer, metrics: Metrics) -> None:
        self.settings = settings
        self.engine = engine
        self.renderer = renderer
        self.metrics = metrics

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """One update, in a `handling_update` scope: its request id on every line logged meanwhile, then
        one `update_handled` line and the update counted (kotaku_updates_total) and timed."""
        kind = "callback" if update.callback_query is not None else "message"
        with handling_update(Channel.TELEGRAM.value, kind, done=self._observe, update_id=update.update_id):
            await self._handle(update, context)

    def _observe(self, handled: HandledUpdate) -> None:
        self.metrics.update_handled(handled.channel, handled.kind, handled.outcome, handled.seconds)

    async def _handle(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        pressed: int | None = None
        if query is not None:
            try:
                await query.answer()  # always, so the button stops spinning
            except TelegramError as exc:
                log.info("answerCallbackQuery failed: %s", exc)
            if query.message is not None:
                pressed = query.message.message_id
            if query.data is not None:
                value = self.renderer.callback.decode(query.data)
                if value is None:
                    note_update(outcome="expired")
                    await self._say(update, "telegram.button_expired")
                    return
                query = None
                update = _with_choice(update, value)
        try:
            inbound = await to_inbound(update, context.bot, self.settings)
        except FileTooLarge as exc:
            note_update(outcome="too_large")
            await self._say(
                update,
                "telegram.file_too_large",
                size=human_size(exc.size, self._lang(update)),
                limit=human_size(exc.limit, self._lang(update)),
            )
            return
        if inbound is None:
            note_update(outcome="ignored")
            return
        outs = await self.engine.handle(inbound)
        if outs:
            sent = await self.renderer.render(
                inbound.chat_id, outs, user_id=inbound.user_id, pressed_message_id=pressed
            )
            self.metrics.reply(Channel.TELEGRAM, "sent", sent.messages)
            self.metrics.reply(Channel.TELEGRAM, "edited", sent.edits)

    def _lang(self, update: object) -> str:
        return _lang(update, self.settings.app.language)

    async def _say(self, update: Update, key: str, **kw: Any) -> None:
        chat = update.effective_chat
        if chat is not None:
            await self.renderer.bot.send_message(
                chat_id=chat.id, text=catalogue.t(key, self._lang(update), **kw)
            )

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        ctx: dict[str, Any] = {}
        if isinstance(update, Update):
            ctx = {
                "update_id": update.update_id,
                "chat": update.effective_chat.id if update.effective_chat else None,
                "user": update.effective_user.id if update.effective_user else None,
                "kind": "callback" if update.callback_query else "message",
            }
        log.error("telegram handler failed %s", ctx, exc_info=context.error, extra=ctx)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(
                    chat_id=update.effective_chat.id,
                    text=catalogue.t("engine.error", _lang(update, self.settings.app.language)),
                )
            except Exception as exc:  # the apology itself may fail (network down): logged, the bot goes on
                log.warning("apology not sent: %s", exc)


def _with_choice(update: Update, value: str) -> Update:
    """The same update with the callback data replaced by the full choice value (long values)."""
    if update.callback_query is None or update.callback_query.data == value:
        return update
    data = update.to_dict()
    data["callback_query"]["data"] = value
    return Update.de_json(data, update.get_bot())


def build_application(
    settings: Settings,
    engine: Engine,
    *,
    metrics: Metrics | None = None,
    request: BaseRequest | None = None,
    rate_limiter: bool = True,
    polling: bool = True,
    concurrency: int = 256,
) -> Application:
    """The PTB Application for `settings.telegram` (token, base_url, base_file_url), with our handler.

    `request` replaces the HTTP client (the bench answers API calls in memory; otherwise the one
    `telegram.http` names, bot.telegram.request.build_request); `rate_limiter` adds
    PTB's AIORateLimiter (30/s overall, 20/min per group, retries on RetryAfter); `polling=False` builds
    it without an Updater (webhook mode: bot/web.py stores updates in the inbox, `inbox_handler` runs them).
    """
    assert settings.telegram.token is not None
    builder = (
        Application.builder()
        .token(settings.telegram.token.get_secret_value())
        .base_url(settings.telegram.base_url)
        .base_file_url(settings.telegram.base_file_url)
        .concurrent_updates(ChatOrderedProcessor(concurrency))
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        http = settings.telegram.http
        builder = builder.request(
            build_request(
                http, connection_pool_size=64, read_timeout=30, write_timeout=60, connect_timeout=10
            )
        ).get_updates_request(build_request(http, connection_pool_size=2, read_timeout=40))
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    renderer = Renderer(application.bot)
    handlers = TelegramHandlers(settings, engine, renderer, metrics or Metrics())
    application.bot_data["handlers"] = handlers
    application.add_handler(TypeHandler(Update, handlers.on_update))
    application.add_error_handler(handlers.on_error)
    return application


def inbox_handler(application: Application) -> Callable[[InboxMessage], Awaitable[None]]:
    """The inbox worker's handler for Channel.TELEGRAM: a stored update goes through the Application as a
    polled one does (our handler, then the error handler when it raises), in the worker's order."""

    async def handle(row: InboxMessage) -> None:
        await application.process_update(Update.de_json(row.body, application.bot))

    return handle


def delivery_request(
    settings: Settings,
    *,
    read_timeout: float | None = 30.0,
    write_timeout: float | None = 60.0,
    connect_timeout: float | None = 10.0,
    pool_timeout: float | None = 1.0,
) -> BaseRequest:
    """The outbox sender's HTTP client (`telegram.http`): one connection per send in flight
    (`delivery.concurrency`), so a send never waits for a connection."""
    return build_request(
        settings.telegram.http,
        connection_pool_size=settings.delivery.concurrency,
        read_timeout=read_timeout,
        write_timeout=write_timeout,
        connect_timeout=connect_timeout,
        pool_timeout=pool_timeout,
    )


def delivery_bot(settings: Settings, request: BaseRequest | None = None) -> Bot:
    """A Bot without PTB's rate limiter for the outbox sender: the dispatcher paces under the same limits
    and retries itself, so a 429 must come back at once as RATE_LIMITED instead of sleeping in PTB."""
    assert settings.telegram.token is not None
    return Bot(
        settings.telegram.token.get_secret_value(),
        base_url=settings.telegram.base_url,
        base_file_url=settings.telegram.base_file_url,
        request=request or delivery_request(settings),
    )


def handlers_of(application: Application) -> TelegramHandlers:
    return application.bot_data["handlers"]  # type: ignore[no-any-return]


def command_list(flows: FlowRegistry, lang: str, *, group: bool = False) -> list[BotCommand]:
    """The menu: each flow's first command with its summary, then the global commands."""
    commands: list[BotCommand] = []
    seen: set[str] = set()
    reporter_roles = {Role.WORKER, Role.KETUA_KSM, Role.BKM, Role.FASILITATOR}
    for flow in flows:
        name = flow.commands[0]
        if name in seen or (group and name not in GROUP_COMMANDS):
            continue
        if group and not (flow.roles & reporter_roles):
            continue
        seen.add(name)
        commands.append(BotCommand(name, catalogue.t(f"{flow.name}.summary", lang)[:256]))
    extra = ["daftarkan_grup", "batal", "bantuan"] if group else ["menu", "batal", "bantuan", "bahasa"]
    commands += [BotCommand(c, catalogue.t(f"telegram.cmd.{c}", lang)) for c in extra]
    return commands


async def set_commands(application: Application) -> None:
    """setMyCommands for private chats and for groups, in Indonesian (default) and English."""
    bot = application.bot
    flows = handlers_of(application).engine.flows
    for lang in ("id", "en"):
        code = None if lang == "id" else "en"
        try:
            await bot.set_my_commands(
                command_list(flows, lang), scope=BotCommandScopeAllPrivateChats(), language_code=code
            )
            await bot.set_my_commands(
                command_list(flows, lang, group=True),
                scope=BotCommandScopeAllGroupChats(),
                language_code=code,
            )
        except TelegramError as exc:
            log.warning("setMyCommands failed: %s", exc)
