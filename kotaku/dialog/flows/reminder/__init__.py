"""/pengingat: see and change one's own reminder time, or pause reminders for today.

A KSM coordinator sets when the daily report reminder reaches them; a facilitator sets the time of the
daily digest. Times are local to the person's site. Quick forms: `/pengingat 16:30`, `/pengingat libur`,
`/pengingat aktif`, `/pengingat bawaan`.
"""

from kotaku.dialog.flows.reminder.flow import ReminderFlow

__all__ = ["ReminderFlow"]
