"""/unduh: a file of one's own scope (attendance, wages, progress, obstacles, photos, summary as XLSX, or the
weekly PDF report), built in the background and sent to the chat when ready (`delivery.ExportDelivery`)."""

from kotaku.dialog.flows.download.flow import DownloadFlow

__all__ = ["DownloadFlow"]
