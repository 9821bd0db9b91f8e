"""The console channel: numbered buttons, numbers and labels as taps, /as, /foto, /lokasi, /suara, EOF,
saved images, and the real `kotaku chat` / `kotaku run` commands in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.console import ConsoleChat, match_choice
from kotaku import catalogue
from kotaku.db import Database
from kotaku.dialog.engine import Engine
from kotaku.models import Base, Channel, ChannelIdentity, ConversationState, ProcessedInbound
from kotaku.schemas import Choice, Inbound, InboundKind, Outbound, OutboundKind
from kotaku.security import NikVault, generate_key
from tests.catalogue_keys import fills, keys_in, says
from tests.e2e.conftest import World
from tests.factories import build_program


class Spy:
    """The engine, recording every inbound the console produced."""

    def __init__(self, engine: Engine, extra: list[Outbound] | None = None) -> None:
        self.engine, self.db, self.settings = engine, engine.db, engine.settings
        self.seen: list[Inbound] = []
        self.extra = extra or []

    async def handle(self, inbound: Inbound) -> list[Outbound]:
        self.seen.append(inbound)
        return [*(await self.engine.handle(inbound)), *self.extra]


def console(
    world: World, code: str, lines: list[str], tmp_path: Path, **kw: object
) -> tuple[ConsoleChat, Spy]:
    spy = Spy(world.engine, **kw)  # type: ignore[arg-type]
    chat = ConsoleChat(
        spy,  # type: ignore[arg-type]
        code,
        stdin=io.StringIO("".join(line + "\n" for line in lines)),
        stdout=io.StringIO(),
        out_dir=tmp_path / "console-out",
    )
    return chat, spy


def output(chat: ConsoleChat) -> str:
    assert isinstance(chat.stdout, io.StringIO)
    return chat.stdout.getvalue()


async def processed_console_ids(world: World) -> list[str]:
    async with world.db.session() as s:
        rows = await s.execute(
            select(ProcessedInbound.message_id).where(ProcessedInbound.channel == Channel.CONSOLE)
        )
        return list(rows.scalars())


async def test_numbered_choices_number_and_label_press_buttons(world: World, tmp_path: Path) -> None:
    chat, spy = console(world, "ketua-a", ["/menu"], tmp_path)
    assert await chat.run() == 0
    menu = chat.choices
    rekap = next(i for i, c in enumerate(menu, 1) if c.value == "/rekap")
    text = output(chat)
    assert says(text, "console.banner", who="Pak Darto (ketua-a, ketua KSM, KSM Bejalen Makmur)")
    assert "[1] " + menu[0].label in text and f"[{rekap}] {catalogue.t('rekap.menu')}" in text
    assert "  ".join(f"[{i}] {c.label}" for i, c in enumerate(menu, 1)) in text

    # The number; then, with the menu on offer again, the label without its emoji.
    for line in (str(rekap), "/menu", "rekap"):
        assert await chat.handle_line(line)
    assert output(chat).count(catalogue.t("rekap.title", scope="KSM Bejalen Makmur")) == 2
    assert [(i.kind, i.choice) for i in spy.seen[1:]] == [
        (InboundKind.CHOICE, "/rekap"),
        (InboundKind.TEXT, None),
        (InboundKind.CHOICE, "/rekap"),
    ]

    # The console identity was created for the code, and every message had its own uuid.
    async with world.db.session() as s:
        ident = (
            await s.execute(select(ChannelIdentity).where(ChannelIdentity.channel == Channel.CONSOLE))
        ).scalar_one()
        assert (ident.external_id, ident.chat_id, ident.person_id) == (
            "ketua-a",
            "ketua-a",
            world.program["ketua-a"],
        )
    ids = await processed_console_ids(world)
    assert len(ids) == 4 and len(set(ids)) == 4 and all(len(i) == 32 for i in ids)
    assert {i.user_id for i in spy.seen} == {"ketua-a"} and {i.chat_id for i in spy.seen} == {"ketua-a"}


async def test_numbers_are_text_when_no_buttons_and_apostrophe_forces_text(
    world: World, tmp_path: Path
) -> None:
    chat, spy = console(world, "ketua-a", ["/rekap KSM-TMB-01", "1", "'1", "42"], tmp_path)
    assert await chat.run() == 0
    kinds = [(i.kind, i.choice or i.text) for i in spy.seen]
    # "1" pressed the only button ("my whole scope"), which answered with a /status-less summary: no
    # buttons left, so "42" is plain text again.
    assert kinds == [
        (InboundKind.TEXT, "/rekap KSM-TMB-01"),
        (InboundKind.CHOICE, "semua"),
        (InboundKind.TEXT, "1"),
        (InboundKind.TEXT, "42"),
    ]
    assert "rekap.outside_scope" in keys_in(output(chat))


async def test_as_switches_person_and_unknown_code_keeps_current(world: World, tmp_path: Path) -> None:
    chat, spy = console(world, "ketua-a", ["/as askot", "/status", "/as nobody", "/rekap", "/as"], tmp_path)
    assert await chat.run() == 0
    text = output(chat)
    assert says(text, "console.switched", who="Pak Hendra (askot, Askot, Kabupaten Semarang)")
    assert says(text, "status.count", done=0, total=3)
    assert says(text, "console.unknown_person", code="nobody")
    # still askot after the unknown code
    assert catalogue.t("rekap.title", scope="Kabupaten Semarang") in text
    assert "console.usage_as" in keys_in(text)
    assert [i.user_id for i in spy.seen] == ["askot", "askot"]
    async with world.db.session() as s:
        console_people = set(
            (
                await s.execute(
                    select(ChannelIdentity.external_id).where(ChannelIdentity.channel == Channel.CONSOLE)
                )
            ).scalars()
        )
        convs = (
            await s.execute(
                select(func.count(ConversationState.id)).where(
                    ConversationState.channel == Channel.CONSOLE, ConversationState.user_id == "askot"
                )
            )
        ).scalar_one()
    assert console_people == {"ketua-a", "askot"} and convs == 1


async def test_foto_lokasi_suara_send_files_and_places(world: World, tmp_path: Path) -> None:
    jpeg = tmp_path / "rabat beton.jpg"
    Image.new("RGB", (40, 30), (200, 120, 40)).save(jpeg, "JPEG")
    voice = tmp_path / "kendala.ogg"
    voice.write_bytes(b"OggS" + b"\0" * 60)
    lines = [
        f'/foto "{jpeg}" progres 50% rabat',
        "/foto /tidak/ada.jpg",
        "/lokasi -7.2650 110.4120",
        "/lokasi -7,2650, 110,4120",
        "/lokasi utara",
        "/lokasi 95 10",
        f"/suara {voice}",
        "/keluar",
        "/rekap",
    ]
    chat, spy = console(world, "ketua-a", lines, tmp_path)
    assert await chat.run() == 0
    photo, loc1, loc2, sound = spy.seen
    assert photo.kind == InboundKind.PHOTO and photo.file_bytes == jpeg.read_bytes()
    assert (photo.mime_type, photo.file_name, photo.text) == (
        "image/jpeg",
        "rabat beton.jpg",
        "progres 50% rabat",
    )
    assert photo.file_size == jpeg.stat().st_size
    assert (loc1.kind, loc1.latitude, loc1.longitude) == (InboundKind.LOCATION, -7.265, 110.412)
    assert (loc2.latitude, loc2.longitude) == (-7.265, 110.412)
    assert sound.kind == InboundKind.VOICE and sound.file_bytes == voice.read_bytes()
    assert sound.mime_type == "audio/ogg"
    text = output(chat)
    assert says(text, "console.no_file", path="/tidak/ada.jpg")
    assert text.count(catalogue.t("console.usage_lokasi")) == 2
    assert fills(text, "rekap.title") == []  # nothing after /keluar was sent
    assert len(await processed_console_ids(world)) == 4


async def test_images_from_the_bot_are_saved(world: World, tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    extra = [Outbound(kind=OutboundKind.IMAGE, text="Kurva S", content=png, file_name="kurva.png")]
    chat, _ = console(world, "ketua-a", ["halo"], tmp_path, extra=extra)
    assert await chat.run() == 0
    saved = list((tmp_path / "console-out").glob("*kurva.png"))
    assert len(saved) == 1 and saved[0].read_bytes() == png
    assert says(output(chat), "console.saved", path=str(saved[0])) and "Kurva S" in output(chat)


async def test_unknown_person_code_exits_2(world: World, tmp_path: Path) -> None:
    chat, spy = console(world, "nobody", ["/rekap"], tmp_path)
    assert await chat.run() == 2
    assert spy.seen == [] and says(output(chat), "console.unknown_person", code="nobody")


def test_match_choice() -> None:
    choices = [
        Choice(label="📋 Status laporan", value="/status"),
        Choice(label="❓ Bantuan", value="/bantuan"),
    ]
    assert match_choice("2", choices) is choices[1]
    assert match_choice("status laporan", choices) is choices[0]
    assert match_choice("❓ BANTUAN", choices) is choices[1]
    assert match_choice("3", choices) is None and match_choice("status", choices) is None
    assert match_choice("1", []) is None


# --- the real command -----------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTAKU_")}
    env.update(
        KOTAKU_DATABASE__URL=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        KOTAKU_SECURITY__NIK_KEY=generate_key(),
        KOTAKU_APP__DATA_DIR=str(tmp_path),
        KOTAKU_MEDIA__DIR=str(tmp_path / "media"),
    )
    return env


def kotaku(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "kotaku"
    return subprocess.run(
        [str(exe), *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


async def test_kotaku_chat_and_run_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    up = kotaku(cli_env, tmp_path, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    from kotaku.config import load_settings

    settings = load_settings(
        database={"url": cli_env["KOTAKU_DATABASE__URL"]}, app={"data_dir": str(tmp_path)}
    )
    db = Database(settings)
    try:
        await build_program(db, NikVault(cli_env["KOTAKU_SECURITY__NIK_KEY"]), date.today())
        assert Base.metadata.tables  # migrated schema accepted the ORM rows
    finally:
        await db.dispose()

    listed = kotaku(cli_env, tmp_path, "chat", "--list")
    assert listed.returncode == 0 and "ketua-a" in listed.stdout and "Pak Darto" in listed.stdout
    as_json = json.loads(kotaku(cli_env, tmp_path, "chat", "--list", "--json").stdout)
    assert {
        "code": "askot",
        "name": "Pak Hendra",
        "role": "askot",
        "scope": "Kabupaten Semarang",
        "phone": "",
    } in as_json

    chat = kotaku(cli_env, tmp_path, "chat", "--as", "ketua-a", stdin="/menu\n/rekap\n")
    assert chat.returncode == 0, chat.stderr
    assert "Pak Darto" in chat.stdout
    assert catalogue.t("rekap.title", scope="KSM Bejalen Makmur") in chat.stdout
    assert "[1] " in chat.stdout and "\x1b[" not in chat.stdout  # plain output when piped

    run = kotaku(cli_env, tmp_path, "run", "--at", "2026-11-26T16:00", stdin="/rekap\n")
    assert run.returncode == 0, run.stderr
    assert "konsol" in run.stdout and "Pak Darto (ketua-a" in run.stdout  # first ketua by default
    assert "Kamis, 26 November 2026" in run.stdout

    missing = kotaku(cli_env, tmp_path, "chat", "--as", "siapa")
    assert missing.returncode == 2 and "siapa" in missing.stdout

    import importlib.util

    if importlib.util.find_spec("bot.telegram") is None:
        tg = kotaku({**cli_env, "KOTAKU_TELEGRAM__TOKEN": "123:abc"}, tmp_path, "run")
        assert tg.returncode == 2 and "bot.telegram" in tg.stderr
