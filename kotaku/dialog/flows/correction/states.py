"""The states of /ubah and its draft: the reports offered (on every page), the page shown, the one chosen
and the figure re-entered."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from kotaku.dialog.context import Draft


class State(StrEnum):
    CHOOSE = "pilih"
    VALUE = "angka"
    CONFIRM = "konfirmasi"


class CorrectionDraft(Draft):
    offered: list[str] = Field(default_factory=list)  # button values: `p:<report id>`, `a:<sheet id>`
    page: int = 0  # the page of the list last shown
    report_id: int | None = None
    percent: float | None = None
    volume: float | None = None

    @property
    def ksm(self) -> int:
        assert self.ksm_id is not None, "the KSM is resolved before start()"
        return self.ksm_id
