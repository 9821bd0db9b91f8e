"""Photos received in a conversation, shared by /progres, /kendala and /foto: checked and written to the
media store as they arrive, kept in the draft (`StagedPhoto`) until their report is saved, then attached
to the KSM's report of the day (once: the same file sent again is not stored twice)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from kotaku.dialog.context import Context
from kotaku.dialog.inputs import SKIP_WORDS
from kotaku.models import Media
from kotaku.schemas import Choice
from kotaku.services.media import MediaTooLarge, NotAnImage, attach_staged, human_size, stage_photo

# What people answer to "send a photo (optional)" when they have none.
NO_PHOTO_WORDS = frozenset(SKIP_WORDS | {"tidak", "tidak ada", "no", "gak", "nggak", "tanpa foto"})


class StagedPhoto(BaseModel):
    """A received photo, already in the media store (by content), with what the message said of it."""

    kind: Literal["photo"] = "photo"
    sha256: str
    path: str
    mime_type: str | None = None
    size: int
    caption: str | None = None
    taken_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


def receive_photo(
    ctx: Context, *, too_large: str, not_image: str, choices: list[Choice] | None = None
) -> StagedPhoto | None:
    """The photo (or image file) of this message, checked and staged; None after saying why it was refused
    with the flow's sentences (`too_large` gets the `size` and the `limit`)."""
    inbound = ctx.inbound
    try:
        staged = stage_photo(ctx.settings, inbound.file_bytes or b"", inbound.mime_type or "image/jpeg")
    except MediaTooLarge as exc:
        size, limit = human_size(exc.size, ctx.lang), human_size(exc.limit, ctx.lang)
        ctx.say(ctx.t(too_large, size=size, limit=limit), choices)
        return None
    except NotAnImage:
        ctx.say(ctx.t(not_image), choices)
        return None
    return StagedPhoto.model_validate(
        {
            **staged,
            "caption": inbound.text,
            "taken_at": inbound.taken_at,
            "latitude": inbound.latitude,
            "longitude": inbound.longitude,
        }
    )


async def attach_photo(
    ctx: Context,
    photo: StagedPhoto,
    *,
    ksm_id: int,
    report_date: date,
    activity_id: int | None = None,
    milestone: int | None = None,
) -> tuple[Media, bool]:
    """Store a staged photo for the KSM's report of a day, by the person writing: (media, already_there)."""
    return await attach_staged(
        ctx.uow,
        ctx.settings,
        staged=photo.model_dump(mode="json"),
        ksm_id=ksm_id,
        report_date=report_date,
        activity_id=activity_id,
        milestone=milestone,
        entered_by_id=ctx.person.id if ctx.person else None,
        channel=ctx.inbound.channel,
        now=ctx.now,
    )
