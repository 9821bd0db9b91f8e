"""/peringatan (/alerts): the open alerts in my scope, five per page, each with an acknowledge button.

`/peringatan` lists; a tap on "✅ #12" (value `ack:12`) asks for an optional note, then acknowledges.
Quick forms: `/peringatan ack:12 sudah dicek ke lokasi`, `/peringatan tutup 12 catatan` (resolve by hand).
Alert messages pushed through the outbox carry the button value `/peringatan ack:12`, so the same tap
works from outside the flow.
"""

from kotaku.dialog.flows.alerts.flow import AlertsFlow

__all__ = ["AlertsFlow"]
