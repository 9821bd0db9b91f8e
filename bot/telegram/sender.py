"""`TelegramSender`: the outbox dispatcher's port to Telegram. Never raises for delivery problems.

403 Forbidden (blocked, kicked) -> PERMANENT and unreachable (the dispatcher marks the identity);
429 RetryAfter -> RATE_LIMITED with retry_after; network errors, timeouts and 5xx -> RETRY;
other 400s (chat not found ...) -> PERMANENT.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.telegram.render import Renderer
from kotaku.models import Channel
from kotaku.notify.ports import DeliveryContext, SendResult, SendStatus
from kotaku.schemas import Outbound

log = logging.getLogger(__name__)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2+: int now, timedelta in a future major version
        warnings.simplefilter("ignore")
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


class TelegramSender:
    channel = Channel.TELEGRAM

    def __init__(
        self,
        bot: Bot,  # without a rate limiter (bot.telegram.app.delivery_bot): the dispatcher paces and retries
        *,
        renderer: Renderer | None = None,
    ) -> None:
        self.bot = bot
        self.renderer = renderer or Renderer(bot)

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult:
        try:
            await self.renderer.render(recipient, messages)
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            return SendResult(SendStatus.RATE_LIMITED, retry_after=wait, reason=f"429 retry_after={wait:g}")
        except Forbidden as exc:
            return SendResult(SendStatus.PERMANENT, reason=f"403 {exc.message}"[:500], unreachable=True)
        except ChatMigrated as exc:
            return SendResult(SendStatus.PERMANENT, reason=f"chat migrated to {exc.new_chat_id}")
        except (BadRequest, InvalidToken) as exc:
            return SendResult(SendStatus.PERMANENT, reason=f"400 {exc.message}"[:500])
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            return SendResult(SendStatus.RETRY, reason=f"{type(exc).__name__}: {exc.message}"[:500])
        except TelegramError as exc:
            return SendResult(SendStatus.RETRY, reason=f"{type(exc).__name__}: {exc.message}"[:500])
        return SendResult.ok()
