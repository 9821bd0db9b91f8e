"""The `kotaku` command: the core's CLI (kotaku.cli) plus the commands that start channels, `chat` and `run`.

The core never imports `bot/`, so the entry point lives here: it takes kotaku's typer app and adds to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.console import ConsoleChat, list_people
from bot.console_sender import ConsoleSender
from kotaku import catalogue, clock
from kotaku.bootstrap import bootstrap
from kotaku.cli import app, err, out, run_async, state
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.models import Channel
from kotaku.reminders.scheduler import Background
from kotaku.security import mask_phone
from kotaku.services.people import PersonEntry

__all__ = ["app"]

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Waktu mulai ISO (mis. 2021-12-02T16:00, dibaca di zona waktu bawaan); jam berjalan dari sana.",
    ),
]
AsOption = Annotated[str | None, typer.Option("--as", help="Kode orang (lihat: kotaku chat --list).")]


def _t(key: str, /, **params: Any) -> str:
    """A catalogue sentence in `app.language`."""
    return catalogue.t(key, state.settings.app.language, **params)


def _say(key: str, /, **params: Any) -> None:
    out.print(_t(key, **params), markup=False, highlight=False, soft_wrap=True)


def _fail(key: str, status: int = 2, /, **params: Any) -> typer.Exit:
    """Say what went wrong (stderr, red); the exit (with `status`) to raise."""
    err.print(_t(key, **params), style="red", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(status)


def replay_clock(at: str | None, default_tz: str) -> Callable[[], datetime] | None:
    """A clock that starts at `--at` and runs on in real time (None: the real clock)."""
    start = clock.parse_at(at, default_tz)
    if start is None:
        return None
    t0 = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - t0)


def _parse_at_or_exit(at: str | None, settings: Settings) -> Callable[[], datetime] | None:
    try:
        return replay_clock(at, settings.app.default_timezone)
    except ValueError as exc:
        raise _fail("cli.bad_at", 2, value=at) from exc


async def _chat(
    settings: Settings, code: str, now: Callable[[], datetime] | None, background: bool = False
) -> int:
    """The console chat; with `background`, reminders and outbox delivery run beside it (`kotaku run`)."""
    kotaku = bootstrap(settings, now=now)
    bg: Background | None = None
    try:
        chat = ConsoleChat(kotaku.engine, code)
        if background:
            kotaku.add_sender(Channel.CONSOLE, ConsoleSender(kotaku.db, chat.notify))
            bg = await kotaku.start_background()
        return await chat.run()
    finally:
        if bg is not None:
            await bg.stop()
        await kotaku.close()


async def _people(settings: Settings) -> list[PersonEntry]:
    db = Database(settings)
    try:
        return await list_people(db)
    finally:
        await db.dispose()


def _people_table(people: list[PersonEntry], numbered: bool = False) -> Table:
    """The people as `kotaku chat --list` and the picker show them: roles by their label, in `app.language`."""
    lang = state.settings.app.language
    table = Table(title=_t("run.people.title"))
    if numbered:
        table.add_column("#", justify="right")
    for col in ("code", "name", "role", "scope", "phone"):
        header = _t(f"run.people.col.{col}")
        # (a narrow terminal wraps names and places, never cuts a header)
        table.add_column(header, no_wrap=col in ("code", "role", "phone"), min_width=len(header))
    for i, p in enumerate(people, 1):
        row = [p.code, p.name, catalogue.role_label(p.role, lang), p.scope, mask_phone(p.phone)]
        table.add_row(*([str(i), *row] if numbered else row))
    return table


def _run_chat(settings: Settings, code: str, at: str | None, background: bool = False) -> None:
    now = _parse_at_or_exit(at, settings)
    try:
        code_rc = run_async(_chat(settings, code, now, background))
    except KeyboardInterrupt:
        code_rc = 0
    raise typer.Exit(code_rc)


@app.command()
def chat(
    as_: AsOption = None,
    list_: Annotated[bool, typer.Option("--list", help="Daftar orang (kode, nama, peran, cakupan).")] = False,
    at: AtOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Dengan --list: satu dokumen JSON.")] = False,
) -> None:
    """Chat with the bot in this terminal as one person (console channel; Ctrl-D or /keluar ends)."""
    settings = state.settings
    _require_migrated(settings)
    if list_:
        people = run_async(_people(settings))
        if as_json:
            print(
                json.dumps(
                    [
                        {
                            "code": p.code,
                            "name": p.name,
                            "role": p.role,
                            "scope": p.scope,
                            "phone": mask_phone(p.phone),
                        }
                        for p in people
                    ]
                )
            )
            return
        out.print(_people_table(people))
        return
    if not as_:
        raise _fail("run.chat_needs_person", 2)
    _run_chat(settings, as_, at)


CHANNEL_MODULES = {"telegram": "bot.telegram", "whatsapp": "bot.whatsapp"}


def _require_migrated(settings: Settings) -> None:
    """Refuse to start on a database that is behind the code, with the command that fixes it."""
    from kotaku import migrate

    current, head = migrate.current_revision(settings), migrate.head_revision()
    if current != head:
        raise _fail("run.not_migrated", 2, current=current or _t("cli.db.base"), head=head)


@app.command()
def run(as_: AsOption = None, at: AtOption = None) -> None:
    """Start the bot: Telegram/WhatsApp when configured, otherwise the console chat on the demo data."""
    settings = state.settings
    _require_migrated(settings)
    wanted = [
        name
        for name, on in (("telegram", settings.has_telegram()), ("whatsapp", settings.has_whatsapp()))
        if on
    ]
    if wanted:
        _run_channels(settings, wanted)
        return
    people = run_async(_people(settings))
    if not people:
        raise _fail("run.no_people", 2)
    code = as_ or _pick_person(people)
    _say("run.console_fallback")
    _run_chat(settings, code, at, background=True)


def _pick_person(people: list[PersonEntry]) -> str:
    """Ask on a terminal; otherwise the first KSM coordinator (or the first person)."""
    default = next((p for p in people if p.role == "ketua_ksm"), people[0])
    if not sys.stdin.isatty():
        return default.code
    out.print(_people_table(people, numbered=True))
    while True:
        try:
            answer = input(_t("run.pick", default=default.code)).strip()
        except EOFError:
            raise typer.Exit(0) from None
        if not answer:
            return default.code
        if answer.isdigit() and 1 <= int(answer) <= len(people):
            return people[int(answer) - 1].code
        for p in people:
            if p.code.lower() == answer.lower():
                return p.code
        err.print(_t("run.pick_unknown", answer=answer), markup=False, highlight=False, soft_wrap=True)


def _run_channels(settings: Settings, wanted: list[str]) -> None:
    """Start the configured channels together: one event loop, one bootstrap, one web server with every
    channel's routes, one background with every channel's sender. Each channel module exposes
    `part(settings)` (bot.serve.ChannelPart) and `StartError` for a configuration it cannot start with."""
    modules = []
    for name in wanted:
        try:
            modules.append(importlib.import_module(CHANNEL_MODULES[name]))
        except ModuleNotFoundError:
            raise _fail("run.channel_missing", 2, name=name, module=CHANNEL_MODULES[name]) from None
    for module in modules:
        if not callable(getattr(module, "part", None)):
            raise _fail("run.channel_no_part", 2, module=module.__name__)
    start_errors = tuple(m.StartError for m in modules if hasattr(m, "StartError"))
    try:
        parts = [module.part(settings) for module in modules]
    except start_errors as exc:
        raise _fail("run.channel_cannot_start", 2, reason=str(exc)) from None
    from bot.serve import serve_channels
    from kotaku.logs import configure_from

    configure_from(settings.logging, state.log_level)  # the server's logs: `logging` (JSON lines or not)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_channels(settings, parts))


bench_app = typer.Typer(
    help="Benchmarks against local fakes on 127.0.0.1: figures and ratios.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")


def _source_checkout(*needed: str) -> None:
    """Put the source checkout on sys.path for a benchmark, or exit 2 saying that one is needed.

    Benchmarks are a development feature: they import `benchmarks/` (and `tests/fake_botapi.py`), which
    only a source checkout has; an installed wheel ships neither. They never read the configuration, so the
    sentence is said in both languages, Indonesian first.
    """
    root = Path(__file__).resolve().parents[1]
    missing = [path for path in needed if not (root / path).is_file()]
    if missing:
        for lang in catalogue.LANGUAGES:
            text = catalogue.t("run.bench_needs_checkout", lang, missing=", ".join(missing))
            err.print(text, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


@bench_app.command("delivery")
def bench_delivery(
    rate: Annotated[float, typer.Option(help="Limit R of the fake Bot API, messages per second.")] = 1000.0,
    messages: Annotated[int, typer.Option(help="Reminders queued in the outbox.")] = 10_000,
    failures: Annotated[
        float, typer.Option(help="Share of sends answered 500 or left hanging (second run).")
    ] = 0.1,
    sender: Annotated[
        str, typer.Option(help="raw (minimal HTTP client) or telegram (TelegramSender).")
    ] = "raw",
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """N reminders through the outbox dispatcher to a rate-limiting fake Bot API: rate ÷ R, 429s, drain time,
    and exactly-once delivery with injected failures (benchmarks/delivery.py)."""
    _source_checkout("benchmarks/delivery.py", "tests/fake_botapi.py")
    from benchmarks.delivery import render, run_bench

    result = run_async(run_bench(rate, messages, failures, sender=sender))
    if as_json:
        print(json.dumps(result))
        return
    out.print(render(result))


@bench_app.command("telegram")
def bench_telegram(
    scale: Annotated[
        str, typer.Option(help="pilot (100 KSMs) or national (11,000 KSMs, 33,000 activities).")
    ] = "pilot",
    database_url: Annotated[
        str | None,
        typer.Option(
            help="A new SQLite file (removed after) or PostgreSQL (postgresql+asyncpg://...; a schema, "
            "dropped after). Default: a temporary SQLite file; database.url is never used."
        ),
    ] = None,
    processes: Annotated[
        int, typer.Option(min=1, help="Bot processes, the chats sharded by chat id (>1: PostgreSQL only).")
    ] = 1,
    updates: Annotated[
        int, typer.Option(min=1, help="Updates in each measured run (all processes).")
    ] = 3_000,
    repeat: Annotated[int, typer.Option(min=1, help="Measured runs (min and median).")] = 3,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Conversations in flight at a time in each process.")
    ] = 32,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """KSM coordinators report through the real PTB Application (in-memory Bot API): attendance, progress,
    obstacles, /rekap, 3% redelivered. Updates/s, p50/p95/p99 latency and SQL statements per step type,
    the PTB and minimal-step floors, the targets (benchmarks/bench_telegram.py)."""
    _source_checkout(
        "benchmarks/bench_telegram.py", "benchmarks/bench_monitoring.py", "tests/catalogue_keys.py"
    )
    from benchmarks.bench_telegram import render as render_tg
    from benchmarks.bench_telegram import run as run_tg

    try:
        result = run_tg(scale, database_url, processes, updates, repeat, concurrency, quiet=as_json)
    except ValueError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(result))
        return
    out.print(render_tg(result), markup=False, highlight=False, soft_wrap=True)


@bench_app.command("load")
def bench_load(
    rates: Annotated[
        str, typer.Option(help="Request rates to try in turn, per second, separated by commas.")
    ] = "50,100,200,400",
    seconds: Annotated[
        float, typer.Option(min=0.5, max=120.0, help="Seconds of sending at each rate.")
    ] = 10.0,
    chats: Annotated[
        int, typer.Option(min=1, max=5000, help="KSM coordinators (one chat each) who send.")
    ] = 500,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="On PostgreSQL instead of a temporary SQLite file (postgresql+asyncpg://...; "
            "a temporary database, dropped after)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """The Telegram webhook of a real `kotaku run` on 127.0.0.1 under an open-loop client at fixed rates:
    ack latency p50/p95/p99, errors, achieved rate, time until each update is handled, and the highest
    sustained rate (benchmarks/bench_load.py)."""
    _source_checkout("benchmarks/bench_load.py", "tests/fake_botapi.py", "tests/webhook_bot.py")
    from benchmarks.bench_load import check_database_url, parse_rates
    from benchmarks.bench_load import render as render_load
    from benchmarks.bench_load import run as run_load

    try:
        wanted = parse_rates(rates)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rates") from None
    try:
        check_database_url(database_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database-url") from None
    result = run_load(wanted, seconds, chats, database_url, quiet=as_json)
    if as_json:
        print(json.dumps(result))
        return
    out.print(render_load(result), markup=False, highlight=False, soft_wrap=True)


@bench_app.command("monitoring")
def bench_monitoring(
    activities: Annotated[int, typer.Option(help="Activities in the synthetic national program.")] = 33_000,
    kelurahan: Annotated[int, typer.Option(help="Kelurahan (one BKM and one KSM each).")] = 11_000,
    days: Annotated[int, typer.Option(help="Work days of daily progress and attendance.")] = 60,
    workers_per_day: Annotated[int, typer.Option(help="Workers present a day, program-wide.")] = 60_000,
    database_url: Annotated[
        str | None,
        typer.Option(help="Also on PostgreSQL (postgresql+asyncpg://...; a schema, dropped after)."),
    ] = None,
    scaling: Annotated[bool, typer.Option(help="Also 1k and 10k activities (scaling table).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """A full monitoring sweep of a synthetic national program on SQLite (and PostgreSQL): time, peak
    memory, ratio to one plain aggregate query, scaling table (benchmarks/bench_monitoring.py). `--json`:
    the largest size's `sweep_s`, `floor_s`, `peak_mb`, `incremental_ms` at the top, every size in `runs`."""
    _source_checkout("benchmarks/bench_monitoring.py")
    from benchmarks.bench_monitoring import run as run_monitoring
    from benchmarks.bench_monitoring import summary as monitoring_summary

    url = database_url or os.environ.get("KOTAKU_TEST_DATABASE_URL")
    results = run_monitoring(activities, kelurahan, days, workers_per_day, url, scaling, quiet=as_json)
    if as_json:
        print(json.dumps(monitoring_summary(results), default=str))


@bench_app.command("export")
def bench_export(
    rows: Annotated[
        int, typer.Option(min=1, help="Attendance rows in the synthetic national program.")
    ] = 1_000_000,
    repeat: Annotated[int, typer.Option(min=1, help="Runs of each export (min and median).")] = 3,
    database_url: Annotated[
        str | None,
        typer.Option(help="Also on PostgreSQL (postgresql+asyncpg://...; a schema, dropped after)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """The XLSX and CSV export of a whole synthetic national program (`--rows` attendance rows) on SQLite
    (and PostgreSQL): time min/median, peak memory, size, rows written, ratio to a plain SELECT of the
    same rows, the targets (benchmarks/bench_export.py)."""
    _source_checkout("benchmarks/bench_export.py", "benchmarks/bench_monitoring.py")
    from benchmarks.bench_export import run as run_export

    url = database_url or os.environ.get("KOTAKU_TEST_DATABASE_URL")
    results = run_export(rows, repeat, url, quiet=as_json)
    if as_json:
        print(json.dumps(results, default=str))


@bench_app.command("parsers")
def bench_parsers(
    examples: Annotated[
        int, typer.Option(min=0, help="Inputs per reader steered toward the slowest (Hypothesis target).")
    ] = 300,
    repeat: Annotated[
        int, typer.Option(min=1, help="Reads of the slowest input found (min and median).")
    ] = 5,
    only: Annotated[list[str] | None, typer.Option(help="Only this reader (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Satu dokumen JSON di stdout.")] = False,
) -> None:
    """The slowest input up to 4,096 characters found for each reader of typed text (counts, names,
    reports, amounts, numbers, dates, NIK, phone, import cells), its CPU time min/median against 50 ms;
    exit 1 when one is over (benchmarks/bench_parsers.py)."""
    _source_checkout("benchmarks/bench_parsers.py", "tests/fuzz/strategies.py")
    from benchmarks.bench_parsers import run as run_parsers

    try:
        result = run_parsers(examples, repeat, only, quiet=as_json)
    except ValueError as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(result))
    if not result["pass"]:
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
