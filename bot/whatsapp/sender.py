"""`WhatsAppSender`: the outbox dispatcher's port to WhatsApp. Never raises.

Inside the customer-service window (the person wrote less than `whatsapp.window_hours` ago) the messages
go out as they are; outside it, the approved template for the message's kind with its parameters, or
nothing (HELD, with the reason) when no template fits. Every send carries the tracker `outbox:<id>`, so
the status webhooks find the entry. Meta's answers:

| answer | SendResult |
| --- | --- |
| ok | SENT, `external_id` = the wamid |
| 131047 re-engagement (window closed) | HELD (reason recorded; released when the person writes) |
| 131026 undeliverable | PERMANENT, unreachable |
| 130429 throughput, 131056 pair rate | RATE_LIMITED with a pause |
| other throttling (4, 80007, 131048, 131064) | RATE_LIMITED with a longer pause |
| 368 blocked for policy, 131031 account locked | RATE_LIMITED, account_restricted (admins alerted) |
| 5xx, transient, network, timeout | RETRY |
| other 4xx | PERMANENT with Meta's message |
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import structlog
from pywa_async import WhatsApp
from pywa_async.errors import (
    AccountLocked,
    MessageUndeliverable,
    RateLimitHit,
    ReEngagementMessage,
    TemporarilyBlocked,
    ThrottlingError,
    TooManyMessages,
    WhatsAppError,
)
from pywa_async.types.templates import TemplateLanguage

from bot.whatsapp.convert import TRACKER_PREFIX
from bot.whatsapp.render import Renderer
from kotaku import clock
from kotaku.config import WhatsAppConfig
from kotaku.models import Channel
from kotaku.notify.ports import DeliveryContext, SendResult, SendStatus
from kotaku.notify.templates import Route, TemplateCall, graph_template, plan_delivery
from kotaku.schemas import Outbound

log = structlog.get_logger(__name__)

THROUGHPUT_PAUSE = 5.0  # 130429: Meta's throughput limit; a few seconds is enough
THROTTLED_PAUSE = 60.0  # app or account level limits
TRANSIENT_CODES = {1, 2, 131000, 131016}  # unknown error, service unavailable


def reason_of(exc: WhatsAppError) -> str:
    details = f": {exc.details}" if exc.details and exc.details not in exc.message else ""
    return f"{exc.code} {exc.message}{details}"[:500]


def result_of_error(exc: WhatsAppError, config: WhatsAppConfig) -> SendResult:
    """The SendResult for one of Meta's errors."""
    reason = reason_of(exc)
    if isinstance(exc, ReEngagementMessage):
        return SendResult(SendStatus.HELD, reason=reason)
    if isinstance(exc, MessageUndeliverable):
        return SendResult(SendStatus.PERMANENT, reason=reason, unreachable=True)
    if isinstance(exc, TemporarilyBlocked | AccountLocked):
        return SendResult(
            SendStatus.RATE_LIMITED,
            retry_after=config.restricted_pause_minutes * 60,
            reason=reason,
            account_restricted=True,
        )
    if isinstance(exc, RateLimitHit):
        return SendResult(SendStatus.RATE_LIMITED, retry_after=THROUGHPUT_PAUSE, reason=reason)
    if isinstance(exc, TooManyMessages):
        return SendResult(
            SendStatus.RATE_LIMITED, retry_after=max(2 * config.pair_seconds, THROUGHPUT_PAUSE), reason=reason
        )
    if isinstance(exc, ThrottlingError):
        return SendResult(SendStatus.RATE_LIMITED, retry_after=THROTTLED_PAUSE, reason=reason)
    status = exc.status_code
    if (status is not None and status >= 500) or exc.is_transient or exc.code in TRANSIENT_CODES:
        return SendResult(SendStatus.RETRY, reason=reason)
    return SendResult(SendStatus.PERMANENT, reason=reason)


def tracker_for(context: DeliveryContext | None) -> str | None:
    return f"{TRACKER_PREFIX}{context.outbox_id}" if context is not None else None


class WhatsAppSender:
    channel = Channel.WHATSAPP

    def __init__(
        self,
        wa: WhatsApp,
        config: WhatsAppConfig,
        *,
        renderer: Renderer | None = None,
        now: Callable[[], datetime] = clock.now,
    ) -> None:
        self.wa = wa
        self.config = config
        self.renderer = renderer or Renderer(wa)
        self.now = now

    async def send(
        self, recipient: str, messages: list[Outbound], context: DeliveryContext | None = None
    ) -> SendResult:
        plan = plan_delivery(self.config, context, self.now())
        tracker = tracker_for(context)
        try:
            if plan.route == Route.HOLD:
                kind = context.kind if context is not None else "?"
                return SendResult(SendStatus.HELD, reason=plan.reason or f"no template fits kind {kind}")
            wamid: str | None
            if plan.route == Route.TEMPLATE:
                assert plan.template is not None
                wamid = await self._template(recipient, plan.template, tracker)
            else:
                lang = context.language if context is not None else None
                wamid = (await self.renderer.render(recipient, messages, lang=lang, tracker=tracker)).last
        except WhatsAppError as exc:
            result = result_of_error(exc, self.config)
            log.info("whatsapp_send_refused", code=exc.code, status=result.status.value)
            return result
        except (httpx.TransportError, TimeoutError) as exc:  # network errors and timeouts
            return SendResult(SendStatus.RETRY, reason=f"{type(exc).__name__}: {exc}"[:500])
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            status = SendStatus.RETRY if code >= 500 else SendStatus.PERMANENT
            return SendResult(status, reason=f"HTTP {code}"[:500])
        except (ValueError, TypeError) as exc:  # pywa refused what we gave it (an invalid recipient ...)
            return SendResult(SendStatus.PERMANENT, reason=f"{type(exc).__name__}: {exc}"[:500])
        except Exception as exc:  # never raise: anything else is treated as transient
            log.exception("whatsapp_send_failed")
            return SendResult(SendStatus.RETRY, reason=f"{type(exc).__name__}: {exc}"[:500])
        return SendResult.ok(external_id=wamid)

    async def _template(self, recipient: str, call: TemplateCall, tracker: str | None) -> str:
        components = graph_template(call).get("components")
        sent = await self.wa.send_template(
            to=recipient,
            name=call.name,
            language=TemplateLanguage(call.language),
            params=components,
            tracker=tracker,
        )
        return str(sent.id)
