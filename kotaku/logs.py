"""Structured logging (structlog) to stderr, with secrets and personal data masked before output.

Every line goes through one pipeline, structlog's own and the standard library's (httpx, httpcore,
python-telegram-bot, APScheduler, the dispatcher): secret fields are blanked, name and free-text fields
tagged, exceptions written as plain tracebacks without local variables (a rich traceback with locals
printed what the user typed, and took seconds per error), and the rendered line is masked once more for
NIKs, phone numbers and bot tokens, wherever in the line they are. Console lines for a person, or one JSON
object a line (`logging.json`) for a collector: the same masking for both.

`handling_update` wraps the handling of one update: a request id bound to every line logged meanwhile,
and one `update_handled` line at the end (channel, kind, flow, step, outcome, latency_ms).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import structlog

from kotaku.config import LoggingConfig
from kotaku.security import mask_personal_numbers

SENSITIVE_KEYS = {"nik", "token", "secret", "password", "app_secret", "nik_key", "authorization"}
# Fields that name a person or hold what someone typed: written as a tag (`name=#1f0c9a2b`), the same
# for the same value within one run of the program, so lines about one person can still be followed
# without the name being in the log. The key is new at each start: a tag cannot be looked up in a
# list of names.
PERSONAL_KEYS = {
    "name",
    "display_name",
    "first_name",
    "last_name",
    "full_name",
    "username",
    "person_name",
    "worker_name",
    "text",
    "caption",
    "note",
    "description",
    "late_reason",
    "close_note",
    "ack_note",
    "resolve_note",
}
_TAG_KEY = secrets.token_bytes(16)
# Bot tokens: in Telegram URLs (/bot<token>/getUpdates, /file/bot<token>/...), bare, and bearer tokens.
_TOKENS = [
    (re.compile(r"(/bot)\d+:[^/\s\"'?#]*"), r"\1***"),
    (re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"), "***"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"(?i)\b(access_token=)[^&\s\"']+"), r"\1***"),
]
_BIG_NUMBER = 10**15  # an int or float this large may be a NIK or a phone number written as a number
_HANDLER_MARK = "_kotaku_handler"


def mask_text(text: str) -> str:
    """Bot tokens, NIKs (16 digits or more) and Indonesian mobile numbers masked with `*`."""
    for pattern, replacement in _TOKENS:
        text = pattern.sub(replacement, text)
    return mask_personal_numbers(text, "*")[0]


def tag(value: str) -> str:
    """A short tag standing for `value` in the log (see `PERSONAL_KEYS`)."""
    return "#" + hmac.new(_TAG_KEY, value.encode(), hashlib.sha256).hexdigest()[:8]


def _masked(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in SENSITIVE_KEYS:
        return "***"
    if lowered in PERSONAL_KEYS and isinstance(value, str) and value:
        return tag(value)
    return _masked_value(value)


def _masked_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and abs(value) >= _BIG_NUMBER:
        return mask_text(str(value))
    if isinstance(value, Mapping):
        return {k: _masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked_value(v) for v in value]
    return value


def _mask_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Field by field: secrets blanked, names and typed text tagged, numbers and tokens masked."""
    for key, value in list(event.items()):
        if not key.startswith("_"):  # structlog's own bookkeeping (the stdlib record) is left alone
            event[key] = _masked(key, value)
    return event


def _mask_rendered(_logger: Any, _name: str, line: str) -> str:
    """The rendered line once more: what a value's repr, an exception message or a library put there."""
    return mask_text(line)


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is when a line is logged (a CLI runner or a test may have swapped
    it since logging was configured, and the old stream may be closed)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    """structlog and the standard library's loggers to stderr through the same masking, at `level`."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Plain text, no local variables; rendered before masking so the traceback is masked with the rest.
    finish: list[Any] = [structlog.processors.format_exc_info, _mask_processor, renderer, _mask_rendered]

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(_CurrentStderr())  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,  # the request id on the libraries' lines too
                *shared,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish],
        )
    )
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(numeric)

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, *finish],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def configure_from(cfg: LoggingConfig, cli_level: str | None = None) -> None:
    """Logging as the `logging` section says (`kotaku run`); `cli_level` (`kotaku --log-level`) can make
    it more verbose than `logging.level`, never quieter."""
    level: str = cfg.level
    if cli_level is not None:
        wanted = getattr(logging, cli_level.upper(), logging.INFO)
        if wanted < getattr(logging, level, logging.INFO):
            level = logging.getLevelName(wanted)
    configure_logging(level, json=cfg.json_lines)


# --- one line per handled update ---------------------------------------------------------------------

_update_log = structlog.get_logger("kotaku.update")


@dataclass
class HandledUpdate:
    """One update being handled: what its `update_handled` line will say. `outcome` starts "ok"; the
    handler (or the engine, through `note_update`) sets another one ("ignored", "duplicate", "error", ...)."""

    channel: str
    kind: str
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    outcome: str = "ok"
    fields: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long it took, set at the end


_CURRENT: ContextVar[HandledUpdate | None] = ContextVar("kotaku_handled_update", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def handling_update(
    channel: str,
    kind: str = "message",
    *,
    done: Callable[[HandledUpdate], None] | None = None,
    level: int = logging.INFO,
    **fields: Any,
) -> Iterator[HandledUpdate]:
    """Handle one update inside: a fresh `request_id` on every line logged meanwhile; at the end one
    `update_handled` line and `done(update)` (the metrics). An exception going out makes the outcome
    "error" (and goes on out)."""
    update = HandledUpdate(channel=channel, kind=kind, request_id=new_request_id(), fields=dict(fields))
    token = _CURRENT.set(update)
    try:
        with structlog.contextvars.bound_contextvars(request_id=update.request_id):
            try:
                yield update
            except BaseException:
                update.outcome = "error"
                raise
            finally:
                update.seconds = time.perf_counter() - update.started
                _update_log.log(
                    level,
                    "update_handled",
                    channel=channel,
                    kind=kind,
                    outcome=update.outcome,
                    latency_ms=round(update.seconds * 1000, 1),
                    **{k: v for k, v in update.fields.items() if v is not None},
                )
                if done is not None:
                    done(update)
    finally:
        _CURRENT.reset(token)


def note_update(*, outcome: str | None = None, **fields: Any) -> None:
    """Add to the update being handled (no-op outside `handling_update`): the flow and step it reached,
    or an outcome other than "ok"."""
    update = _CURRENT.get()
    if update is None:
        return
    if outcome is not None:
        update.outcome = outcome
    update.fields.update(fields)
