"""Structured logging (structlog) to stderr, with secrets and personal data masked before output."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SENSITIVE_KEYS = {"nik", "token", "secret", "password", "app_secret", "nik_key", "authorization"}
NIK_PATTERN = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")
PHONE_PATTERN = re.compile(r"(\+?62|0)8\d{2}[\d\- ]{5,10}\d")


def mask_text(text: str) -> str:
    """Mask anything that looks like a NIK (16 digits) or an Indonesian mobile number."""
    text = NIK_PATTERN.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    return PHONE_PATTERN.sub(lambda m: m.group(0)[:5] + "***" + m.group(0)[-2:], text)


def _mask_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = mask_text(value)
    return event


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is when a line is logged (a CLI runner or a test may have swapped
    it since logging was configured, and the old stream may be closed)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    logging.basicConfig(
        stream=_CurrentStderr(),  # type: ignore[arg-type]
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(message)s",
    )
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
