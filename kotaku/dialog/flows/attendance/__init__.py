"""/hadir: the attendance sheet of a KSM's day, by roster checklist or by head count."""

from kotaku.dialog.flows.attendance.flow import AttendanceFlow

__all__ = ["AttendanceFlow"]
