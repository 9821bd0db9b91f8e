"""The states of /peringatan and its draft: the page being looked at and the alert being acknowledged."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Draft


class State(StrEnum):
    LIST = "daftar"
    NOTE = "catatan"


class AlertsDraft(Draft):
    page: int = 1  # the page of the list last shown (a refusal shows it again)
    alert_id: int | None = None  # the alert waiting for its note
