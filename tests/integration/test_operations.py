"""Operations: /metrics scraped from an app built with create_app after real updates and outbox sends
(names, labels, values that move; the database figures cached between scrapes), /healthz and /readyz
(database down or silent, not migrated, behind, draining, channel not running, all fine), the webhooks
answering 503 while draining, and the per-update log line with its request id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select, text
from telegram import Update
from telegram.ext import Application

from bot.telegram import build_application, handlers_of
from bot.web import ServerState, TelegramHook, WhatsAppHook, create_app
from kotaku import migrate
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.logs import configure_logging
from kotaku.metrics import Metrics
from kotaku.models import Alert, AlertSeverity, AlertStatus, Channel, InboxMessage
from kotaku.notify.dispatcher import Dispatcher
from kotaku.notify.outbox import enqueue_to_chat
from kotaku.notify.ports import SendResult, SendStatus
from kotaku.services import inbox
from tests.conftest import logging_set_up
from tests.fake_botapi import TOKEN, FakeBotApi
from tests.fakes import FakeSender
from tests.integration.test_telegram_channel import KETUA, NOW, fake, program, tg_settings  # noqa: F401

SECRET = "s3cr3t-Token_abc"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scraped(body: str) -> Samples:
    """Every sample of a /metrics answer by (name, labels), parsed as Prometheus parses it."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def at(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def stamp(db: Database, revision: str | None) -> None:
    """The database marked at `revision` as `kotaku db upgrade` leaves it (the fixture builds the schema
    from the models, without Alembic's table)."""
    async with db.transaction() as s:
        await s.execute(text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)"))
        await s.execute(text("DELETE FROM alembic_version"))
        if revision is not None:
            await s.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


async def store_updates(db: Database, n: int, channel: Channel = Channel.TELEGRAM) -> None:
    async with db.transaction() as s:
        for i in range(n):
            await inbox.store(
                s,
                channel=channel,
                external_id=f"x-{channel.value}-{i}-{n}",
                conversation=f"c{i}",
                body={"update_id": i},
                now=NOW,
            )


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Logging as `kotaku run` sets it with `logging.json = true`; put back afterwards."""
    with logging_set_up(lambda: configure_logging("INFO", json=True)):
        capsys.readouterr()
        yield capsys


def log_lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.fixture
async def telegram(
    tg_settings: Settings,  # noqa: F811
    db: Database,
    program: object,  # noqa: F811
) -> AsyncIterator[tuple[Settings, Application]]:
    tg = tg_settings.telegram.model_copy(update={"mode": "webhook", "webhook_secret": SecretStr(SECRET)})
    settings = tg_settings.model_copy(update={"telegram": tg})
    application = build_application(
        settings, bootstrap(db.settings, db=db, now=lambda: NOW).engine, rate_limiter=False, polling=False
    )
    await application.initialize()
    yield settings, application
    await application.shutdown()


# --- /metrics ------------------------------------------------------------------------------------------


async def test_metrics_count_updates_webhooks_and_log_one_masked_json_line_per_update(
    telegram: tuple[Settings, Application],
    fake: FakeBotApi,  # noqa: F811
    db: Database,
    json_logs: pytest.CaptureFixture[str],
) -> None:
    settings, application = telegram
    metrics = handlers_of(application).metrics
    web = create_app(settings, TelegramHook(application, db, None, lambda: NOW), metrics)
    fake.message(KETUA, "/hadir")
    fake.message(KETUA, "1")
    first, second = fake.take_updates()
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    path = settings.telegram.webhook_path
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://t") as client:
        before = scraped((await client.get("/metrics")).text)
        assert (await client.post(path, json=first)).status_code == 403
        assert (await client.post(path, json=first, headers=good)).status_code == 200
        assert (await client.post(path, json=first, headers=good)).status_code == 200
        for data in (first, second):  # what the inbox worker does with a stored update
            await application.process_update(Update.de_json(data, application.bot))
        after = scraped((await client.get("/metrics")).text)
    err = json_logs.readouterr().err

    def moved(name: str, **labels: str) -> float:
        return (at(after, name, **labels) or 0.0) - (at(before, name, **labels) or 0.0)

    assert moved("kotaku_webhook_requests_total", channel="telegram", result="rejected") == 1
    assert moved("kotaku_webhook_requests_total", channel="telegram", result="received") == 1
    assert moved("kotaku_webhook_requests_total", channel="telegram", result="duplicate") == 1
    assert moved("kotaku_updates_total", channel="telegram", kind="message", outcome="ok") == 2
    assert moved("kotaku_update_duration_seconds_count", channel="telegram") == 2
    assert (at(after, "kotaku_update_duration_seconds_sum", channel="telegram") or 0) > 0
    assert moved("kotaku_replies_total", channel="telegram", result="sent") >= 2
    handled = [line for line in log_lines(err) if line["event"] == "update_handled"]
    assert [h["update_id"] for h in handled] == [first["update_id"], second["update_id"]]
    for h in handled:
        assert h["channel"] == "telegram" and h["outcome"] == "ok" and h["latency_ms"] >= 0
        assert h["level"] == "info" and "timestamp" in h
    assert handled[0]["flow"] and handled[0]["step"], "/hadir starts a flow: its name and step are logged"
    assert len({h["request_id"] for h in handled}) == 2, "a request id per update"
    # The library's lines while an update is handled carry its request id too, the bot token masked.
    replies = [line for line in log_lines(err) if "sendMessage" in line["event"]]
    assert {r["request_id"] for r in replies} == {h["request_id"] for h in handled}
    assert TOKEN not in err and all("/bot***/" in r["event"] for r in replies)


async def test_metrics_sends_backlogs_alerts_leader_and_pool(db: Database, settings: Settings) -> None:
    settings = settings.model_copy(
        update={"health": settings.health.model_copy(update={"cache_s": 300.0})}  # no refresh in between
    )
    metrics = Metrics()
    async with db.transaction() as s:
        for recipient, kind in (("ok", "reminder"), ("retry", "test"), ("slow", "test"), ("bad", "test")):
            await enqueue_to_chat(
                s,
                channel=Channel.TEST,
                chat_id=recipient,
                kind=kind,
                payload={"text": "pesan"},
                dedup_key=f"ops:{recipient}",
                now=NOW,
            )
        s.add(
            Alert(
                kind="behind_plan",
                subject_type="activity",
                subject_id=1,
                severity=AlertSeverity.CRITICAL,
                status=AlertStatus.OPEN,
                dedup_key="ops:alert",
                figures={},
                message="terlambat",
                opened_at=NOW,
                updated_at=NOW,
            )
        )
    sender = FakeSender(
        script={
            "retry": [SendResult(SendStatus.RETRY, reason="HTTP 502")],
            "slow": [SendResult(SendStatus.RATE_LIMITED, retry_after=30.0)],
            "bad": [SendResult(SendStatus.PERMANENT, reason="blocked")],
        }
    )
    cfg = settings.delivery.model_copy(update={"max_attempts": 3})
    await Dispatcher(db, {Channel.TEST: sender}, cfg, now=lambda: NOW, on_send=metrics.on_send).drain()
    await store_updates(db, 2)
    metrics.watch_leader(lambda: True)
    web = create_app(settings, metrics=metrics, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://t") as client:
        answer = await client.get("/metrics")
        await store_updates(db, 3)  # stored after the read: the next scrape within cache_s does not see it
        cached = scraped((await client.get("/metrics")).text)
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = scraped(answer.text)
    for outcome in ("ok", "retry", "429", "permanent"):
        assert at(got, "kotaku_sends_total", channel="test", outcome=outcome) == 1, outcome
    assert at(got, "kotaku_reminders_sent_total", kind="reminder") == 1
    assert at(got, "kotaku_inbox_backlog", channel="telegram") == 2
    assert at(got, "kotaku_inbox_backlog", channel="whatsapp") == 0
    assert (at(got, "kotaku_inbox_oldest_age_seconds", channel="telegram") or 0) > 0
    assert at(got, "kotaku_outbox_depth", channel="test", status="pending") == 2  # the retry and the 429
    assert at(got, "kotaku_outbox_depth", channel="telegram", status="held") == 0
    assert at(got, "kotaku_alerts_open", kind="behind_plan", severity="critical", status="open") == 1
    assert at(got, "kotaku_scheduler_leader") == 1
    assert at(got, "kotaku_db_up") == 1
    assert at(got, "kotaku_db_pool_checked_out") is not None and at(got, "kotaku_db_pool_size") is not None
    assert at(cached, "kotaku_inbox_backlog", channel="telegram") == 2
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(InboxMessage)) == 5


def test_each_metrics_object_has_its_own_registry() -> None:
    one, two = Metrics(), Metrics()
    one.webhook(Channel.TELEGRAM, "received")
    assert one.value("kotaku_webhook_requests_total", channel="telegram", result="received") == 1
    assert two.value("kotaku_webhook_requests_total", channel="telegram", result="received") == 0
    assert b"kotaku_scheduler_leader" not in one.render()  # only once a scheduler is watched
    one.watch_leader(lambda: False)
    assert one.value("kotaku_scheduler_leader") == 0


# --- /healthz and /readyz ----------------------------------------------------------------------------


async def get(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get(path)


async def test_ready_when_migrated_and_running(db: Database, settings: Settings) -> None:
    await stamp(db, migrate.head_revision())
    await store_updates(db, 2)
    app = create_app(settings, db=db)
    live, ready = await get(app, "/healthz"), await get(app, "/readyz")
    assert live.status_code == 200 and live.json() == {"ok": True}
    assert ready.status_code == 200, ready.json()
    body = ready.json()
    assert body["ok"] is True
    assert set(body["checks"]) == {"database", "migrations", "inbox", "channels", "shutdown"}
    assert body["checks"]["migrations"]["current"] == migrate.head_revision()
    assert body["checks"]["inbox"]["backlog"] == 2


async def test_not_ready_when_not_migrated_or_behind_the_code(db: Database, settings: Settings) -> None:
    async with db.transaction() as s:  # Alembic's table is no model: a PostgreSQL schema keeps it
        await s.execute(text("DROP TABLE IF EXISTS alembic_version"))
    app = create_app(settings, db=db)
    ready = await get(app, "/readyz")
    assert ready.status_code == 503
    assert "not migrated" in ready.json()["checks"]["migrations"]["reason"]
    assert ready.json()["checks"]["database"]["ok"] is True
    await stamp(db, "0000_old")
    ready = await get(app, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["migrations"]["reason"].startswith("database at 0000_old, code expects")
    assert (await get(app, "/healthz")).status_code == 200, "alive all the same"


async def test_not_ready_when_the_inbox_is_too_far_behind(db: Database, settings: Settings) -> None:
    await stamp(db, migrate.head_revision())
    await store_updates(db, 3)
    health = settings.health.model_copy(update={"max_inbox_backlog": 2})
    ready = await get(create_app(settings.model_copy(update={"health": health}), db=db), "/readyz")
    assert ready.status_code == 503
    inbox_check = ready.json()["checks"]["inbox"]
    assert (
        inbox_check["ok"] is False and inbox_check["backlog"] == 3 and "more than 2" in inbox_check["reason"]
    )


async def test_not_ready_when_the_database_refuses(settings: Settings) -> None:
    down = Database(settings, url="postgresql+asyncpg://kotaku:x@127.0.0.1:1/kotaku")
    try:
        app = create_app(settings, db=down)
        ready = await get(app, "/readyz")
        scrape = scraped((await get(app, "/metrics")).text)
    finally:
        await down.dispose()
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] is False and "database unreachable" in checks["database"]["reason"]
    assert checks["migrations"]["ok"] is False
    assert at(scrape, "kotaku_db_up") == 0
    assert at(scrape, "kotaku_inbox_backlog", channel="telegram") is None, "no stale figures"


async def test_not_ready_when_the_database_does_not_answer(settings: Settings) -> None:
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the connection and never says a word

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    health = settings.health.model_copy(update={"timeout_s": 0.2})
    settings = settings.model_copy(update={"health": health})
    silent_db = Database(settings, url=f"postgresql+asyncpg://kotaku:x@127.0.0.1:{port}/kotaku")
    try:
        ready = await get(create_app(settings, db=silent_db), "/readyz")
    finally:
        for writer in held:
            writer.close()
        server.close()
        await silent_db.dispose()
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["reason"] == "database did not answer within 0.2 s"


async def test_draining_refuses_webhooks_and_readiness(
    telegram: tuple[Settings, Application],
    fake: FakeBotApi,  # noqa: F811
    db: Database,
) -> None:
    settings, application = telegram
    await stamp(db, migrate.head_revision())
    state = ServerState()
    metrics = Metrics()
    worker_runs = {"now": False}
    hook = TelegramHook(application, db, None, lambda: NOW, running=lambda: worker_runs["now"])
    wa_hook = WhatsAppHook(wa=None, db=db, running=lambda: True)  # type: ignore[arg-type]  # never reached
    app = create_app(settings, hook, metrics, wa_hook, state)
    fake.message(KETUA, "/bantuan")
    [update] = fake.take_updates()
    good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        not_started = (await client.get("/readyz")).json()
        assert not_started["checks"]["channels"]["reason"] == "not running: telegram"
        await application.start()
        try:
            no_worker = (await client.get("/readyz")).json()  # the Application runs, its inbox worker not
            assert no_worker["checks"]["channels"]["reason"] == "not running: telegram"
            worker_runs["now"] = True
            assert (await client.get("/readyz")).status_code == 200
            state.draining = True
            ready = await client.get("/readyz")
            tg = await client.post(settings.telegram.webhook_path, json=update, headers=good)
            wa = await client.post(settings.whatsapp.webhook_path, content=b"{}")
            live = await client.get("/healthz")
        finally:
            await application.stop()
    assert ready.status_code == 503 and ready.json()["checks"]["shutdown"]["reason"] == "shutting down"
    assert tg.status_code == 503 and tg.json()["error"] == "shutting down"
    assert wa.status_code == 503 and wa.json()["error"] == "shutting down"
    assert live.status_code == 200
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(InboxMessage)) == 0, "nothing stored"
    for channel in ("telegram", "whatsapp"):
        assert metrics.value("kotaku_webhook_requests_total", channel=channel, result="draining") == 1
