"""The conversation flows, one module (or package) each; `default_flows()` is the list the composition
root registers."""

from __future__ import annotations

from typing import Any

from kotaku.dialog.flow import Flow


def default_flows() -> list[Flow[Any]]:
    from kotaku.dialog.flows.alerts import AlertsFlow
    from kotaku.dialog.flows.attendance import AttendanceFlow
    from kotaku.dialog.flows.close_obstacle import CloseObstacleFlow
    from kotaku.dialog.flows.correction import CorrectionFlow
    from kotaku.dialog.flows.curve import CurveFlow
    from kotaku.dialog.flows.download import DownloadFlow
    from kotaku.dialog.flows.obstacle import ObstacleFlow
    from kotaku.dialog.flows.photo import PhotoFlow
    from kotaku.dialog.flows.progress import ProgressFlow
    from kotaku.dialog.flows.reminder import ReminderFlow
    from kotaku.dialog.flows.report import ReportFlow
    from kotaku.dialog.flows.status import StatusFlow
    from kotaku.dialog.flows.summary import SummaryFlow

    return [
        ReportFlow(),
        AttendanceFlow(),
        ProgressFlow(),
        ObstacleFlow(),
        PhotoFlow(),
        StatusFlow(),
        SummaryFlow(),
        CloseObstacleFlow(),
        CorrectionFlow(),
        AlertsFlow(),
        CurveFlow(),
        ReminderFlow(),
        DownloadFlow(),
    ]
