"""The console channel: chat with the bot in a terminal as any person, for demos, training and tests.

Lines typed become `Inbound` messages (channel CONSOLE, user id = the person's code); what the bot says
is printed, with its buttons as numbered options `[1] Hadir  [2] Progres`. Typing a number or a button's
label presses that button. Console commands (handled here, never sent to the bot):

    /as KODE              switch to another person
    /foto PATH [caption]  send a photo from disk
    /lokasi LAT LON       send a location
    /suara PATH           send a voice note
    /keluar               end (so does Ctrl-D)

A line starting with an apostrophe is sent as typed text even when it looks like a number ('5 sends "5").
The loop reads from and writes to any text streams, so tests drive it with StringIO.
"""

from __future__ import annotations

import asyncio
import mimetypes
import queue
import re
import shlex
import sys
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.text import Text

from kotaku import catalogue
from kotaku.catalogue import role_label
from kotaku.db import Database
from kotaku.dialog.engine import Engine
from kotaku.models import Channel
from kotaku.schemas import Choice, Inbound, InboundKind, Outbound, OutboundKind
from kotaku.services import people
from kotaku.services.people import PersonEntry

EXIT_WORDS = {"/keluar", "/exit", "/quit"}


async def list_people(db: Database) -> list[PersonEntry]:
    """Every person, by role and code (for `kotaku chat --list` and the `kotaku run` picker)."""
    async with db.session() as s:
        return await people.directory(s)


async def ensure_console_identity(db: Database, code: str) -> PersonEntry | None:
    """The person with this code, with a console identity (external id = code) created when missing."""
    async with db.transaction() as s:
        return await people.identity_by_code(s, Channel.CONSOLE, code)


class _LineReader:
    """Reads one line when asked, in a daemon thread, so the event loop never blocks and exit never hangs."""

    def __init__(self, stream: TextIO, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive
        self._requests: queue.Queue[tuple[str, asyncio.Future[str | None], asyncio.AbstractEventLoop]] = (
            queue.Queue()
        )
        self._thread = threading.Thread(target=self._work, name="console-input", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            prompt, fut, loop = self._requests.get()
            line: str | None
            try:
                if self.interactive:
                    line = input(prompt)
                else:
                    raw = self.stream.readline()
                    line = raw.rstrip("\r\n") if raw else None
            except EOFError:
                line = None
            except Exception:  # a closed stream is an end of input
                line = None
            loop.call_soon_threadsafe(_resolve, fut, line)

    async def readline(self, prompt: str = "") -> str | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str | None] = loop.create_future()
        self._requests.put((prompt, fut, loop))
        return await fut


def _resolve(fut: asyncio.Future[str | None], value: str | None) -> None:
    if not fut.done():
        fut.set_result(value)


_LABEL_EDGE = re.compile(r"^[^\w]+|[^\w]+$")


def _norm_label(text: str) -> str:
    return _LABEL_EDGE.sub("", text.strip().lower())


def match_choice(text: str, choices: list[Choice]) -> Choice | None:
    """A typed number (1-based) or label (emoji and case ignored) of the buttons on offer."""
    if not choices:
        return None
    raw = text.strip()
    if raw.isdigit():
        n = int(raw)
        return choices[n - 1] if 1 <= n <= len(choices) else None
    want = _norm_label(raw)
    if not want:
        return None
    for c in choices:
        if raw.lower() == c.label.lower() or want == _norm_label(c.label):
            return c
    return None


class ConsoleChat:
    """The console loop: one engine, one current person, input and output streams."""

    def __init__(
        self,
        engine: Engine,
        person_code: str,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        out_dir: Path | None = None,
        color: bool | None = None,
    ) -> None:
        self.engine = engine
        self.db = engine.db
        self.code = person_code
        self.person: PersonEntry | None = None
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.out_dir = out_dir or Path(engine.settings.app.data_dir) / "console-out"
        self.interactive = self.stdin is sys.stdin and _isatty(self.stdin) and self.stdout is sys.stdout
        self.rich = _isatty(self.stdout) if color is None else color
        self.console = (
            Console(file=self.stdout, highlight=False, markup=False, emoji=False) if self.rich else None
        )
        self.choices: list[Choice] = []
        self.sent = 0

    @property
    def lang(self) -> str:
        return self.person.language if self.person else self.engine.settings.app.language

    def t(self, key: str, **kw: object) -> str:
        return catalogue.t(key, self.lang, **kw)

    def _who(self) -> str:
        """The person acting, as people read it: name, code, role in words, scope."""
        assert self.person is not None
        p = self.person
        return self.t(
            "console.who", name=p.name, code=p.code, role=role_label(p.role, self.lang), scope=p.scope
        )

    # --- output ----------------------------------------------------------------------------------

    def _print(self, text: str, style: str | None = None) -> None:
        if self.console is not None:
            self.console.print(Text(text, style=style or ""))
        else:
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def note(self, text: str) -> None:
        """The console's own messages (not the bot's)."""
        self._print(f"· {text}", "dim")

    def notify(self, text: str) -> None:
        """A notification delivered from the outbox (reminders, alerts) while chatting."""
        self._print(text, "magenta")

    def render(self, replies: list[Outbound]) -> None:
        offered: list[Choice] = []
        for out in replies:
            if out.kind in (OutboundKind.IMAGE, OutboundKind.FILE) and out.content is not None:
                path = self._save(out)
                if out.text:
                    self._print(out.text, "cyan")
                self.note(self.t("console.saved", path=str(path)))
            elif out.text:
                self._print(out.text, "cyan")
            if out.choices:
                offered = list(out.choices)
                self._print("  ".join(f"[{i}] {c.label}" for i, c in enumerate(offered, 1)), "bold yellow")
        if replies:
            # Numbers and labels refer to the buttons of the latest answer only.
            self.choices = offered

    def _save(self, out: Outbound) -> Path:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name = Path(out.file_name or ("gambar.png" if out.kind == OutboundKind.IMAGE else "berkas.bin")).name
        path = self.out_dir / f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}-{name}"
        path.write_bytes(out.content or b"")
        return path

    # --- input -----------------------------------------------------------------------------------

    def _inbound(self, **kw: object) -> Inbound:
        assert self.person is not None
        return Inbound(
            channel=Channel.CONSOLE,
            user_id=self.person.code,
            chat_id=self.person.code,
            message_id=uuid.uuid4().hex,
            display_name=self.person.name,
            **kw,  # type: ignore[arg-type]
        )

    async def send(self, inbound: Inbound) -> list[Outbound]:
        self.sent += 1
        replies = await self.engine.handle(inbound)
        self.render(replies)
        return replies

    async def switch(self, code: str) -> bool:
        person = await ensure_console_identity(self.db, code)
        if person is None:
            self.note(catalogue.t("console.unknown_person", self.lang, code=code))
            return False
        self.person, self.code, self.choices = person, code, []
        return True

    async def handle_line(self, line: str) -> bool:
        """One typed line; False when the user asked to leave."""
        text = line.strip()
        if not text:
            return True
        head, _, rest = text.partition(" ")
        head_l = head.lower()
        if head_l in EXIT_WORDS:
            return False
        if head_l == "/as":
            if not rest.strip():
                self.note(self.t("console.usage_as"))
            elif await self.switch(rest.strip().split()[0]):
                assert self.person is not None
                self.note(self.t("console.switched", who=self._who()))
            return True
        if head_l in {"/foto", "/photo"}:
            await self._send_file(rest, InboundKind.PHOTO, "console.usage_foto", "image/jpeg")
            return True
        if head_l in {"/suara", "/voice"}:
            await self._send_file(rest, InboundKind.VOICE, "console.usage_suara", "audio/ogg")
            return True
        if head_l in {"/lokasi", "/location"}:
            await self._send_location(rest)
            return True
        if text.startswith("'"):
            await self.send(self._inbound(kind=InboundKind.TEXT, text=text[1:]))
            return True
        choice = match_choice(text, self.choices)
        if choice is not None:
            await self.send(self._inbound(kind=InboundKind.CHOICE, choice=choice.value, text=choice.label))
            return True
        await self.send(self._inbound(kind=InboundKind.TEXT, text=text))
        return True

    async def _send_file(self, rest: str, kind: InboundKind, usage: str, default_mime: str) -> None:
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = rest.split()
        if not parts:
            self.note(self.t(usage))
            return
        found = await asyncio.to_thread(_read_file, parts[0])
        if found is None:
            self.note(self.t("console.no_file", path=parts[0]))
            return
        path, content = found
        caption = " ".join(parts[1:]) or None
        mime = mimetypes.guess_type(path.name)[0] or default_mime
        await self.send(
            self._inbound(
                kind=kind,
                text=caption,
                file_bytes=content,
                file_size=len(content),
                file_name=path.name,
                mime_type=mime,
            )
        )

    async def _send_location(self, rest: str) -> None:
        """`-7.265 110.412`, `-7.265, 110.412` or `-7,265 110,412` (decimal comma)."""
        tokens = rest.replace(";", " ").split()
        if len(tokens) == 1 and tokens[0].count(",") == 1:
            tokens = tokens[0].split(",")
        tokens = [t.rstrip(",") for t in tokens]
        try:
            lat, lon = (float(t.replace(",", ".")) for t in tokens)
        except ValueError:
            self.note(self.t("console.usage_lokasi"))
            return
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            self.note(self.t("console.usage_lokasi"))
            return
        await self.send(self._inbound(kind=InboundKind.LOCATION, latitude=lat, longitude=lon))

    # --- the loop --------------------------------------------------------------------------------

    def _prompt(self) -> str:
        return f"{self.person.name if self.person else '?'}> "

    async def run(self) -> int:
        """Chat until /keluar or end of input; 0 on a clean end, 2 when the person code is unknown."""
        if not await self.switch(self.code):
            return 2
        assert self.person is not None
        self.note(self.t("console.banner", who=self._who()))
        reader = _LineReader(self.stdin, self.interactive)
        while True:
            line = await reader.readline(self._prompt() if self.interactive else "")
            if line is None:
                break
            if not await self.handle_line(line):
                break
        if self.interactive:
            self.note(self.t("console.bye"))
        return 0


def _read_file(path_text: str) -> tuple[Path, bytes] | None:
    path = Path(path_text).expanduser()
    if not path.is_file():
        return None
    return path, path.read_bytes()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
