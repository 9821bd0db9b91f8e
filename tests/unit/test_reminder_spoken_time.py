"""The reminder time as people type it (`jam 4 sore`) read into the form the service reads (`16`)."""

from __future__ import annotations

from datetime import time

import pytest

from kotaku.dialog.flows.reminder.flow import spoken_time
from kotaku.services.reminder_time import parse_reminder_time


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("jam 4 sore", time(16, 0)),
        ("Jam 4 Sore", time(16, 0)),
        ("pukul 16.30", time(16, 30)),
        ("pkl 7 pagi", time(7, 0)),
        ("1 siang", time(13, 0)),
        ("11 siang", time(11, 0)),
        ("jam 7 malam", time(19, 0)),
        ("4 pm", time(16, 0)),
        ("16:45", time(16, 45)),
        ("jam 11 malam", None),  # 23:00, later than the latest reminder
        ("12 malam", None),  # midnight
        ("jam empat", None),
    ],
)
def test_spoken_times(typed: str, expected: time | None) -> None:
    assert parse_reminder_time(spoken_time(typed)) == expected
