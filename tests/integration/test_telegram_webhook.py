"""bot/web.py: the Telegram webhook refuses a forged or missing secret (403, nothing stored), stores the
update with the right one in the inbox for the inbox worker, stores a redelivered update once; /healthz
and /metrics answer."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.telegram import build_application, handlers_of, inbox_handler
from bot.web import TelegramHook, create_app
from kotaku.bootstrap import bootstrap
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Channel, InboxMessage, ProcessedInbound
from kotaku.services.inbox import InboxWorker
from tests.fake_botapi import FakeBotApi
from tests.integration.test_telegram_channel import NOW, fake, program, tg_settings  # noqa: F401

SECRET = "s3cr3t-Token_abc"


async def test_webhook_secret_and_duplicate_update(
    tg_settings: Settings,  # noqa: F811
    fake: FakeBotApi,  # noqa: F811
    db: Database,
    program: object,  # noqa: F811
) -> None:
    tg = tg_settings.telegram.model_copy(update={"mode": "webhook", "webhook_secret": SecretStr(SECRET)})
    settings = tg_settings.model_copy(update={"telegram": tg})
    application = build_application(
        settings, bootstrap(db.settings, db=db, now=lambda: NOW).engine, rate_limiter=False, polling=False
    )
    metrics = handlers_of(application).metrics
    worker = InboxWorker(db, Channel.TELEGRAM, inbox_handler(application), now=lambda: NOW)
    web = create_app(settings, TelegramHook(application, db, worker, lambda: NOW), metrics)
    fake.message(1001, "/bantuan")
    [update] = fake.take_updates()
    path = settings.telegram.webhook_path
    async with application:
        await application.start()
        transport = httpx.ASGITransport(app=web)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.post(path, json=update)).status_code == 403
            forged = {"X-Telegram-Bot-Api-Secret-Token": "s3cr3t-Token_abd"}
            assert (await client.post(path, json=update, headers=forged)).status_code == 403
            good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            assert (await client.post(path, json=update, headers=good)).status_code == 200
            assert not fake.texts_to(1001)  # stored, not handled yet
            assert await worker.drain() == 1
            assert fake.texts_to(1001)
            assert (await client.post(path, json=update, headers=good)).status_code == 200
            assert (await client.post(path, content=b"{not json", headers=good)).status_code == 400
            assert await worker.drain() == 0
            body = (await client.get("/metrics")).text
        await application.stop()
    assert len(fake.texts_to(1001)) == 1  # the redelivery changed nothing and said nothing
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ProcessedInbound)) == 1
        [row] = (await s.execute(select(InboxMessage))).scalars()
    assert row.channel == Channel.TELEGRAM and row.processed_at is not None and row.body == update
    assert row.external_id.endswith(f":{update['update_id']}") and row.conversation == "1001:1001"
    assert 'kotaku_webhook_requests_total{channel="telegram",result="rejected"} 2.0' in body
    assert 'kotaku_webhook_requests_total{channel="telegram",result="received"} 1.0' in body
    assert 'kotaku_webhook_requests_total{channel="telegram",result="duplicate"} 1.0' in body
    assert 'kotaku_webhook_requests_total{channel="telegram",result="bad"} 1.0' in body
    assert 'kotaku_updates_total{channel="telegram",kind="message",outcome="ok"} 1.0' in body


@pytest.mark.parametrize("given", [None, "", "x" * 16])
def test_secret_ok_refuses_missing_and_wrong(given: str | None) -> None:
    from bot.web import secret_ok

    assert not secret_ok(given, SECRET)
    assert secret_ok(SECRET, SECRET)
    assert not secret_ok(SECRET, None)
