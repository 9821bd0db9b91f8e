"""/foto, and any photo, image file or location sent outside a flow: attached to today's report of the KSM.

A caption `#0`, `#50` or `#100` marks the milestone; an activity code or a word of its name picks the
activity. A voice note sent outside a flow is pointed to /kendala.
"""

from kotaku.dialog.flows.photo.flow import PhotoFlow

__all__ = ["PhotoFlow"]
