"""The state of /pengingat (choosing a time) and its draft, which holds nothing: the answer is the time."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Draft


class State(StrEnum):
    CHOOSE = "pilih"


class ReminderDraft(Draft):
    """Nothing beyond the base: each answer is applied at once."""
