"""/ubah: correct a report of the last days; the old value stays in the audit log."""

from kotaku.dialog.flows.correction.flow import CorrectionFlow

__all__ = ["CorrectionFlow"]
