"""Logs never carry a whole NIK, phone number or secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from kotaku.config import LoggingConfig
from kotaku.logs import (
    _mask_processor,
    configure_from,
    configure_logging,
    handling_update,
    mask_text,
    note_update,
)
from tests.conftest import logging_set_up

NIK = "3322051708900001"


def test_mask_text_masks_nik() -> None:
    out = mask_text(f"pekerja NIK {NIK} hadir")
    assert NIK not in out
    assert "3322********0001" in out
    assert out.startswith("pekerja NIK ") and out.endswith(" hadir")


def test_mask_text_leaves_other_digit_runs_alone() -> None:
    # 15 digits are not a NIK; short numbers are untouched. 17 or more may hold one: masked.
    assert mask_text("332205170890000") == "332205170890000"
    assert mask_text("33220517089000011") == "3322*********0011"
    assert mask_text("progres 45 persen") == "progres 45 persen"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("hubungi 081234567890", "234567"),
        ("hubungi 0812-3456-7890 segera", "3456-7"),
        ("wa +6281234567890", "234567"),
        ("nomor 6281234567890", "234567"),
    ],
)
def test_mask_text_masks_phones(text: str, hidden: str) -> None:
    out = mask_text(text)
    assert hidden not in out
    assert "***" in out


def test_processor_masks_sensitive_keys_and_values() -> None:
    event = {
        "event": f"registered {NIK}",
        "token": "123:abc",
        "nik": NIK,
        "NIK_KEY": "k",
        "app_secret": "s",
        "password": "p",
        "phone": "081234567890",
        "count": 3,
    }
    out = _mask_processor(None, "info", dict(event))
    assert out["token"] == "***"
    assert out["nik"] == "***"
    assert out["NIK_KEY"] == "***"
    assert out["app_secret"] == "***"
    assert out["password"] == "***"
    assert NIK not in out["event"]
    assert "234567" not in out["phone"]
    assert out["count"] == 3


def test_configured_logger_output_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        configure_logging("INFO", json=True)
        structlog.get_logger("t").info("worker_added", nik=NIK, token="123:SECRET", note=f"nik {NIK}")
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        structlog.reset_defaults()
    data = json.loads(line)
    assert data["event"] == "worker_added"
    assert data["nik"] == "***"
    assert data["token"] == "***"
    assert NIK not in line
    assert "SECRET" not in line


PHONE = "081234567890"


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    with logging_set_up(
        lambda: configure_from(LoggingConfig.model_validate({"json": True, "level": "info"}))
    ):
        capsys.readouterr()
        yield capsys


def test_json_lines_are_masked_and_carry_the_update_request_id(json_logs: pytest.CaptureFixture[str]) -> None:
    seen = []
    with handling_update("whatsapp", "message", done=seen.append, chat=PHONE) as update:
        structlog.get_logger("t").info("report_saved", nik=NIK, name="Suparno Wibowo", note=f"HP {PHONE}")
        logging.getLogger("httpx").info(
            "POST https://x/bot7912345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/send"
        )
        note_update(flow="progres", step="persen", outcome="ignored")
    logging.getLogger("httpx").info("outside any update")
    err = json_logs.readouterr().err
    lines = [json.loads(line) for line in err.strip().splitlines()]  # every line is one JSON object
    saved, library, handled, outside = lines
    assert saved["event"] == "report_saved" and saved["request_id"] == update.request_id
    assert saved["nik"] == "***" and saved["name"].startswith("#") and saved["note"].startswith("#")
    assert library["logger"] == "httpx" and library["request_id"] == update.request_id
    assert handled["event"] == "update_handled" and handled["request_id"] == update.request_id
    assert handled["flow"] == "progres" and handled["step"] == "persen" and handled["outcome"] == "ignored"
    assert handled["channel"] == "whatsapp" and isinstance(handled["latency_ms"], float)
    assert "request_id" not in outside
    assert NIK not in err and "Suparno" not in err and PHONE not in err and "AAHdqTcv" not in err
    assert seen == [update] and update.seconds > 0


def test_an_error_going_out_of_the_update_is_its_outcome(json_logs: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), handling_update("telegram", "callback"):
        raise RuntimeError("rusak")
    [handled] = [json.loads(line) for line in json_logs.readouterr().err.strip().splitlines()]
    assert handled["outcome"] == "error" and handled["kind"] == "callback"


def test_console_lines_are_masked_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        configure_from(LoggingConfig(), cli_level="WARNING")  # the CLI's default does not silence `run`
        with handling_update("telegram", "message", chat=PHONE):
            structlog.get_logger("t").info("report_saved", nik=NIK)
        err = capsys.readouterr().err
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        structlog.reset_defaults()
    assert "report_saved" in err and "update_handled" in err and "request_id=" in err
    assert not err.lstrip().startswith("{")
    assert NIK not in err and PHONE not in err


def test_the_cli_level_only_makes_the_server_more_verbose() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_from(LoggingConfig(level="WARNING"), cli_level="DEBUG")
        assert root.level == logging.DEBUG
        configure_from(LoggingConfig(level="INFO"), cli_level="ERROR")
        assert root.level == logging.INFO
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()
