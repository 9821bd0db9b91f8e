"""`Outbound` -> WhatsApp Cloud API sends, within Meta's limits (pywa checks none of them, and one title
over its limit makes Meta refuse the whole message):

- up to 3 choices: reply buttons (title ≤ 20 characters); 4 to 10: a list message (button label ≤ 20,
  row title ≤ 24, description ≤ 72); more than 10: pages of 9 rows and a "Berikutnya ▶️" row (`columns`
  mean nothing here);
- an interactive body ≤ 1024 characters, a text ≤ 4096: longer texts are split (at line breaks when
  possible) and the buttons go with the last piece; titles are cut with "…", and every cut is logged;
- images and files are uploaded, then sent by media id, with a caption ≤ 1024 (a longer text follows
  the media as its own message);
- `edit_key` (Telegram edits the checklist in place) sends a new message.

Choice ids are our choice values; one longer than Meta allows (256 for a button, 200 for a row) or
starting with "~" is replaced by a short token. Tokens and the full choice lists of paged lists live in a
bounded in-memory LRU (`ChoiceMemory`), per chat: after a restart, or once a chat's list has been pushed
out by newer ones, a press on such a row or button is answered "send the command again".
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import structlog
from pywa_async import WhatsApp
from pywa_async.types import Button, Section, SectionList, SectionRow

from kotaku import catalogue
from kotaku.schemas import Choice, Outbound, OutboundKind

log = structlog.get_logger(__name__)

MAX_TEXT = 4096
MAX_BODY = 1024  # interactive body
MAX_CAPTION = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_ROW_ID = 200
MAX_LIST_BUTTON = 20
MAX_SECTION_TITLE = 24
PAGE_ROWS = 9  # rows per page of a long list; the tenth is "Berikutnya ▶️"
ELLIPSIS = "…"
TOKEN_PREFIX = "~"
VALUE_TOKEN = "~v"
PAGE_TOKEN = "~p"


def truncate(text: str, limit: int, what: str, on_cut: Callable[[str], None] | None = None) -> str:
    """`text` within `limit` characters, cut with "…" (and logged) when it is longer."""
    if len(text) <= limit:
        return text
    log.warning("whatsapp_text_truncated", field=what, length=len(text), limit=limit)
    if on_cut is not None:
        on_cut(what)
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line or word break when there is one."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def cut_tail(text: str, limit: int) -> tuple[str, str]:
    """(head, tail) with the tail at most `limit` characters, as long as possible, starting after a line
    break (else a space) when there is one in reach."""
    if len(text) <= limit:
        return "", text
    start = len(text) - limit
    for sep in ("\n", " "):
        i = text.find(sep, start - 1)
        if i != -1 and len(text) - i - 1 >= limit // 2:
            return text[:i].rstrip(), text[i + 1 :].lstrip("\n ")
    return text[:start], text[start:]


def interactive_split(text: str) -> tuple[list[str], str]:
    """The text pieces to send before an interactive message, and its body (≤ 1024 characters)."""
    if not text.strip():
        return [], ELLIPSIS
    pieces = split_text(text, MAX_TEXT)
    last = pieces.pop()
    head, body = cut_tail(last, MAX_BODY)
    if head:
        pieces.append(head)
    return pieces, body or ELLIPSIS


# --- what is sent ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPiece:
    text: str


@dataclass(frozen=True)
class ButtonsPiece:
    body: str
    buttons: list[tuple[str, str]]  # (id, title)


@dataclass(frozen=True)
class Row:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True)
class ListPiece:
    body: str
    button: str
    section: str
    rows: list[Row]


@dataclass(frozen=True)
class MediaPiece:
    kind: str  # "image" or "document"
    content: bytes = field(repr=False)
    file_name: str
    mime_type: str
    caption: str | None = None


Piece = TextPiece | ButtonsPiece | ListPiece | MediaPiece


# --- remembered choices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PagedList:
    choices: list[Choice]
    pages: int


@dataclass(frozen=True)
class Pressed:
    """What a pressed choice id means: a value for the engine, a page to show, or something forgotten."""

    value: str | None = None
    page: int | None = None
    token: str | None = None
    expired: bool = False


def page_starts(total: int) -> list[int]:
    """Where each page of a list of `total` choices starts: pages of PAGE_ROWS plus a "next" row, and a
    last page of up to MAX_ROWS."""
    starts = [0]
    while total - starts[-1] > MAX_ROWS:
        starts.append(starts[-1] + PAGE_ROWS)
    return starts


class ChoiceMemory:
    """Per chat, bounded (least recently used chats are forgotten first): the values behind long-value
    tokens and the full choice lists of paged lists (the last `lists_per_chat` of each chat)."""

    def __init__(self, chats: int = 20_000, lists_per_chat: int = 3, values_per_chat: int = 64) -> None:
        self.chats = chats
        self.lists_per_chat = lists_per_chat
        self.values_per_chat = values_per_chat
        self._chats: collections.OrderedDict[str, _ChatMemory] = collections.OrderedDict()
        # A page token names its list in this process only: an old page pressed after a restart must not
        # open a new list that happens to have the same number.
        self._epoch = secrets.token_hex(2)
        self._counter = itertools.count(1)

    def _chat(self, chat_id: str, create: bool = True) -> _ChatMemory | None:
        memory = self._chats.get(chat_id)
        if memory is None:
            if not create:
                return None
            memory = self._chats[chat_id] = _ChatMemory()
            while len(self._chats) > self.chats:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat_id)
        return memory

    def encode(self, chat_id: str, value: str, limit: int) -> str:
        """The id to send for a choice value: the value itself when it fits, else a token."""
        if len(value) <= limit and not value.startswith(TOKEN_PREFIX):
            return value
        token = VALUE_TOKEN + hashlib.sha256(value.encode()).hexdigest()[:20]
        memory = self._chat(chat_id)
        assert memory is not None
        _remember(memory.values, token, value, self.values_per_chat)
        return token

    def remember_list(self, chat_id: str, choices: list[Choice]) -> str:
        token = f"{self._epoch}{next(self._counter):x}"
        memory = self._chat(chat_id)
        assert memory is not None
        _remember(
            memory.lists, token, PagedList(list(choices), len(page_starts(len(choices)))), self.lists_per_chat
        )
        return token

    def paged(self, chat_id: str, token: str) -> PagedList | None:
        memory = self._chat(chat_id, create=False)
        return memory.lists.get(token) if memory is not None else None

    def pressed(self, chat_id: str, choice: str) -> Pressed:
        """What the id of a pressed button or row means in this chat."""
        if not choice.startswith(TOKEN_PREFIX):
            return Pressed(value=choice)
        memory = self._chat(chat_id, create=False)
        if choice.startswith(VALUE_TOKEN):
            value = memory.values.get(choice) if memory is not None else None
            return Pressed(value=value) if value is not None else Pressed(expired=True)
        if choice.startswith(PAGE_TOKEN):
            page, _, token = choice.removeprefix(PAGE_TOKEN).partition(".")
            if page.isdigit() and memory is not None and token in memory.lists:
                return Pressed(page=int(page), token=token)
        return Pressed(expired=True)


@dataclass
class _ChatMemory:
    values: collections.OrderedDict[str, str] = field(default_factory=collections.OrderedDict)
    lists: collections.OrderedDict[str, PagedList] = field(default_factory=collections.OrderedDict)


def _remember(store: collections.OrderedDict, key: str, value: object, capacity: int) -> None:  # type: ignore[type-arg]
    store[key] = value
    store.move_to_end(key)
    while len(store) > capacity:
        store.popitem(last=False)


# --- Outbound -> pieces ------------------------------------------------------------------------------


class Planner:
    """Turns `Outbound`s into the pieces that fit WhatsApp (pure apart from the choice memory)."""

    def __init__(self, memory: ChoiceMemory, on_cut: Callable[[str], None] | None = None) -> None:
        self.memory = memory
        self.on_cut = on_cut

    def _cut(self, text: str, limit: int, what: str) -> str:
        return truncate(text, limit, what, self.on_cut)

    def plan(self, chat_id: str, out: Outbound, lang: str) -> list[Piece]:
        if out.kind in (OutboundKind.IMAGE, OutboundKind.FILE):
            return self._media(chat_id, out, lang)
        if not out.choices:
            return [TextPiece(p) for p in split_text(out.text) if p.strip()]
        head, body = interactive_split(out.text)
        return [*(TextPiece(p) for p in head), *self.choices(chat_id, body, out.choices, lang)]

    def _media(self, chat_id: str, out: Outbound, lang: str) -> list[Piece]:
        image = out.kind == OutboundKind.IMAGE
        name = out.file_name or ("grafik.png" if image else "berkas")
        mime = out.mime_type or ("image/png" if image else "application/octet-stream")
        text = out.text.strip()
        with_caption = bool(text) and len(out.text) <= MAX_CAPTION and not out.choices
        media = MediaPiece(
            "image" if image else "document",
            out.content or b"",
            name,
            mime,
            out.text if with_caption else None,
        )
        if with_caption or (not text and not out.choices):
            return [media]
        rest = Outbound(text=out.text, choices=out.choices)
        return [media, *self.plan(chat_id, rest, lang)]

    def choices(self, chat_id: str, body: str, choices: list[Choice], lang: str) -> list[Piece]:
        if len(choices) <= MAX_BUTTONS:
            buttons = [
                (
                    self.memory.encode(chat_id, c.value, MAX_BUTTON_ID),
                    self._cut(c.label or c.value, MAX_BUTTON_TITLE, "button title"),
                )
                for c in choices
            ]
            return [ButtonsPiece(body, buttons)]
        if len(choices) <= MAX_ROWS:
            return [self._list(chat_id, body, [self._row(chat_id, c) for c in choices], lang)]
        token = self.memory.remember_list(chat_id, choices)
        return [self.page(chat_id, token, 0, lang, body=body)]

    def page(self, chat_id: str, token: str, page: int, lang: str, body: str | None = None) -> ListPiece:
        """Page `page` (0-based) of the remembered list `token`; its body is `body` (the first page) or
        "more choices, page n of m"."""
        paged = self.memory.paged(chat_id, token)
        assert paged is not None
        starts = page_starts(len(paged.choices))
        page = min(max(page, 0), len(starts) - 1)
        end = starts[page + 1] if page + 1 < len(starts) else len(paged.choices)
        rows = [self._row(chat_id, c) for c in paged.choices[starts[page] : end]]
        if page + 1 < len(starts):
            rows.append(
                Row(
                    f"{PAGE_TOKEN}{page + 1}.{token}",
                    self._cut(catalogue.t("whatsapp.next_page", lang), MAX_ROW_TITLE, "row title"),
                    self._cut(
                        catalogue.t("whatsapp.next_page_description", lang, page=page + 2, pages=len(starts)),
                        MAX_ROW_DESCRIPTION,
                        "row description",
                    ),
                )
            )
        if body is None:
            body = catalogue.t("whatsapp.page_body", lang, page=page + 1, pages=len(starts))
        return self._list(chat_id, self._cut(body, MAX_BODY, "list body"), rows, lang)

    def _row(self, chat_id: str, choice: Choice) -> Row:
        label = choice.label or choice.value
        row_id = self.memory.encode(chat_id, choice.value, MAX_ROW_ID)
        if len(label) <= MAX_ROW_TITLE:
            return Row(row_id, label)
        # The whole label is read in the description as far as it fits there.
        return Row(
            row_id,
            self._cut(label, MAX_ROW_TITLE, "row title"),
            self._cut(label, MAX_ROW_DESCRIPTION, "row description"),
        )

    def _list(self, chat_id: str, body: str, rows: list[Row], lang: str) -> ListPiece:
        return ListPiece(
            body,
            self._cut(catalogue.t("whatsapp.list_button", lang), MAX_LIST_BUTTON, "list button"),
            self._cut(catalogue.t("whatsapp.list_section", lang), MAX_SECTION_TITLE, "section title"),
            rows,
        )


# --- pieces -> pywa ----------------------------------------------------------------------------------


@dataclass
class Sent:
    """The message ids Meta gave the messages sent, in order."""

    wamids: list[str] = field(default_factory=list)

    @property
    def last(self) -> str | None:
        return self.wamids[-1] if self.wamids else None


class Renderer:
    """Sends `Outbound`s to one WhatsApp chat (a wa_id, a BSUID or a group id). pywa's errors propagate:
    the caller decides (the outbox sender maps them to a SendResult; a reply logs them)."""

    def __init__(
        self,
        wa: WhatsApp,
        *,
        memory: ChoiceMemory | None = None,
        default_lang: str = catalogue.DEFAULT_LANG,
        on_cut: Callable[[str], None] | None = None,
    ) -> None:
        self.wa = wa
        self.memory = memory or ChoiceMemory()
        self.default_lang = default_lang
        self.planner = Planner(self.memory, on_cut)

    async def render(
        self, chat_id: str, outs: list[Outbound], *, lang: str | None = None, tracker: str | None = None
    ) -> Sent:
        sent = Sent()
        for out in outs:
            target = out.chat_id or chat_id
            for piece in self.planner.plan(target, out, lang or self.default_lang):
                sent.wamids.append(await self.send(target, piece, tracker=tracker))
        return sent

    async def page(
        self, chat_id: str, token: str, page: int, *, lang: str | None = None, tracker: str | None = None
    ) -> Sent:
        """Show another page of a remembered long list (a press on "Berikutnya ▶️")."""
        piece = self.planner.page(chat_id, token, page, lang or self.default_lang)
        return Sent([await self.send(chat_id, piece, tracker=tracker)])

    async def send(self, to: str, piece: Piece, *, tracker: str | None = None) -> str:
        wa = self.wa
        if isinstance(piece, TextPiece):
            sent = await wa.send_message(to=to, text=piece.text, tracker=tracker)
        elif isinstance(piece, ButtonsPiece):
            buttons = [Button(title=title, callback_data=bid) for bid, title in piece.buttons]
            sent = await wa.send_message(to=to, text=piece.body, buttons=buttons, tracker=tracker)
        elif isinstance(piece, ListPiece):
            rows = [
                SectionRow(title=r.title, callback_data=r.id, description=r.description) for r in piece.rows
            ]
            section_list = SectionList(
                button_title=piece.button, sections=[Section(title=piece.section, rows=rows)]
            )
            sent = await wa.send_message(to=to, text=piece.body, buttons=section_list, tracker=tracker)
        else:
            media_type: Literal["image", "document"] = "image" if piece.kind == "image" else "document"
            media = await wa.upload_media(
                media=piece.content,
                mime_type=piece.mime_type,
                filename=piece.file_name,
                media_type=media_type,
            )
            if piece.kind == "image":
                sent = await wa.send_image(to=to, image=media, caption=piece.caption, tracker=tracker)
            else:
                sent = await wa.send_document(
                    to=to, document=media, filename=piece.file_name, caption=piece.caption, tracker=tracker
                )
        return str(sent.id)
