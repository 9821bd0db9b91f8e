"""/progres: cumulative physical progress of one activity today, in percent or in the activity's unit,
with a photo at milestones, a summary to confirm, and the status against the planned curve once saved."""

from kotaku.dialog.flows.progress.flow import ProgressFlow

__all__ = ["ProgressFlow"]
