"""The states of /rekap and its draft (it gathers nothing: at most it waits for a scope code)."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Draft
from kotaku.dialog.scope_input import ASK_SCOPE


class State(StrEnum):
    ASK_SCOPE = ASK_SCOPE


class SummaryDraft(Draft):
    """Nothing beyond the base: the scope is asked for and shown in one step."""
