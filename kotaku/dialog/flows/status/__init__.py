"""/status: which KSMs in my scope reported today (each on its own local date) and which not."""

from kotaku.dialog.flows.status.flow import StatusFlow

__all__ = ["StatusFlow"]
