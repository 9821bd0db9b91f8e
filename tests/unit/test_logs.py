"""Logs never carry a whole NIK, phone number or secret."""

from __future__ import annotations

import json

import pytest
import structlog

from kotaku.logs import _mask_processor, configure_logging, mask_text

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
