"""The states of /kendala and the draft of the obstacle report (saved with the conversation)."""

from __future__ import annotations

from enum import StrEnum

from kotaku.dialog.context import Draft
from kotaku.models import ObstacleCategory, Severity


class State(StrEnum):
    CATEGORY = "kategori"
    SEVERITY = "tingkat"
    DESCRIPTION = "uraian"
    PHOTO = "foto"
    CONFIRM = "konfirmasi"


class ObstacleDraft(Draft):
    quick: bool = False  # the quick form gave the description: no photo step, straight to the summary
    category: ObstacleCategory | None = None
    severity: Severity | None = None
    description: str = ""
    activity_id: int | None = None  # the KSM's activity whose code the description names
    voice_media_id: int | None = None
    photo_media_id: int | None = None
    photo_asked: bool = False

    @property
    def chosen_ksm_id(self) -> int:
        """The KSM reported for (resolved before start())."""
        assert self.ksm_id is not None
        return self.ksm_id
