"""/kendala (/obstacle): report an obstacle at the site: category, severity, description (text or voice),
optional photo, then a summary to save. Saved obstacles get a short id (K-7F3Q) and facilitators are told.

Quick form: `/kendala material semen belum datang` takes the category from the first word and the rest as
the description, asks the severity with one tap and goes straight to the summary (a photo sent there is
attached). An unknown first word keeps the whole text as the description and asks the category.
"""

from kotaku.dialog.flows.obstacle.flow import ObstacleFlow

__all__ = ["ObstacleFlow"]
