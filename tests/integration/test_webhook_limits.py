"""Both webhooks through the real ASGI app, with a valid secret or signature: a body over
`server.max_body_bytes` is refused (413) before the rest of it is read, whatever it holds; what is not the
channel's JSON gets a 400 with a short JSON error and stores nothing; mutated real payloads (Hypothesis)
never get a 5xx; and Telegram updates accepted while nothing handles them are handled exactly once by the
inbox worker of the next start."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select
from telegram.ext import Application

from bot.telegram import build_application, inbox_handler
from bot.web import TelegramHook, WhatsAppHook, create_app
from bot.whatsapp import build_client
from bot.whatsapp.client import close_client
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings, WhatsAppConfig
from kotaku.db import Database
from kotaku.models import Channel, InboxMessage, ProcessedInbound
from kotaku.services.inbox import InboxWorker
from tests import whatsapp_payloads as wp
from tests.fake_botapi import TOKEN, FakeBotApi

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
SECRET = "webhook-Secret_123"
LIMIT = 64 * 1024
TG_PATH, WA_PATH = "/telegram/webhook", "/whatsapp/webhook"
TG_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
CHUNK = 16 * 1024
FIFTY_MB = 50 * 1024 * 1024


def limited(settings: Settings, base_url: str = "http://127.0.0.1:9/bot") -> Settings:
    tg = settings.telegram.model_copy(
        update={
            "token": SecretStr(TOKEN),
            "base_url": base_url,
            "base_file_url": base_url.replace("/bot", "/file/bot"),
            "mode": "webhook",
            "webhook_secret": SecretStr(SECRET),
        }
    )
    wa = WhatsAppConfig(
        phone_id=wp.PHONE_ID,
        token=SecretStr("wa-token"),
        app_secret=SecretStr(wp.APP_SECRET),
        verify_token=SecretStr(wp.VERIFY_TOKEN),
        base_url="http://127.0.0.1:9",
    )
    server = settings.server.model_copy(update={"max_body_bytes": LIMIT})
    return settings.model_copy(update={"telegram": tg, "whatsapp": wa, "server": server})


@pytest.fixture
async def web(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """Both webhooks on one app; nothing handles what they store (no worker, no network)."""
    cfg = limited(settings)
    application = build_application(
        cfg, bootstrap(db.settings, db=db).engine, rate_limiter=False, polling=False
    )
    wa = build_client(cfg)
    app = create_app(
        cfg,
        telegram=TelegramHook(application, db, None, lambda: NOW),
        whatsapp=WhatsAppHook(wa, db, None, lambda: NOW),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await close_client(wa)


async def inbox_rows(db: Database) -> list[InboxMessage]:
    async with db.session() as s:
        return list((await s.execute(select(InboxMessage).order_by(InboxMessage.id))).scalars())


def telegram_updates() -> list[dict[str, Any]]:
    """Real-shaped updates of each kind, as tests/fake_botapi.py builds them (no server needed)."""
    fake = FakeBotApi()
    fake.message(1001, "/hadir 12")
    fake.message(1001, "semua hadir", chat_id=-100900)
    fake.callback(1001, "t:3", 1500)
    fake.photo(1001, b"\xff\xd8jpeg", caption="progres 40")
    fake.document(1001, b"%PDF", "laporan.pdf", "application/pdf")
    fake.location(1001, -7.25, 110.4)
    fake.voice(1001, b"OggS")
    return fake.take_updates()


TG_UPDATES = telegram_updates()
WA_PAYLOADS = [wp.load(name) for name in wp.FIXTURES]


def wa_headers(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": wp.sign(body), "Content-Type": "application/json"}


# --- size ----------------------------------------------------------------------------------------------


class Chunks:
    """A request body of `total` bytes sent in pieces; counts the pieces the server pulled."""

    def __init__(self, total: int, piece: bytes) -> None:
        self.total, self.piece, self.pulled = total, piece, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            self.pulled += 1
            sent += len(self.piece)
            yield self.piece


def valid_prefix(channel: str) -> bytes:
    """50 MB of valid JSON starts like a real update and goes on in one long text."""
    if channel == "telegram":
        return b'{"update_id": 5, "message": {"text": "' + b"x" * CHUNK
    return b'{"object": "whatsapp_business_account", "entry": [{"id": "' + b"x" * CHUNK


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("content", ["json", "garbage"])
async def test_a_body_over_the_limit_is_refused_before_the_rest_is_read(
    web: httpx.AsyncClient, db: Database, channel: str, declared: bool, content: str
) -> None:
    piece = valid_prefix(channel) if content == "json" else b"\x00garbage" * (CHUNK // 8)
    body = Chunks(FIFTY_MB, piece)
    headers = dict(TG_HEADERS) if channel == "telegram" else {"X-Hub-Signature-256": "sha256=00"}
    if declared:
        headers["Content-Length"] = str(FIFTY_MB)
    path = TG_PATH if channel == "telegram" else WA_PATH
    response = await web.post(path, content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["ok"] is False
    assert body.pulled * len(piece) <= (0 if declared else LIMIT + len(piece))
    assert await inbox_rows(db) == []


async def test_a_body_at_the_limit_is_read(web: httpx.AsyncClient, db: Database) -> None:
    update = json.loads(json.dumps(TG_UPDATES[0]))
    update["message"]["text"] = "x"
    filler = LIMIT - len(json.dumps(update).encode()) - len(', "pad": ""')
    update["pad"] = "p" * filler
    body = json.dumps(update).encode()
    assert len(body) == LIMIT
    assert (await web.post(TG_PATH, content=body, headers=TG_HEADERS)).status_code == 200
    assert len(await inbox_rows(db)) == 1


# --- shape ---------------------------------------------------------------------------------------------


def with_message(**fields: Any) -> bytes:
    update = json.loads(json.dumps(TG_UPDATES[0]))
    update["message"].update(fields)
    return json.dumps(update).encode()


def nested(depth: int) -> bytes:
    return b'{"update_id": 7, "message": ' + b"[" * depth + b"]" * depth + b"}"


MALFORMED_TELEGRAM = {
    "a list": b"[1, 2, 3]",
    "a string": b'"hi"',
    "a number": b"42",
    "null": b"null",
    "empty": b"",
    "not utf-8": b'{"update_id": 1, "message": "\xff\xfe"}',
    "truncated": json.dumps(TG_UPDATES[0]).encode()[:-7],
    "message is a string": b'{"update_id": 1, "message": "hi"}',
    "callback is a list": b'{"update_id": 1, "callback_query": [1]}',
    "no update_id": json.dumps({"message": TG_UPDATES[0]["message"]}).encode(),
    "update_id a string": json.dumps({**TG_UPDATES[0], "update_id": "1"}).encode(),
    "update_id true": json.dumps({**TG_UPDATES[0], "update_id": True}).encode(),
    "update_id negative": json.dumps({**TG_UPDATES[0], "update_id": -1}).encode(),
    "date 1e30": with_message(date=1e30),
    "date 10**30": with_message(date=10**30),
    "date -1e18": with_message(date=-(10**18)),
    "date a string": with_message(date="kemarin"),
    "NaN": json.dumps(TG_UPDATES[0]).replace('"date": ', '"date": NaN, "x": ').encode(),
    "Infinity": b'{"update_id": 1, "x": Infinity}',
    "1e400": b'{"update_id": 1, "x": 1e400}',
    "5,000 digits": b'{"update_id": 1, "x": ' + b"9" * 5000 + b"}",
    "chat without id": with_message(chat={"type": "private"}),
    "from is a list": with_message(**{"from": [1]}),
    "nested 40 deep": nested(40),
    "nested 30,000 deep": nested(30_000),
}


@pytest.mark.parametrize("body", MALFORMED_TELEGRAM.values(), ids=MALFORMED_TELEGRAM.keys())
async def test_telegram_refuses_what_is_not_an_update_with_400(
    web: httpx.AsyncClient, db: Database, body: bytes
) -> None:
    response = await web.post(TG_PATH, content=body, headers=TG_HEADERS)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["ok"] is False and 0 < len(error["error"]) <= 200
    assert await inbox_rows(db) == []


def wa_value(mutate: Any) -> bytes:
    payload = wp.load("text")
    mutate(wp.value_of(payload))
    return wp.dumps(payload)


MALFORMED_WHATSAPP = {  # body, status, items stored
    "a list": (b"[1]", 400, 0),
    "a string": (b'"hi"', 400, 0),
    "entry is a string": (b'{"entry": "abc"}', 400, 0),
    "NaN": (wp.dumps(wp.load("text")).replace(b'"timestamp":', b'"x":NaN,"timestamp":'), 400, 0),
    "1e400": (wa_value(lambda v: v.update(x=None)).replace(b'"x":null', b'"x":1e400'), 400, 0),
    "nested 30,000 deep": (b'{"entry": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", 400, 0),
    "changes is a number": (b'{"entry": [{"id": "1", "changes": 5}]}', 200, 0),
    "messages is a number": (wa_value(lambda v: v.update(messages=5)), 200, 0),
    "statuses is a string": (wa_value(lambda v: v.update(messages=None, statuses="read")), 200, 0),
    "contacts is a number": (wa_value(lambda v: v.update(contacts=5)), 200, 1),  # the message stays
}


@pytest.mark.parametrize(
    ("body", "status", "stored"), MALFORMED_WHATSAPP.values(), ids=MALFORMED_WHATSAPP.keys()
)
async def test_whatsapp_refuses_what_is_not_a_webhook_and_skips_odd_parts(
    web: httpx.AsyncClient, db: Database, body: bytes, status: int, stored: int
) -> None:
    response = await web.post(WA_PATH, content=body, headers=wa_headers(body))
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["ok"] is False
    assert len(await inbox_rows(db)) == stored


async def test_nul_and_lone_surrogates_are_cleaned_before_storing(
    web: httpx.AsyncClient, db: Database
) -> None:
    tg = with_message(text="hadir@@ 12 ##").replace(b"@@", b"\\u0000").replace(b"##", b"\\ud800")
    assert (await web.post(TG_PATH, content=tg, headers=TG_HEADERS)).status_code == 200
    wa = wa_value(lambda v: v["messages"][0]["text"].update(body="progres@@ 40 ##"))
    wa = wa.replace(b"@@", b"\\u0000").replace(b"##", b"\\udfff")
    assert (await web.post(WA_PATH, content=wa, headers=wa_headers(wa))).status_code == 200
    telegram, whatsapp = await inbox_rows(db)
    assert telegram.body["message"]["text"] == "hadir 12 \ufffd"
    assert whatsapp.body["message"]["text"]["body"] == "progres 40 \ufffd"


# --- mutated real payloads (Hypothesis) ----------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1e30, -1e30, 1.5, 2**31, 2**53, 2**63, 10**20]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "\u0000", "\ud800", "9" * 40, "/hadir", "t:²", "ID.1", "6281234567890"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from paths(item, (*prefix, i))


@st.composite
def mutated(draw: st.DrawFn, seeds: list[dict[str, Any]]) -> Any:
    """A real payload with a few of its values replaced, removed or wrapped."""
    doc: Any = json.loads(json.dumps(draw(st.sampled_from(seeds))))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(list(paths(doc))))
        how = draw(st.sampled_from(["replace", "delete", "wrap", "nest"]))
        new = draw(json_values)
        if not path:
            doc = [doc] if how == "wrap" else new
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if how == "delete":
            del parent[last]
        elif how == "wrap":
            parent[last] = [parent[last]]
        elif how == "nest":
            parent[last] = json.loads("[" * 50 + json.dumps(parent[last]) + "]" * 50)
        else:
            parent[last] = new
    return doc


def dump(doc: Any) -> bytes:
    # Lone surrogates drawn by Hypothesis go out as JSON escapes, as any client may send them.
    return json.dumps(doc, allow_nan=False).encode()


FUZZ = hyp_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(doc=mutated(TG_UPDATES), cut=st.one_of(st.none(), st.integers(min_value=0, max_value=400)))
async def test_mutated_telegram_updates_never_get_a_5xx(
    web: httpx.AsyncClient, doc: Any, cut: int | None
) -> None:
    body = dump(doc)
    if cut is not None:
        body = body[:cut]
    response = await web.post(TG_PATH, content=body, headers=TG_HEADERS)
    assert response.status_code in (200, 400), response.text


@FUZZ
@given(
    doc=mutated(WA_PAYLOADS),
    flip=st.one_of(st.none(), st.tuples(st.integers(0, 3000), st.binary(min_size=1, max_size=3))),
)
async def test_mutated_whatsapp_webhooks_never_get_a_5xx(
    web: httpx.AsyncClient, doc: Any, flip: tuple[int, bytes] | None
) -> None:
    body = dump(doc)
    if flip is not None:
        at, junk = flip
        body = body[:at] + junk + body[at + len(junk) :]
    response = await web.post(WA_PATH, content=body, headers=wa_headers(body))
    assert response.status_code in (200, 400), response.text


# --- accepted, then handled once after a stop ----------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeBotApi]:
    with FakeBotApi() as server:
        yield server


async def started(settings: Settings, db: Database) -> Application:
    application = build_application(
        settings, bootstrap(db.settings, db=db, now=lambda: NOW).engine, rate_limiter=False, polling=False
    )
    await application.initialize()
    return application


async def test_updates_accepted_before_a_stop_are_handled_once_at_the_next_start(
    settings: Settings, db: Database, fake: FakeBotApi
) -> None:
    cfg = limited(settings, fake.base_url)
    users = (2001, 2002, 2003)
    for user in users:
        fake.message(user, "/bantuan")
    updates = fake.take_updates()

    # The first run accepts the updates (200) and stops before handling any: nothing was said yet.
    first = await started(cfg, db)
    app = create_app(cfg, telegram=TelegramHook(first, db, None, lambda: NOW))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for update in updates:
            assert (await client.post(TG_PATH, json=update, headers=TG_HEADERS)).status_code == 200
    await first.shutdown()
    assert [r.processed_at for r in await inbox_rows(db)] == [None] * 3
    assert not fake.sent()

    # The next start handles each once; a second pass and a redelivery change nothing.
    second = await started(cfg, db)
    worker = InboxWorker(db, Channel.TELEGRAM, inbox_handler(second), now=lambda: NOW)
    app = create_app(cfg, telegram=TelegramHook(second, db, worker, lambda: NOW))
    assert await worker.drain() == 3
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.post(TG_PATH, json=updates[0], headers=TG_HEADERS)).status_code == 200
    assert await worker.drain() == 0
    await second.shutdown()
    assert all(len(fake.sent(user)) == 1 for user in users), [fake.texts_to(u) for u in users]
    rows = await inbox_rows(db)
    assert len(rows) == 3 and all(r.processed_at is not None and r.attempts == 0 for r in rows)
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedInbound)) == 3
