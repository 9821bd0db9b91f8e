"""A fake Meta Graph API (WhatsApp Cloud API) on 127.0.0.1 for tests: Starlette + uvicorn in a background
thread with its own event loop (like tests/fake_botapi.py), so a pywa client, in-process or inside a
`kotaku run` process, talks to it over real HTTP.

What pywa 4.5 sends (pywa/api.py, GraphAPI; pywa_async/api.py only makes the calls async). The httpx
session gets `base_url = https://graph.facebook.com/v{api_version}` (default v26.0) and the headers
`Authorization: Bearer <token>` and `User-Agent: PyWa/<version>`; endpoints are relative to it:

    POST   /v26.0/{phone_id}/messages   JSON {"messaging_product": "whatsapp", "recipient_type": "individual",
           "to": wa_id | "recipient": BSUID, "type": t, t: {...}, "context": {"message_id"}?,
           "biz_opaque_callback_data": tracker?}        -> {"messaging_product", "contacts": [{"input",
                                                           "wa_id" | "user_id"}], "messages": [{"id"}]}
           (send_message/send_text, send_image/document/audio/..., buttons and lists as type
           "interactive" with interactive.type "button" / "list", send_template as type "template";
           templates answer messages[0].message_status "accepted")
    POST   /v26.0/{phone_id}/messages   JSON {"messaging_product", "status": "read", "message_id"}
           (mark_message_as_read; + "typing_indicator": {"type": "text"} for indicate_typing)
                                                        -> {"success": true}
    POST   /v26.0/{phone_id}/media      multipart: file=(filename, bytes, mime), messaging_product=whatsapp,
           type=<mime> (upload_media; send_image(bytes/path) uploads first, then sends {"id"})
                                                        -> {"id": "<media id>"}
    GET    /v26.0/{media_id}            (get_media_url)  -> {"url", "mime_type", "sha256", "file_size", "id",
                                                           "messaging_product"}
    GET    <that url>                   with the same Authorization header, follow_redirects
           (get_media_bytes / download_media / stream_media; pywa calls res.raise_for_status(), so a
           failed download raises httpx.HTTPStatusError, NOT a WhatsAppError)
    DELETE /v26.0/{media_id}            (delete_media)   -> {"success": true}

An incoming media message's own `url` (Meta's lookaside.fbsbx.com link) is used directly by pywa while
it is under 5 minutes old; RewriteTransport also rewrites that host, and this fake serves
/whatsapp_business/attachments/?mid=<id> as well as /media/<id>.

Any answer >= 400 becomes `pywa.errors.WhatsAppError.from_dict(body["error"])` (a non-JSON body becomes
code = HTTP status, message = body text). The class is chosen by `error.code`:

    131047 re-engagement (outside 24 h)  -> pywa.errors.ReEngagementMessage (SendMessageError)
    131026 message undeliverable         -> pywa.errors.MessageUndeliverable (SendMessageError)
    130429 rate limit hit (throughput)   -> pywa.errors.RateLimitHit (ThrottlingError)
    131056 pair rate limit hit           -> pywa.errors.TooManyMessages (ThrottlingError)
    131048 spam rate limit hit           -> pywa.errors.SpamRateLimitHit (ThrottlingError)
    368    temporarily blocked (policy)  -> pywa.errors.TemporarilyBlocked (IntegrityError)
    131000 something went wrong          -> pywa.errors.UnknownError (SendMessageError)
    131049 healthy-ecosystem limit       -> pywa.errors.MessageUndeliverableDueToHealthyEcosystemEngagement
    131051/131052/131053 media & types   -> UnsupportedMessageType / MediaDownloadError / MediaUploadError
    131009 invalid parameter             -> pywa.errors.InvalidParameter (SendMessageError)
    132000/132001 template params/name   -> TemplateParamCountMismatch / TemplateNotExists
    190    bad/expired token (HTTP 401)  -> pywa.errors.ExpiredAccessToken (AuthorizationError)
    1, 2, 500s with a non-JSON body      -> pywa.errors.WhatsAppError itself (no subclass)
(`pywa_async.errors` re-exports the same classes; `err.status_code` is the HTTP status.)
Meta usually accepts a send (200 + wamid) and reports 131047/131026/131049 later in a FAILED status
webhook (`statuses[0].errors`; pywa: `MessageStatus.error`, same classes): `fail_next(..., via="webhook")`
and `close_window(..., via="webhook")` do that; pywa 4.5 only types that status if the webhook has a
`contacts` array (see tests/whatsapp_payloads.py).

Notes for the channel: pywa refuses an httpx client whose headers already hold an Authorization (one
AsyncClient per WhatsApp instance); the token check here is exact (`Bearer <token>`, else 401/190);
a path without the /vNN.N prefix answers 400/2500 like Meta.

Tests read every request (`requests`, `sent`, `sent_to`, `texts_to`, `interactive_to`, `templates_to`),
register media (`add_media`), make calls fail (`fail_next`, `fail_media_download`, `close_window`),
turn on rate limits (`Limits`), deliver signed webhooks to the bot (`deliver`, optionally automatic
status webhooks after each send: `auto_status`).

Fixtures: `fake_graph` (a started server) and `graph_client` (a pywa_async.WhatsApp wired to it through
RewriteTransport); `make_client(fake)` builds more clients. Run standalone with
`python -m tests.fake_graph --port 8089` (see main()).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import dataclasses
import hashlib
import itertools
import json
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.whatsapp_payloads import (
    APP_SECRET,
    ERRORS,
    PHONE_ID,
    VERIFY_TOKEN,
    is_bsuid,
    new_wamid,
    signed,
)
from tests.whatsapp_payloads import status as status_webhook

TOKEN = "EAAKotakuTestToken0123456789"
GRAPH_HOSTS = ("graph.facebook.com", "lookaside.fbsbx.com")
SEND_TYPES = {
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "template",
    "reaction",
}
MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
_VERSIONED = re.compile(r"^/(v\d+\.\d+)(/.*)?$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fbtrace_id() -> str:
    return "A" + base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")[:22]


def api_error_body(
    code: int,
    *,
    message: str | None = None,
    details: str | None = None,
    subcode: int | None = None,
    error_type: str = "OAuthException",
    is_transient: bool | None = None,
) -> dict[str, Any]:
    """Meta's error answer: {"error": {"message", "type", "code", "error_data", "error_subcode"?,
    "fbtrace_id"}} (the shape pywa.errors.WhatsAppError.from_dict reads)."""
    title, known_details = ERRORS.get(code, ("Unknown error", None))
    if message is None:
        message = title if code in (1, 2, 190) else f"(#{code}) {title}"
    err: dict[str, Any] = {"message": message, "type": error_type, "code": code}
    details = details or known_details
    if details and code != 190:
        err["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        err["error_subcode"] = subcode
    if is_transient is not None:
        err["is_transient"] = is_transient
    err["fbtrace_id"] = _fbtrace_id()
    return {"error": err}


# --- records ---------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class GraphRequest:
    """One request the fake received. `kind`: message, read, typing, upload, media_url, media_download,
    delete_media, unknown. `status` is 0 until the fake has answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    raw: bytes = b""
    at: float = 0.0
    kind: str = "unknown"
    status: int = 0
    response: Any = None

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def to(self) -> str | None:
        """The recipient of a send (`to`, or `recipient` when sent to a BSUID)."""
        if isinstance(self.json, dict):
            return self.json.get("to") or self.json.get("recipient")
        return None

    @property
    def type(self) -> str | None:
        return self.json.get("type") if isinstance(self.json, dict) else None

    @property
    def wamid(self) -> str | None:
        """The message id the fake answered for a successful send."""
        if self.kind == "message" and isinstance(self.response, dict) and "messages" in self.response:
            return str(self.response["messages"][0]["id"])
        return None

    @property
    def tracker(self) -> str | None:
        return self.json.get("biz_opaque_callback_data") if isinstance(self.json, dict) else None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["raw"] = len(self.raw)
        out["files"] = {
            k: {"filename": f.filename, "content_type": f.content_type, "size": len(f.content)}
            for k, f in self.files.items()
        }
        return out


@dataclass
class Failure:
    code: int
    http_status: int
    on: str = "messages"
    to: str | None = None
    message: str | None = None
    details: str | None = None
    subcode: int | None = None
    error_type: str = "OAuthException"
    is_transient: bool | None = None
    via: str = "response"
    body: bytes | None = None

    def response(self) -> Response:
        if self.body is not None:
            return Response(self.body, self.http_status, media_type="text/html")
        body = api_error_body(
            self.code,
            message=self.message,
            details=self.details,
            subcode=self.subcode,
            error_type=self.error_type,
            is_transient=self.is_transient,
        )
        return JSONResponse(body, self.http_status, headers={"www-authenticate": "OAuth"})


@dataclass
class Limits:
    """Meta's limits, off by default: `pair_seconds` (one message per recipient per N seconds, else
    131056) and `per_second` (sends per second across recipients, else 130429)."""

    pair_seconds: float | None = None
    per_second: float | None = None


@dataclass
class StoredMedia:
    id: str
    content: bytes
    mime_type: str
    filename: str | None = None
    uploaded: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


# --- the transport ---------------------------------------------------------------------------------------


class RewriteTransport(httpx.AsyncBaseTransport):
    """Send what goes to graph.facebook.com (and Meta's media host lookaside.fbsbx.com) to `base_url`
    instead, keeping the path and query; everything else goes out unchanged.

        session = httpx.AsyncClient(transport=RewriteTransport(fake.base_url), timeout=10)
        wa = pywa_async.WhatsApp(phone_id=..., token=..., session=session)

    A path in `base_url` is put in front (http://host:port/graph + /v26.0/... ).
    """

    def __init__(
        self,
        base_url: str,
        *,
        hosts: Iterable[str] = GRAPH_HOSTS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.target = httpx.URL(base_url)
        self.hosts = set(hosts)
        self._inner = transport or httpx.AsyncHTTPTransport()

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
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_client(
    fake: FakeGraph,
    *,
    phone_id: str | None = None,
    token: str | None = None,
    app_secret: str | None = APP_SECRET,
    verify_token: str | None = VERIFY_TOKEN,
    timeout: float = 10.0,
    **kwargs: Any,
) -> Any:
    """A pywa_async.WhatsApp whose requests reach `fake` (no server, no callback registration: no network
    at construction). Close with `await client.api._session.aclose()`."""
    from pywa_async import WhatsApp

    session = httpx.AsyncClient(transport=RewriteTransport(fake.base_url), timeout=timeout)
    return WhatsApp(
        phone_id=phone_id or fake.phone_id,
        token=token or fake.token or TOKEN,
        session=session,
        server=None,
        verify_token=verify_token,
        app_secret=app_secret,
        **kwargs,
    )


# --- the server ------------------------------------------------------------------------------------------


@dataclass
class FakeGraph:
    token: str | None = TOKEN
    phone_id: str = PHONE_ID
    port: int = 0
    strict: bool = True
    limits: Limits = field(default_factory=Limits)
    webhook_url: str | None = None
    app_secret: str = APP_SECRET
    auto_status: tuple[str, ...] = ()
    requests: list[GraphRequest] = field(default_factory=list)
    media: dict[str, StoredMedia] = field(default_factory=dict)
    deliveries: list[tuple[dict[str, Any], int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self._lock = threading.Lock()
        self._failures: list[Failure] = []
        self._download_failures: list[tuple[str | None, int]] = []
        self._closed_windows: dict[str, str] = {}
        self._pair_last: dict[str, float] = {}
        self._window: collections.deque[float] = collections.deque()
        self._media_ids = itertools.count(10**15 + int(time.time()) * 1000)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    # --- addresses ----------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What replaces https://graph.facebook.com (config `whatsapp.base_url`)."""
        return self.root

    def media_url(self, media_id: str) -> str:
        return f"{self.root}/media/{media_id}"

    @staticmethod
    def lookaside_url(media_id: str) -> str:
        """A Meta-looking media URL (as in media webhooks); reaches this fake through RewriteTransport."""
        return (
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/"
            f"?mid={media_id}&source=webhook&ext={int(time.time())}&hash=AR{secrets.token_urlsafe(18)}"
        )

    # --- lifecycle ----------------------------------------------------------------------------------

    def app(self) -> Starlette:
        methods = ["GET", "POST", "DELETE", "PUT"]
        return Starlette(routes=[Route("/{path:path}", self._handle, methods=methods)])

    def start(self) -> FakeGraph:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            loop.call_soon(ready.set)
            assert self._server is not None
            try:
                loop.run_until_complete(self._server.serve())
                loop.run_until_complete(self._drain())
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name="fake-graph", daemon=True)
        self._thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Graph API did not start")
            time.sleep(0.01)
        return self

    async def _drain(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeGraph:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests set up ----------------------------------------------------------------------------

    def add_media(
        self,
        media_id: str | None,
        content: bytes,
        mime_type: str = "image/jpeg",
        *,
        filename: str | None = None,
    ) -> str:
        """Make `media_id` (None: a new one) downloadable; returns the id."""
        media_id = media_id or str(next(self._media_ids))
        with self._lock:
            self.media[media_id] = StoredMedia(media_id, content, mime_type, filename)
        return media_id

    def fail_next(
        self,
        code: int,
        http_status: int = 400,
        *,
        to: str | None = None,
        times: int = 1,
        on: str = "messages",
        message: str | None = None,
        details: str | None = None,
        subcode: int | None = None,
        error_type: str = "OAuthException",
        is_transient: bool | None = None,
        via: str = "response",
        body: bytes | str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with Meta error `code`.

        on: "messages" (sends, not read marks), "read" (read/typing marks), "upload", "media_url", "any".
        to: only sends to this wa_id/BSUID. body: a raw non-JSON body instead (e.g. a 502 proxy page).
        via="webhook": accept the send (200, a wamid) and deliver a FAILED status webhook with `code`
        to `webhook_url` instead - how Meta reports 131047/131026 for messages it accepted.
        """
        if via not in ("response", "webhook"):
            raise ValueError("via must be 'response' or 'webhook'")
        if via == "webhook" and not self.webhook_url:
            raise ValueError("via='webhook' needs webhook_url")
        if on not in ("messages", "read", "upload", "media_url", "any"):
            raise ValueError(f"unknown on={on!r}")
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            for _ in range(times):
                self._failures.append(
                    Failure(
                        code,
                        http_status,
                        on,
                        to,
                        message,
                        details,
                        subcode,
                        error_type,
                        is_transient,
                        via,
                        raw,
                    )
                )

    def fail_media_download(
        self, times: int = 1, http_status: int = 500, media_id: str | None = None
    ) -> None:
        """The next `times` downloads of media bytes (of `media_id`, or any) answer `http_status`."""
        with self._lock:
            self._download_failures.extend([(media_id, http_status)] * times)

    def close_window(self, wa_id: str, *, via: str = "response") -> None:
        """Until open_window(): non-template sends to `wa_id` fail with 131047 (via the response, or via a
        failed status webhook after a 200 as Meta usually does)."""
        if via == "webhook" and not self.webhook_url:
            raise ValueError("via='webhook' needs webhook_url")
        with self._lock:
            self._closed_windows[wa_id] = via

    def open_window(self, wa_id: str) -> None:
        with self._lock:
            self._closed_windows.pop(wa_id, None)

    def reset(self) -> None:
        """Forget requests, deliveries, pending failures and closed windows (keeps media)."""
        with self._lock:
            self.requests.clear()
            self.deliveries.clear()
            self._failures.clear()
            self._download_failures.clear()
            self._closed_windows.clear()
            self._pair_last.clear()
            self._window.clear()

    # --- reading what the bot did --------------------------------------------------------------------

    def requests_of(self, kind: str) -> list[GraphRequest]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind]

    def sent(self, to: str | None = None) -> list[GraphRequest]:
        """Successful message sends (to one wa_id or BSUID)."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.kind == "message" and r.status == 200 and (to is None or r.to == str(to))
            ]

    def sent_to(self, wa_id: str) -> list[dict[str, Any]]:
        """The JSON bodies of the successful sends to `wa_id` (or a BSUID), oldest first."""
        return [r.json for r in self.sent(wa_id)]

    def texts_to(self, wa_id: str) -> list[str]:
        """One string per send: text body, interactive body text, media caption ("" without), template
        body parameters joined by newlines."""
        return [self.text_of(body) for body in self.sent_to(wa_id)]

    @staticmethod
    def text_of(body: dict[str, Any]) -> str:
        typ = str(body.get("type", ""))
        obj = body.get(typ) or {}
        if typ == "text":
            return str(obj.get("body", ""))
        if typ == "interactive":
            return str((obj.get("body") or {}).get("text", ""))
        if typ in MEDIA_TYPES:
            return str(obj.get("caption") or "")
        if typ == "template":
            return "\n".join(
                str(p.get("text", ""))
                for c in obj.get("components") or []
                for p in c.get("parameters") or []
                if p.get("type") == "text"
            )
        return ""

    def interactive_to(self, wa_id: str) -> list[dict[str, Any]]:
        return [b["interactive"] for b in self.sent_to(wa_id) if b.get("type") == "interactive"]

    def templates_to(self, wa_id: str) -> list[dict[str, Any]]:
        return [b["template"] for b in self.sent_to(wa_id) if b.get("type") == "template"]

    def media_to(self, wa_id: str, typ: str | None = None) -> list[dict[str, Any]]:
        """The media objects ({"id"|"link", "caption"?, "filename"?}) sent to `wa_id`."""
        return [
            b[b["type"]]
            for b in self.sent_to(wa_id)
            if b.get("type") in MEDIA_TYPES and (typ is None or b["type"] == typ)
        ]

    def last_buttons(self, wa_id: str) -> list[dict[str, str]]:
        """[{"id", "title"}] of the last reply-button message sent to `wa_id`."""
        for r in reversed(self.sent(wa_id)):
            inter = r.json.get("interactive") or {}
            if inter.get("type") == "button":
                return [b["reply"] for b in inter["action"]["buttons"]]
        raise AssertionError(f"no buttons sent to {wa_id}")

    def last_rows(self, wa_id: str) -> list[dict[str, str]]:
        """[{"id", "title", "description"?}] of the last list message sent to `wa_id`."""
        for r in reversed(self.sent(wa_id)):
            inter = r.json.get("interactive") or {}
            if inter.get("type") == "list":
                return [row for s in inter["action"]["sections"] for row in s["rows"]]
        raise AssertionError(f"no list sent to {wa_id}")

    def button(self, wa_id: str, label: str) -> tuple[str, str, str]:
        """(reply id, title, wamid of our message) of the button whose title contains `label` in the last
        button message to `wa_id`: feed it to whatsapp_payloads.button_reply(wa_id, id, title,
        context_wamid=wamid)."""
        for r in reversed(self.sent(wa_id)):
            inter = r.json.get("interactive") or {}
            if inter.get("type") == "button":
                for b in inter["action"]["buttons"]:
                    if label.lower() in b["reply"]["title"].lower():
                        return b["reply"]["id"], b["reply"]["title"], str(r.wamid)
                break
        raise AssertionError(f"no button {label!r} in the last buttons sent to {wa_id}")

    def row(self, wa_id: str, label: str) -> tuple[str, str, str]:
        """(row id, title, wamid of our message) of the list row whose title contains `label`."""
        for r in reversed(self.sent(wa_id)):
            inter = r.json.get("interactive") or {}
            if inter.get("type") == "list":
                for row in (row for s in inter["action"]["sections"] for row in s["rows"]):
                    if label.lower() in row["title"].lower():
                        return row["id"], row["title"], str(r.wamid)
                break
        raise AssertionError(f"no row {label!r} in the last list sent to {wa_id}")

    def read_marks(self) -> list[str]:
        """Message ids marked as read (with or without a typing indicator)."""
        with self._lock:
            return [
                str(r.json.get("message_id"))
                for r in self.requests
                if r.kind in ("read", "typing") and r.status == 200
            ]

    def uploads(self) -> list[UploadedFile]:
        with self._lock:
            return [r.files["file"] for r in self.requests if r.kind == "upload" and r.status == 200]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Poll (from a test thread) until `predicate()` is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
            time.sleep(0.02)

    async def await_for(self, predicate: Callable[[], Any], wait: float = 10.0) -> Any:
        """The same from an event loop."""
        deadline = time.monotonic() + wait
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {wait}s waiting for {predicate}")
            await asyncio.sleep(0.02)

    # --- webhooks to the bot ---------------------------------------------------------------------------

    def deliver(self, payload: dict[str, Any], url: str | None = None) -> int:
        """POST a signed webhook (X-Hub-Signature-256 with `app_secret`) to the bot, from a test thread;
        returns the HTTP status."""
        body, headers = signed(payload, self.app_secret)
        target = url or self.webhook_url
        if not target:
            raise ValueError("no webhook_url")
        res = httpx.post(target, content=body, headers=headers, timeout=10)
        with self._lock:
            self.deliveries.append((payload, res.status_code))
        return res.status_code

    async def adeliver(self, payload: dict[str, Any], url: str | None = None) -> int:
        """The same from an event loop."""
        body, headers = signed(payload, self.app_secret)
        target = url or self.webhook_url
        if not target:
            raise ValueError("no webhook_url")
        async with httpx.AsyncClient(timeout=10) as client:
            res = await client.post(target, content=body, headers=headers)
        with self._lock:
            self.deliveries.append((payload, res.status_code))
        return res.status_code

    def _schedule(self, payloads: list[dict[str, Any]]) -> None:
        async def run() -> None:
            await asyncio.sleep(0.05)  # let the send's answer reach the bot first
            if self._http is None:
                self._http = httpx.AsyncClient(timeout=10)
            for payload in payloads:
                body, headers = signed(payload, self.app_secret)
                code = 0
                with contextlib.suppress(httpx.HTTPError):
                    assert self.webhook_url is not None
                    code = (
                        await self._http.post(self.webhook_url, content=body, headers=headers)
                    ).status_code
                with self._lock:
                    self.deliveries.append((payload, code))

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- request handling -------------------------------------------------------------------------------

    async def _record(self, request: Request, path: str) -> GraphRequest:
        rec = GraphRequest(
            method=request.method,
            path=path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            at=time.monotonic(),
        )
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            for key, value in form.multi_items():
                if isinstance(value, str):
                    rec.form[key] = value
                else:
                    rec.files[key] = UploadedFile(value.filename, value.content_type, await value.read())
        else:
            rec.raw = await request.body()
            if rec.raw and (ctype.startswith("application/json") or rec.raw[:1] in (b"{", b"[")):
                try:
                    rec.json = json.loads(rec.raw)
                except ValueError:
                    rec.json = None
        return rec

    async def _handle(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        if path.startswith("/_fake/"):
            return await self._control(request, path)
        rec = await self._record(request, path)
        with self._lock:
            self.requests.append(rec)
        response = self._route(rec)
        if isinstance(response, JSONResponse):
            rec.response = json.loads(bytes(response.body))
        rec.status = response.status_code  # last: readers skip requests still being answered (status 0)
        return response

    def _error(self, rec: GraphRequest, http_status: int, code: int, **kw: Any) -> JSONResponse:
        return JSONResponse(api_error_body(code, **kw), http_status)

    def _authorized(self, rec: GraphRequest) -> bool:
        return self.token is None or rec.authorization == f"Bearer {self.token}"

    def _route(self, rec: GraphRequest) -> Response:
        path, method = rec.path, rec.method
        if path.startswith("/media/") or path.rstrip("/") == "/whatsapp_business/attachments":
            rec.kind = "media_download"
            media_id = (
                path.removeprefix("/media/") if path.startswith("/media/") else rec.query.get("mid", "")
            )
            return self._download(rec, media_id)
        if not self._authorized(rec):
            return self._error(rec, 401, 190)
        m = _VERSIONED.match(path)
        parts = [p for p in (m.group(2) or "").split("/") if p] if m else []
        if m and method == "POST" and len(parts) == 2 and parts[1] == "messages":
            return self._messages(rec, parts[0])
        if m and method == "POST" and len(parts) == 2 and parts[1] == "media":
            return self._upload(rec, parts[0])
        if m and method == "GET" and len(parts) == 1:
            rec.kind = "media_url"
            return self._media_url(rec, parts[0])
        if m and method == "DELETE" and len(parts) == 1:
            rec.kind = "delete_media"
            with self._lock:
                found = self.media.pop(parts[0], None)
            if found is None:
                return self._no_object(rec, parts[0], "delete")
            return JSONResponse({"success": True})
        return self._error(rec, 400, 2500, message=f"Unknown path components: {path}")

    def _no_object(self, rec: GraphRequest, object_id: str, verb: str) -> JSONResponse:
        return self._error(
            rec,
            400,
            100,
            subcode=33,
            error_type="GraphMethodException",
            message=(
                f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded "
                "due to missing permissions, or does not support this operation. Please read the Graph API "
                "documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )

    def _take_failure(self, on: str, to: str | None) -> Failure | None:
        with self._lock:
            for i, f in enumerate(self._failures):
                if (f.on == on or f.on == "any") and (f.to is None or f.to == to):
                    return self._failures.pop(i)
        return None

    def _messages(self, rec: GraphRequest, phone_id: str) -> Response:
        body = rec.json
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            rec.kind = "message"
            return self._error(rec, 400, 100, message="(#100) The parameter messaging_product is required.")
        if phone_id != self.phone_id:
            rec.kind = "message"
            return self._no_object(rec, phone_id, "post")
        if body.get("status") == "read":
            rec.kind = "typing" if "typing_indicator" in body else "read"
            failure = self._take_failure("read", None)
            if failure is not None:
                return failure.response()
            if not body.get("message_id"):
                return self._error(rec, 400, 100, message="(#100) The parameter message_id is required.")
            return JSONResponse({"success": True})
        rec.kind = "message"
        to = rec.to
        if not to:
            return self._error(rec, 400, 100, message="(#100) The parameter to is required.")
        problem = self._validate(body) if self.strict else None
        if problem is not None:
            code, details = problem
            return self._error(rec, 400, code, details=details)
        failure = self._take_failure("messages", to)
        if failure is not None and failure.via == "response":
            return failure.response()
        with self._lock:
            window = self._closed_windows.get(to) if body.get("type") != "template" else None
        if window == "response":
            return self._error(rec, 400, 131047)
        limited = self._rate_limited(to)
        if limited is not None:
            return self._error(rec, 400, limited)
        wamid = new_wamid(to, outgoing=True)
        contact = {"input": to, "user_id": to} if is_bsuid(to) else {"input": to, "wa_id": to.lstrip("+")}
        message: dict[str, Any] = {"id": wamid}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        answer = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}
        tracker = body.get("biz_opaque_callback_data")
        if failure is not None or window == "webhook":
            code = failure.code if failure is not None else 131047
            self._schedule([status_webhook(wamid, "failed", tracker=tracker, recipient=to, errors=code)])
        elif self.auto_status and self.webhook_url:
            self._schedule(
                [status_webhook(wamid, s, tracker=tracker, recipient=to) for s in self.auto_status]
            )
        return JSONResponse(answer)

    def _rate_limited(self, to: str) -> int | None:
        now = time.monotonic()
        lim = self.limits
        with self._lock:
            if lim.per_second:
                while self._window and self._window[0] <= now - 1.0:
                    self._window.popleft()
                if len(self._window) >= lim.per_second:
                    return 130429
            if lim.pair_seconds:
                last = self._pair_last.get(to)
                if last is not None and now - last < lim.pair_seconds:
                    return 131056
                self._pair_last[to] = now
            if lim.per_second:
                self._window.append(now)
        return None

    def _validate(self, body: dict[str, Any]) -> tuple[int, str] | None:
        """Meta's checks that matter for rendering (limits from the Cloud API reference)."""
        if not (body.get("to") or body.get("recipient")):
            return 100, "The parameter to is required."
        typ = body.get("type", "text")
        if typ not in SEND_TYPES:
            return 100, f"Param type must be one of {sorted(SEND_TYPES)}"
        obj = body.get(typ)
        if not isinstance(obj, dict):
            return 100, f"The parameter {typ} is required."
        if typ == "text":
            text = obj.get("body") or ""
            if not text.strip():
                return 100, "Param text['body'] is required and must be non-empty."
            if len(text) > 4096:
                return 100, "Param text['body'] must be at most 4096 characters long."
        elif typ in MEDIA_TYPES:
            if ("id" in obj) == ("link" in obj):
                return 131009, f"Exactly one of {typ}['id'] or {typ}['link'] is required."
            if len(obj.get("caption") or "") > 1024:
                return 131009, "Caption length invalid. Max length: 1024"
        elif typ == "interactive":
            return self._validate_interactive(obj)
        elif typ == "template" and not (obj.get("name") and (obj.get("language") or {}).get("code")):
            return 100, "Param template['name'] and template['language']['code'] are required."
        return None

    @staticmethod
    def _validate_interactive(obj: dict[str, Any]) -> tuple[int, str] | None:
        itype = obj.get("type")
        body_text = (obj.get("body") or {}).get("text") or ""
        if len(body_text) > 1024:
            return 131009, "Body text length invalid. Max length: 1024"
        header = obj.get("header") or {}
        if header.get("type") == "text" and len(header.get("text") or "") > 60:
            return 131009, "Header text length invalid. Max length: 60"
        if len((obj.get("footer") or {}).get("text") or "") > 60:
            return 131009, "Footer text length invalid. Max length: 60"
        action = obj.get("action") or {}
        if itype in ("button", "list") and not body_text:
            return 100, "The parameter interactive['body'] is required."
        if itype == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                return 131009, "Number of buttons invalid. Min: 1, Max: 3"
            ids = [b.get("reply", {}).get("id", "") for b in buttons]
            if len(set(ids)) != len(ids):
                return 131009, "Button IDs must be unique."
            for b in buttons:
                reply = b.get("reply") or {}
                if not 1 <= len(reply.get("title") or "") <= 20:
                    return 131009, "Button title length invalid. Min length: 1, Max length: 20"
                if not 1 <= len(reply.get("id") or "") <= 256:
                    return 131009, "Button ID length invalid. Min length: 1, Max length: 256"
        elif itype == "list":
            if not 1 <= len(action.get("button") or "") <= 20:
                return 131009, "Button text length invalid. Min length: 1, Max length: 20"
            sections = action.get("sections") or []
            rows = [row for s in sections for row in s.get("rows") or []]
            if not 1 <= len(sections) <= 10:
                return 131009, "Number of sections invalid. Min: 1, Max: 10"
            if not 1 <= len(rows) <= 10:
                return 131009, "Total row count exceed max allowed count: 10"
            if len(sections) > 1 and not all(s.get("title") for s in sections):
                return 131009, "Section title is required when there is more than one section."
            if any(len(s.get("title") or "") > 24 for s in sections):
                return 131009, "Section title length invalid. Max length: 24"
            ids = [row.get("id", "") for row in rows]
            if len(set(ids)) != len(ids):
                return 131009, "Row IDs must be unique."
            for row in rows:
                if not 1 <= len(row.get("title") or "") <= 24:
                    return 131009, "Row title length invalid. Min length: 1, Max length: 24"
                if len(row.get("description") or "") > 72:
                    return 131009, "Row description length invalid. Max length: 72"
                if not 1 <= len(row.get("id") or "") <= 200:
                    return 131009, "Row ID length invalid. Min length: 1, Max length: 200"
        return None

    def _upload(self, rec: GraphRequest, phone_id: str) -> Response:
        rec.kind = "upload"
        if phone_id != self.phone_id:
            return self._no_object(rec, phone_id, "post")
        failure = self._take_failure("upload", None)
        if failure is not None:
            return failure.response()
        if rec.form.get("messaging_product") != "whatsapp":
            return self._error(rec, 400, 100, message="(#100) The parameter messaging_product is required.")
        upload = rec.files.get("file")
        if upload is None:
            return self._error(rec, 400, 100, message="(#100) The parameter file is required.")
        mime = rec.form.get("type") or upload.content_type or "application/octet-stream"
        media_id = str(next(self._media_ids))
        with self._lock:
            self.media[media_id] = StoredMedia(media_id, upload.content, mime, upload.filename, uploaded=True)
        return JSONResponse({"id": media_id})

    def _media_url(self, rec: GraphRequest, media_id: str) -> Response:
        failure = self._take_failure("media_url", None)
        if failure is not None:
            return failure.response()
        with self._lock:
            found = self.media.get(media_id)
        if found is None:
            return self._no_object(rec, media_id, "get")
        return JSONResponse(
            {
                "url": self.media_url(media_id),
                "mime_type": found.mime_type,
                "sha256": found.sha256,
                "file_size": len(found.content),
                "id": media_id,
                "messaging_product": "whatsapp",
            }
        )

    def _download(self, rec: GraphRequest, media_id: str) -> Response:
        if not self._authorized(rec):
            return Response("Unauthorized", 401, media_type="text/plain")
        with self._lock:
            for i, (target, code) in enumerate(self._download_failures):
                if target is None or target == media_id:
                    self._download_failures.pop(i)
                    return Response(f"HTTP {code}", code, media_type="text/plain")
            found = self.media.get(media_id)
        if found is None:
            return Response("Not Found", 404, media_type="text/plain")
        headers = {}
        if found.filename:
            headers["content-disposition"] = f'attachment; filename="{found.filename}"'
        return Response(found.content, media_type=found.mime_type, headers=headers)

    # --- control endpoints (for `python -m tests.fake_graph`) -------------------------------------------

    async def _control(self, request: Request, path: str) -> Response:
        """GET /_fake/requests; POST /_fake/media {"media_id"?, "mime_type", "content_b64", "filename"?};
        POST /_fake/fail {fail_next kwargs}; POST /_fake/fail_media_download {times, http_status, media_id};
        POST /_fake/reset."""
        if path == "/_fake/requests" and request.method == "GET":
            with self._lock:
                return JSONResponse([r.to_dict() for r in self.requests])
        data = json.loads(await request.body() or b"{}")
        if path == "/_fake/media" and request.method == "POST":
            content = base64.b64decode(data.pop("content_b64"))
            media_id = self.add_media(data.pop("media_id", None), content, **data)
            return JSONResponse({"id": media_id})
        if path == "/_fake/fail" and request.method == "POST":
            self.fail_next(**data)
            return JSONResponse({"ok": True})
        if path == "/_fake/fail_media_download" and request.method == "POST":
            self.fail_media_download(**data)
            return JSONResponse({"ok": True})
        if path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return JSONResponse({"ok": True})
        return JSONResponse({"error": "unknown control path"}, 404)


# --- pytest fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """A started FakeGraph (token TOKEN, phone id whatsapp_payloads.PHONE_ID). Import it into a test module:
    `from tests.fake_graph import fake_graph  # noqa: F401`."""
    with FakeGraph() as server:
        yield server


@pytest.fixture
async def graph_client(fake_graph: FakeGraph) -> AsyncIterator[Any]:
    """A pywa_async.WhatsApp sending to `fake_graph`."""
    client = make_client(fake_graph)
    try:
        yield client
    finally:
        await client.api._session.aclose()


# --- standalone ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT/SIGTERM: `python -m tests.fake_graph --port 8089 [--token T] [--phone-id P]
    [--webhook-url URL --app-secret S --auto-status sent,delivered] [--no-token] [--lenient]`. Prints
    `FAKE_GRAPH_URL=<base url>`; inspect and steer it through /_fake/* (see FakeGraph._control)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_graph")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument("--no-token", action="store_true", help="accept any Authorization")
    parser.add_argument("--phone-id", default=PHONE_ID)
    parser.add_argument("--webhook-url")
    parser.add_argument("--app-secret", default=APP_SECRET)
    parser.add_argument("--auto-status", default="")
    parser.add_argument("--lenient", action="store_true", help="skip payload validation")
    args = parser.parse_args(argv)
    fake = FakeGraph(
        token=None if args.no_token else args.token,
        phone_id=args.phone_id,
        port=args.port,
        strict=not args.lenient,
        webhook_url=args.webhook_url,
        app_secret=args.app_secret,
        auto_status=tuple(s for s in args.auto_status.split(",") if s),
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with fake:
        print(f"FAKE_GRAPH_URL={fake.base_url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
