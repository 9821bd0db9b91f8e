"""The pywa client for the channel: `pywa_async.WhatsApp` with no server and no webhook registration (we
serve the webhook ourselves in bot/web.py and parse updates ourselves), on an httpx session whose
transport sends Meta's hosts to `whatsapp.base_url` when it is not the default.

pywa sets its session's base URL to https://graph.facebook.com/v{version} whatever we give it, so the
base URL cannot be configured on the session; it is applied underneath, in the transport. Constructing
the client makes no network call (pywa only talks to Meta at construction when given a callback URL).
"""

from __future__ import annotations

import httpx
from pywa_async import WhatsApp
from pywa_async import utils as wa_utils

from kotaku.config import Settings

DEFAULT_BASE_URL = "https://graph.facebook.com"
# The Graph API and the host media URLs point to (incoming media, `get_media_url`).
META_HOSTS = frozenset({"graph.facebook.com", "lookaside.fbsbx.com"})

TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # uploads of charts and large replies need more than 5 s
LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=30.0)


class BaseURLTransport(httpx.AsyncBaseTransport):
    """Requests to Meta's hosts go to `base_url` instead: its scheme, host and port, its path put in front
    of the request's path (which is kept, with the query). Other requests go out unchanged."""

    def __init__(
        self,
        base_url: str,
        *,
        hosts: frozenset[str] = META_HOSTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.target = httpx.URL(base_url)
        self.hosts = hosts
        self.inner = transport or httpx.AsyncHTTPTransport(limits=LIMITS)

    def rewrite(self, url: httpx.URL) -> httpx.URL:
        if url.host not in self.hosts:
            return url
        prefix = self.target.raw_path.rstrip(b"/")
        return url.copy_with(
            scheme=self.target.scheme,
            host=self.target.host,
            port=self.target.port,
            raw_path=prefix + url.raw_path,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = self.rewrite(request.url)
        if url != request.url:
            request.url = url
            request.headers["Host"] = url.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def transport_for(base_url: str) -> httpx.AsyncBaseTransport:
    """The plain transport for Meta itself, the rewriting one for any other Graph API server."""
    if base_url.rstrip("/") == DEFAULT_BASE_URL:
        return httpx.AsyncHTTPTransport(limits=LIMITS)
    return BaseURLTransport(base_url)


def build_client(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> WhatsApp:
    """The client for `settings.whatsapp` (phone_id and token required). Close it with `close_client`.

    Signatures are checked (`webhook_update_validator`) only with an `app_secret`; production refuses to
    start without one (kotaku.config)."""
    cfg = settings.whatsapp
    assert cfg.phone_id and cfg.token is not None, "whatsapp.phone_id and whatsapp.token are required"
    session = httpx.AsyncClient(transport=transport or transport_for(cfg.base_url), timeout=TIMEOUT)
    app_secret = cfg.app_secret.get_secret_value() if cfg.app_secret else None
    return WhatsApp(
        phone_id=cfg.phone_id,
        token=cfg.token.get_secret_value(),
        session=session,
        server=None,
        verify_token=cfg.verify_token.get_secret_value() if cfg.verify_token else None,
        app_secret=app_secret,
        validate_updates=app_secret is not None,
        api_version=cfg.api_version or wa_utils.Version.GRAPH_API,
    )


def session_of(wa: WhatsApp) -> httpx.AsyncClient:
    return wa.api._session


async def close_client(wa: WhatsApp) -> None:
    await session_of(wa).aclose()
