"""Running channels: `serve_channels` runs one or more channels behind one web server (bot.web's routes)
with one bootstrap and one background (monitoring worker, reminder scheduler and outbox dispatcher)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import uvicorn

from kotaku.config import Settings

if TYPE_CHECKING:
    from kotaku.bootstrap import Kotaku
    from kotaku.metrics import Metrics

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


class _Server(uvicorn.Server):
    """uvicorn's Server without its own SIGINT/SIGTERM handlers: the signal starts kotaku's shutdown
    (webhooks answer 503 while the updates in hand finish), not an immediate close of the port."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_channels(
    settings: Settings, parts: Sequence[ChannelPart], stop: asyncio.Event | None = None
) -> None:
    """Run `parts` in one event loop with one bootstrap, one background (the outbox dispatcher has every
    part's sender) and one web server with every part's routes, until `stop` (SIGINT/SIGTERM set it).

    Then the graceful shutdown, within `server.shutdown_s`: the webhooks answer 503 (the platform
    retries, perhaps at another process), the channels stop taking updates and finish those in hand (half
    of the time), the monitoring worker evaluates the KSMs those updates marked (an eighth; what it cannot
    finish stays marked for another process or the next start), the dispatcher finishes the sends in
    flight and gives the rest of its batch back, the scheduler releases the leader lock, the web server
    closes."""
    from bot.web import ServerState, create_app
    from kotaku.bootstrap import bootstrap

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    kotaku = bootstrap(settings)
    metrics = kotaku.metrics
    state = ServerState()
    budget = settings.server.shutdown_s
    opened: list[ChannelPart] = []
    try:
        for part in parts:
            opened.append(part)
            await part.open(kotaku, metrics)
        background = await kotaku.start_background()
        server: _Server | None = None
        server_task: asyncio.Task[None] | None = None
        try:
            web_args: dict[str, Any] = {}
            for part in parts:
                web_args.update(part.web())
            server = _Server(
                uvicorn.Config(
                    create_app(settings, metrics=metrics, state=state, **web_args),
                    host=settings.server.host,
                    port=settings.server.port,
                    log_level="warning",
                    lifespan="off",
                    timeout_graceful_shutdown=max(1, int(budget / 4)),
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
                state.draining = True
                log.info("shutting down: webhooks answer 503, finishing the updates in hand")
                for part in reversed(started):
                    try:
                        await part.stop()
                    except Exception:
                        log.exception("channel %s did not stop cleanly", part.name)
        finally:
            await background.stop(grace=budget / 4)
            if server is not None and server_task is not None:
                server.should_exit = True
                with contextlib.suppress(Exception, SystemExit):
                    await asyncio.wait_for(server_task, budget / 4)
    finally:
        for part in reversed(opened):
            try:
                await part.close()
            except Exception:
                log.exception("channel %s did not close cleanly", part.name)
        await kotaku.close()
