"""What a monitoring check reports: one condition found about one subject, with the figures behind it.

The checks build findings; `kotaku.monitoring.lifecycle.apply_findings` turns them into alerts (one open
alert per kind and subject) and delivers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kotaku.models import AlertSeverity


@dataclass(frozen=True)
class Finding:
    kind: str  # one of kotaku.monitoring.checks.ALL_KINDS (docs/monitoring.md lists them with their rules)
    subject_type: str  # "activity" | "ksm" | "worker" | "media" | "obstacle"
    subject_id: int
    ksm_id: int | None
    severity: AlertSeverity
    figures: dict[str, Any]
    message_key: str  # a catalogue key; rendered with `params` in each recipient's language
    params: dict[str, Any]
