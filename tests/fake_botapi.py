"""A fake Telegram Bot API server on 127.0.0.1 for tests: Starlette + uvicorn (HTTP/1.1 keep-alive) in a
background thread with its own event loop, so the bot under test (in-process or a `kotaku run` process)
talks to it over real HTTP.

It understands what python-telegram-bot sends (form-encoded and multipart POSTs; JSON-encoded values
for objects) and answers: getMe, getUpdates (long polling with offset/timeout), sendMessage,
editMessageText, editMessageReplyMarkup, answerCallbackQuery, sendPhoto, sendDocument, sendChatAction,
getFile and the file download under the file URL, setWebhook, deleteWebhook, getWebhookInfo,
setMyCommands, deleteMyCommands, close, logOut.

Tests inject updates (`message`, `callback`, `photo`, `document`, `location`, `voice`), read every
recorded call (`calls`, `sent`, `texts_to`), make the next calls fail (`fail_next`: 429 with
retry_after, 403, 400, 500), hold the calls to a method unanswered until released (`hold`, `release`)
and turn on rate limits (per chat per second, per group per minute, global per second) that answer 429
when broken.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456:TEST-TOKEN"
BOT_ID = 123456
BOT_USERNAME = "kotaku_test_bot"

SEND_METHODS = {"sendmessage", "sendphoto", "senddocument", "editmessagetext", "editmessagereplymarkup"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float
    status: int = 200
    result: Any = None


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    chat_id: str | None = None


@dataclass
class Limits:
    per_chat_per_second: float | None = None
    group_per_minute: float | None = None
    global_per_second: float | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _decode(value: Any) -> Any:
    """PTB sends objects and numbers JSON-encoded inside form fields; plain strings as they are."""
    if not isinstance(value, str):
        return value
    if value[:1] in "[{" or value in ("true", "false") or value.lstrip("-").isdigit():
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class FakeBotApi:
    token: str = TOKEN
    limits: Limits = field(default_factory=Limits)
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    commands: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port = self.port or free_port()
        self._lock = threading.Lock()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._files: dict[str, tuple[str, bytes]] = {}
        self._failures: list[Failure] = []
        self._window: collections.deque[float] = collections.deque()
        self._chat_last: dict[str, float] = {}
        self._group_window: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.confirmed_offset = 0
        self.get_updates_calls = 0
        self.held: set[str] = set()
        self.held_calls = 0  # calls that waited (or wait) in a hold
        self.held_by_method: collections.Counter[str] = collections.Counter()

    # --- addresses ----------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root}/file/bot"

    # --- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> FakeBotApi:
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._new_update = asyncio.Event()
            loop.call_soon(ready.set)
            assert self._server is not None
            loop.run_until_complete(self._server.serve())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-botapi", daemon=True)
        self._thread.start()
        ready.wait(5)
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Bot API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests do --------------------------------------------------------------------------------

    def inject(self, update: dict[str, Any]) -> int:
        """Queue one update (an `update_id` is assigned unless given); returns its id."""
        with self._lock:
            if "update_id" not in update:
                update["update_id"] = next(self._update_ids)
            self._updates.append(update)
        if self._loop is not None and self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return int(update["update_id"])

    def add_file(self, content: bytes, path: str = "photos/file.jpg") -> str:
        file_id = f"F{next(self._file_ids)}"
        with self._lock:
            self._files[file_id] = (f"{file_id}/{path}", content)
        return file_id

    def fail_next(
        self, status: int, *, retry_after: int | None = None, chat_id: str | int | None = None, times: int = 1
    ) -> None:
        descriptions = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            400: "Bad Request: chat not found",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }
        with self._lock:
            for _ in range(times):
                self._failures.append(
                    Failure(
                        status,
                        descriptions.get(status, "error"),
                        retry_after,
                        None if chat_id is None else str(chat_id),
                    )
                )

    def hold(self, method: str) -> None:
        """Calls to `method` (e.g. "getFile") wait unanswered until `release`."""
        with self._lock:
            self.held.add(method.lower())

    def release(self, method: str) -> None:
        with self._lock:
            self.held.discard(method.lower())

    @staticmethod
    def user(user_id: int, name: str = "Pak") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "id"}

    @staticmethod
    def chat(chat_id: int, name: str = "Pak") -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": name}
        return {"id": chat_id, "type": "private", "first_name": name}

    def _message(self, user_id: int, chat_id: int | None, **body: Any) -> dict[str, Any]:
        chat_id = user_id if chat_id is None else chat_id
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, "Grup KSM" if chat_id < 0 else f"U{user_id}"),
            "from": self.user(user_id, f"U{user_id}"),
            **body,
        }

    def message(self, user_id: int, text: str, chat_id: int | None = None, **extra: Any) -> int:
        body: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.inject({"message": self._message(user_id, chat_id, **body), **extra})

    def callback(
        self, user_id: int, data: str, message_id: int | None = None, chat_id: int | None = None
    ) -> int:
        chat_id = user_id if chat_id is None else chat_id
        message = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kotaku"},
            "text": "…",
        }
        return self.inject(
            {
                "callback_query": {
                    "id": f"cq{next(self._message_ids)}",
                    "from": self.user(user_id, f"U{user_id}"),
                    "chat_instance": str(chat_id),
                    "data": data,
                    "message": message,
                }
            }
        )

    def photo(
        self, user_id: int, content: bytes, caption: str | None = None, chat_id: int | None = None
    ) -> int:
        file_id = self.add_file(content, "photos/file.jpg")
        thumb_id = self.add_file(content[:100], "thumbnails/file.jpg")
        sizes = [
            {
                "file_id": thumb_id,
                "file_unique_id": f"u{thumb_id}",
                "width": 90,
                "height": 90,
                "file_size": 100,
            },
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "width": 1280,
                "height": 960,
                "file_size": len(content),
            },
        ]
        body: dict[str, Any] = {"photo": sizes}
        if caption:
            body["caption"] = caption
        return self.inject({"message": self._message(user_id, chat_id, **body)})

    def document(
        self, user_id: int, content: bytes, file_name: str, mime_type: str, chat_id: int | None = None
    ) -> int:
        file_id = self.add_file(content, f"documents/{file_name}")
        doc = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        return self.inject({"message": self._message(user_id, chat_id, document=doc)})

    def location(self, user_id: int, latitude: float, longitude: float, chat_id: int | None = None) -> int:
        loc = {"latitude": latitude, "longitude": longitude}
        return self.inject({"message": self._message(user_id, chat_id, location=loc)})

    def voice(self, user_id: int, content: bytes, chat_id: int | None = None) -> int:
        file_id = self.add_file(content, "voice/file.oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "duration": 3,
            "mime_type": "audio/ogg",
            "file_size": len(content),
        }
        return self.inject({"message": self._message(user_id, chat_id, voice=voice)})

    # --- reading what the bot did ------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method.lower()]

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """Successful sendMessage/sendPhoto/sendDocument/editMessageText calls (to one chat)."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method in SEND_METHODS
                and c.status == 200
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
            ]

    def texts_to(self, chat_id: int | str) -> list[str]:
        return [str(c.params.get("text") or c.params.get("caption") or "") for c in self.sent(chat_id)]

    def last_keyboard(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The buttons of the last message with an inline keyboard sent to a chat."""
        for c in reversed(self.sent(chat_id)):
            markup = c.params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                return [b for row in markup["inline_keyboard"] for b in row]
        raise AssertionError(f"no keyboard sent to {chat_id}")

    def button(self, chat_id: int | str, label: str) -> tuple[str, int]:
        """(callback data, message id) of the button whose label contains `label` in the last keyboard."""
        for c in reversed(self.sent(chat_id)):
            markup = c.params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                for b in (b for row in markup["inline_keyboard"] for b in row):
                    if label.lower() in b["text"].lower():
                        return b["callback_data"], int(c.result["message_id"])
                break
        raise AssertionError(f"no button {label!r} in the last keyboard sent to {chat_id}")

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

    def take_updates(self) -> list[dict[str, Any]]:
        """Remove and return the queued updates (tests that feed an Application directly)."""
        with self._lock:
            out, self._updates = self._updates, []
        return out

    def pending_updates(self) -> int:
        with self._lock:
            return sum(1 for u in self._updates if u["update_id"] >= self.confirmed_offset)

    # --- the server -----------------------------------------------------------------------------------

    async def _params(self, request: Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        params: dict[str, Any] = dict(request.query_params)
        files: dict[str, bytes] = {}
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            body = await request.body()
            if body:
                params.update(json.loads(body))
        elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            for key, value in form.multi_items():
                if hasattr(value, "read"):
                    files[key] = await value.read()  # type: ignore[union-attr]
                else:
                    params[key] = _decode(value)
        return params, files

    def _rate_limited(self, method: str, params: dict[str, Any]) -> int | None:
        """Seconds to wait when this send breaks a configured limit (None: allowed). Holds the lock."""
        if method not in SEND_METHODS:
            return None
        now = time.monotonic()
        lim = self.limits
        chat = str(params.get("chat_id"))
        if lim.global_per_second:
            while self._window and self._window[0] <= now - 1.0:
                self._window.popleft()
            if len(self._window) >= lim.global_per_second:
                return 1
        if chat.startswith("-") and lim.group_per_minute:
            win = self._group_window[chat]
            while win and win[0] <= now - 60.0:
                win.popleft()
            if len(win) >= lim.group_per_minute:
                return max(1, int(win[0] + 60.0 - now) + 1)
            win.append(now)
        elif not chat.startswith("-") and lim.per_chat_per_second:
            last = self._chat_last.get(chat)
            if last is not None and now - last < 1.0 / lim.per_chat_per_second:
                return 1
            self._chat_last[chat] = now
        if lim.global_per_second:
            self._window.append(now)
        return None

    def _failure_for(self, method: str, params: dict[str, Any]) -> Failure | None:
        if method not in SEND_METHODS and method != "answercallbackquery":
            return None
        chat = str(params.get("chat_id"))
        for i, f in enumerate(self._failures):
            if f.chat_id is None or f.chat_id == chat:
                return self._failures.pop(i)
        return None

    async def _api(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        method = request.path_params["method"].lower()
        params, files = await self._params(request)
        call = Call(method, params, files, time.monotonic())
        if method == "getupdates":
            with self._lock:
                self.calls.append(call)
            return await self._get_updates(params)
        if method in self.held:
            with self._lock:
                self.held_calls += 1
                self.held_by_method[method] += 1
            while method in self.held:  # noqa: ASYNC110 - released from the test's thread
                await asyncio.sleep(0.02)
        with self._lock:
            self.calls.append(call)
            failure = self._failure_for(method, params)
            wait = None if failure else self._rate_limited(method, params)
        if failure is not None or wait is not None:
            if failure is None:
                failure = Failure(429, f"Too Many Requests: retry after {wait}", wait)
            call.status = failure.status
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return JSONResponse(body, failure.status)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.status = 404
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        result = handler(params, files)
        call.result = result
        return JSONResponse({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> Response:
        self.get_updates_calls += 1
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(timeout, 30.0)
        assert self._new_update is not None
        while True:
            with self._lock:
                if offset:
                    self.confirmed_offset = max(self.confirmed_offset, offset)
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = [u for u in self._updates if u["update_id"] >= offset][:limit]
                self._new_update.clear()
            if ready or time.monotonic() >= deadline:
                return JSONResponse({"ok": True, "result": ready})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait(), timeout=max(deadline - time.monotonic(), 0.01)
                )

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        path = request.path_params["path"]
        with self._lock:
            for stored_path, content in self._files.values():
                if stored_path == path:
                    return Response(content, media_type="application/octet-stream")
        return Response(status_code=404)

    # --- methods --------------------------------------------------------------------------------------

    def _sent_message(self, params: dict[str, Any], **body: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Kotaku", "username": BOT_USERNAME},
            **body,
        }
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        return msg

    def _m_getme(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Kotaku",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return self._sent_message(params, text=str(params.get("text", "")))

    def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        msg = self._sent_message(params, text=str(params.get("text", "")), edit_date=int(time.time()))
        msg["message_id"] = int(params["message_id"])
        return msg

    def _m_editmessagereplymarkup(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        msg = self._sent_message(params, text="…")
        msg["message_id"] = int(params["message_id"])
        return msg

    def _m_sendphoto(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        content = files.get("photo", b"")
        file_id = self.add_file(content, "photos/sent.png")
        size = {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800, "height": 600}
        return self._sent_message(params, photo=[size], caption=params.get("caption"))

    def _m_senddocument(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        content = files.get("document", b"")
        file_id = self.add_file(content, "documents/sent")
        doc = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(content)}
        return self._sent_message(params, document=doc, caption=params.get("caption"))

    def _m_getfile(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        file_id = str(params["file_id"])
        path, content = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": path,
        }

    def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return True

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return True

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        self.webhook = dict(params)
        return True

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        self.webhook = {}
        return True

    def _m_getwebhookinfo(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    def _m_setmycommands(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        scope = params.get("scope") or {"type": "default"}
        key = f"{scope.get('type')}:{params.get('language_code') or ''}"
        self.commands[key] = params.get("commands")
        return True

    def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return True

    def _m_close(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return True

    def _m_logout(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return True
