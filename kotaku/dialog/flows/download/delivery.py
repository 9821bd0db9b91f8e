"""Building a requested export and sending it: the after-commit handler of `ExportRequested`.

The handler returns at once and builds in a background task, so the chat's "being prepared" reply is not
held up by a long export (a kota's workbook, a province's PDF). One export is built at a time per process
(they are CPU-heavy and share the event loop with the chat). The file goes to `app.data_dir/exports/` and
an outbox message with it attached (`file_path`, `file_name`, `mime_type`) is queued to the requester's chat
under a dedup key per request; a failure is logged and the person is told. Files older than
`KEEP_DAYS` are removed from the folder as new ones are made.

`drain()` waits for the exports still being built (tests; a graceful shutdown).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from kotaku import catalogue
from kotaku.config import Settings
from kotaku.db import Database
from kotaku.events import Event, ExportRequested
from kotaku.exports import ExportFormat, ExportKind, ExportRequest, ExportResult, build_export
from kotaku.i18n import fmt_short_date
from kotaku.models import Channel
from kotaku.notify.outbox import PRIORITY_NORMAL, enqueue_to_chat
from kotaku.services.media import human_size
from kotaku.services.scope import Scope

log = structlog.get_logger(__name__)

OUTBOX_KIND = "export"
# Telegram bots may send documents up to 50 MB; a bigger file is not sent (the person is told).
MAX_CHAT_FILE_BYTES = 45 * 1024 * 1024
KEEP_DAYS = 7
EXTENSIONS = {ExportFormat.XLSX: "xlsx", ExportFormat.CSV: "zip", ExportFormat.PDF: "pdf"}

_RUNNING: set[asyncio.Task[None]] = set()


async def drain() -> None:
    """Wait until every export started in this process is built and queued (or has failed)."""
    while _RUNNING:
        await asyncio.gather(*list(_RUNNING), return_exceptions=True)


def export_request(event: ExportRequested) -> ExportRequest:
    scope = Scope(
        ksm_id=event.scope_ksm_id,
        bkm_id=event.scope_bkm_id,
        region_id=event.scope_region_id,
        label=event.scope_label,
    )
    tables = tuple(ExportKind(t) for t in event.tables) or tuple(ExportKind)
    return ExportRequest(
        scope=scope,
        start=event.start,
        end=event.end,
        fmt=ExportFormat(event.fmt),
        kinds=tables,
        lang=event.lang,
        person_id=event.person_id,
        unmask_nik=False,  # never whole NIKs in a chat
        with_photos=event.with_photos,
    )


def file_name(event: ExportRequested) -> str:
    """`upah-kelurahan-bejalen-2026-11-23-2026-11-29.xlsx`: what the person sees."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", event.scope_label).strip("-").lower()[:40] or "kotaku"
    ext = EXTENSIONS[ExportFormat(event.fmt)]
    return f"{event.kind}-{slug}-{event.start.isoformat()}-{event.end.isoformat()}.{ext}"


def _size(path: Path) -> int:
    return path.stat().st_size


def _prepared(folder: Path) -> Path:
    """The exports folder, created, without the files older than KEEP_DAYS."""
    folder.mkdir(parents=True, exist_ok=True)
    limit = time.time() - KEEP_DAYS * 86_400
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue
    return folder


class ExportDelivery:
    """`bus.after_commit((ExportRequested,), ExportDelivery(db, settings))`."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._one_at_a_time: asyncio.Semaphore | None = None

    @property
    def folder(self) -> Path:
        return Path(self.settings.app.data_dir) / "exports"

    async def __call__(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, ExportRequested):
                task = asyncio.create_task(self.deliver(event), name=f"export {event.request_id}")
                _RUNNING.add(task)
                task.add_done_callback(_RUNNING.discard)

    async def deliver(self, event: ExportRequested) -> None:
        """Build the file and queue it to the chat; on failure, queue the apology. Never raises."""
        if self._one_at_a_time is None:
            self._one_at_a_time = asyncio.Semaphore(1)
        async with self._one_at_a_time:
            started = time.monotonic()
            try:
                result = await self._build(event)
            except Exception:
                log.exception("export_failed", request=event.request_id, kind=event.kind, fmt=event.fmt)
                await self._queue_safely(event, {"text": self._t(event, "unduh.failed")})
                return
            size = _size(result.path)
            log.info(
                "export_built",
                request=event.request_id,
                kind=event.kind,
                fmt=event.fmt,
                bytes=size,
                rows=result.rows,
                seconds=round(time.monotonic() - started, 2),
            )
            if size > MAX_CHAT_FILE_BYTES:
                text = self._t(event, "unduh.too_large", size=human_size(size, event.lang))
                await self._queue_safely(event, {"text": text})
                return
            await self._queue_safely(event, self._file_payload(event, result, size))

    async def _build(self, event: ExportRequested) -> ExportResult:
        folder = _prepared(self.folder)
        unique = hashlib.sha256(event.request_id.encode()).hexdigest()[:10]
        name = file_name(event)
        out = folder / f"{Path(name).stem}-{unique}{Path(name).suffix}"
        return await build_export(self.db, self.settings, export_request(event), out)

    def _t(self, event: ExportRequested, key: str, **kwargs: Any) -> str:
        return catalogue.t(key, event.lang, **kwargs)

    def _file_payload(self, event: ExportRequested, result: ExportResult, size: int) -> dict[str, Any]:
        lang = event.lang
        nice = file_name(event)
        if result.path.suffix != Path(nice).suffix:  # a workbook with its photos comes as a zip
            nice = f"{Path(nice).stem}{result.path.suffix}"
        period = f"{fmt_short_date(event.start, lang)} – {fmt_short_date(event.end, lang)} {event.end.year}"
        caption = self._t(
            event,
            "unduh.ready",
            what=self._t(event, f"unduh.kind.{event.kind}"),
            scope=event.scope_label,
            period=period,
            size=human_size(size, lang),
        )
        return {
            "file_path": str(result.path),
            "file_name": nice,
            "mime_type": result.mime_type,
            "file_caption": caption,
            "export": {"kind": event.kind, "fmt": event.fmt, "rows": dict(result.rows)},
        }

    async def _queue_safely(self, event: ExportRequested, payload: dict[str, Any]) -> None:
        try:
            async with self.db.transaction() as session:
                await enqueue_to_chat(
                    session,
                    channel=Channel(event.channel),
                    chat_id=event.chat_id,
                    kind=OUTBOX_KIND,
                    payload=payload,
                    dedup_key=f"export:{event.request_id}",
                    now=event.at,
                    priority=PRIORITY_NORMAL,
                    person_id=event.person_id,
                )
        except Exception:
            log.exception("export_not_queued", request=event.request_id)
