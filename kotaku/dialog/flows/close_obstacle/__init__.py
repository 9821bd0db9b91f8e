"""/selesai (/close): a facilitator or manager closes an obstacle in their scope with a follow-up note.

`/selesai K-7F3Q semen sudah dikirim` closes at once; `/selesai K-7F3Q` asks for the note; `/selesai` alone
lists the open obstacles in scope (most severe, then oldest first) with a button each.
"""

from kotaku.dialog.flows.close_obstacle.flow import CloseObstacleFlow

__all__ = ["CloseObstacleFlow"]
