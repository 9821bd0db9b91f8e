"""Running channels: `serve_channels` runs one or more channels behind one web server (bot.web's routes)
with one bootstrap and one background (reminder scheduler and outbox dispatcher)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from kotaku.config import Settings

if TYPE_CHECKING:
    from bot.telegram.app import Metrics
    from kotaku.bootstrap import Kotaku

log = logging.getLogger(__name__)


class ChannelPart(Protocol):
    """A channel as `serve_channels` runs it, in this order: `open` (clients, its outbox sender added to
    kotaku), `web` (its create_app arguments), `start` (intake: polling, webhook registration, the inbox
    worker), then at the end `stop` (intake off) and `close` (clients; also after a failed `open`)."""

    name: str

    async def open(self, kotaku: Kotaku, metrics: Metrics) -> None: ...

    def web(self) -> dict[str, Any]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def close(self) -> None: ...


async def serve_channels(
    settings: Settings, parts: Sequence[ChannelPart], stop: asyncio.Event | None = None
) -> None:
    """Run `parts` in one event loop with one bootstrap, one background (the outbox dispatcher has every
    part's sender) and one web server with every part's routes, until `stop` (SIGINT/SIGTERM set it)."""
    import uvicorn

    from bot.telegram.app import Metrics
    from bot.web import create_app
    from kotaku.bootstrap import bootstrap

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    kotaku = bootstrap(settings)
    metrics = Metrics()
    opened: list[ChannelPart] = []
    try:
        for part in parts:
            opened.append(part)
            await part.open(kotaku, metrics)
        background = await kotaku.start_background()
        try:
            web_args: dict[str, Any] = {}
            for part in parts:
                web_args.update(part.web())
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings, metrics=metrics, **web_args),
                    host=settings.server.host,
                    port=settings.server.port,
                    log_level="warning",
                    lifespan="off",
                )
            )
            server_task = asyncio.create_task(server.serve())
            started: list[ChannelPart] = []
            try:
                for part in parts:
                    started.append(part)
                    await part.start()
                log.info("channels started: %s", ", ".join(p.name for p in parts))
                stop_task = asyncio.create_task(stop.wait())
                await asyncio.wait({stop_task, server_task}, return_when=asyncio.FIRST_COMPLETED)
                stop_task.cancel()
            finally:
                for part in reversed(started):
                    try:
                        await part.stop()
                    except Exception:
                        log.exception("channel %s did not stop cleanly", part.name)
                server.should_exit = True
                with contextlib.suppress(Exception, SystemExit):
                    await server_task
        finally:
            await background.stop()
    finally:
        for part in reversed(opened):
            try:
                await part.close()
            except Exception:
                log.exception("channel %s did not close cleanly", part.name)
        await kotaku.close()
