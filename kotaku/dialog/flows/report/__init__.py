"""/laporan: a whole daily report (attendance, progress, obstacle, wages, photo) in one message."""

from kotaku.dialog.flows.report.flow import ReportFlow

__all__ = ["ReportFlow"]
