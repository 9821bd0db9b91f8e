"""The states of /selesai and its draft: the obstacle whose closing note is asked for."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Draft


class State(StrEnum):
    PICK = "pilih"
    NOTE = "catatan"


class CloseDraft(Draft):
    short_id: str = ""  # the obstacle being closed (K-7F3Q)
