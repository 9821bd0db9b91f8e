"""`kotaku run` on the console: the scheduler and the dispatcher run beside the chat, and a due reminder
is printed into the console as a notification."""

from __future__ import annotations

import asyncio
import io

from bot.console import ConsoleChat, ensure_console_identity
from bot.console_sender import ConsoleSender
from kotaku.models import Channel
from kotaku.reminders.scheduler import start_background
from tests.catalogue_keys import says
from tests.e2e.conftest import World


async def test_due_reminder_is_printed_in_the_console(world: World) -> None:
    await ensure_console_identity(world.db, "ketua-a")
    out = io.StringIO()
    chat = ConsoleChat(world.engine, "ketua-a", stdin=io.StringIO(""), stdout=out, color=False)
    settings = world.engine.settings
    # Thursday 16:00 WIB: the 15:00 reminder is due; start() catches up at once.
    bg = await start_background(
        world.db, settings, {Channel.CONSOLE: ConsoleSender(world.db, chat.notify)}, now=world.clock
    )
    try:
        assert bg.scheduler is not None and bg.scheduler.is_leader
        assert {j["id"] for j in bg.scheduler.jobs()} >= {"reminders:Asia/Jakarta:15:00", "reminders:sweep"}
        for _ in range(200):  # bounded wait for the dispatcher loop (it polls every second)
            if "🔔" in out.getvalue():
                break
            await asyncio.sleep(0.05)
    finally:
        await bg.stop()
    text = out.getvalue()
    [line] = [line for line in text.splitlines() if line.startswith("🔔 [to Pak Darto] ")]
    assert says(line, "pengingat.first", ksm="KSM Bejalen Makmur")
    assert text.count("🔔") == 1  # the test-channel identity's copy is not the console's to send
