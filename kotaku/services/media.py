"""Photos, documents, voice notes and locations: stored by content (sha256), with EXIF time and GPS read."""

from __future__ import annotations

import hashlib
import io
import mimetypes
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import structlog
from PIL import ExifTags, Image, UnidentifiedImageError
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.models import Channel, Media, MediaKind

log = structlog.get_logger(__name__)

Image.MAX_IMAGE_PIXELS = 60_000_000  # refuse decompression bombs


class MediaTooLarge(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes > {limit}")
        self.size, self.limit = size, limit


class NotAnImage(ValueError):
    """A file sent as a photo that no image decoder can read."""


@dataclass(frozen=True)
class ExifInfo:
    taken_at: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None


def read_exif(content: bytes) -> ExifInfo:
    """Time and GPS from a JPEG's EXIF, when the phone kept them (images sent as files keep EXIF)."""
    try:
        with Image.open(io.BytesIO(content)) as img:
            exif = img.getexif()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return ExifInfo()
    taken_at = None
    raw_time = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
        ExifTags.Base.DateTime
    )
    if isinstance(raw_time, str):
        try:
            # EXIF has no zone; phones write local time. Stored as UTC+7 unless the site says otherwise later.
            taken_at = datetime.strptime(raw_time.strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            taken_at = None
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _gps_coord(gps.get(2), gps.get(1))
    lon = _gps_coord(gps.get(4), gps.get(3))
    return ExifInfo(taken_at=taken_at, latitude=lat, longitude=lon)


def _gps_coord(value: object, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in value)  # type: ignore[union-attr]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    coord = d + m / 60 + s / 3600
    if ref in ("S", "W", b"S", b"W"):
        coord = -coord
    return round(coord, 6)


def check_image(content: bytes) -> None:
    try:
        with Image.open(io.BytesIO(content)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise NotAnImage(str(exc)) from exc


def save_content(settings: Settings, content: bytes, mime_type: str | None) -> tuple[str, str]:
    """Write bytes once under media.dir/ab/cd/<sha256><ext>; returns (sha256, relative path)."""
    if len(content) > settings.media.max_bytes:
        raise MediaTooLarge(len(content), settings.media.max_bytes)
    digest = hashlib.sha256(content).hexdigest()
    ext = (mimetypes.guess_extension(mime_type or "") or ".bin") if mime_type else ".bin"
    rel = Path(digest[:2]) / digest[2:4] / f"{digest}{ext}"
    path = Path(settings.media.dir) / rel
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    return digest, str(rel)


async def store_media(
    session: AsyncSession,
    settings: Settings,
    *,
    kind: MediaKind,
    ksm_id: int,
    report_date: date,
    entered_by_id: int | None,
    channel: Channel | None,
    now: datetime,
    content: bytes | None = None,
    mime_type: str | None = None,
    caption: str | None = None,
    milestone: int | None = None,
    activity_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    taken_at: datetime | None = None,
) -> Media:
    """Record one media item (file content optional, for locations). Raises MediaTooLarge / NotAnImage."""
    sha = rel = None
    size = None
    if content is not None:
        if kind == MediaKind.PHOTO:
            if len(content) > settings.media.max_bytes:
                raise MediaTooLarge(len(content), settings.media.max_bytes)
            check_image(content)
            exif = read_exif(content)
            latitude = latitude if latitude is not None else exif.latitude
            longitude = longitude if longitude is not None else exif.longitude
            taken_at = taken_at or exif.taken_at
        sha, rel = save_content(settings, content, mime_type)
        size = len(content)
    media = Media(
        ksm_id=ksm_id,
        activity_id=activity_id,
        report_date=report_date,
        kind=kind,
        sha256=sha,
        path=rel,
        mime_type=mime_type,
        size_bytes=size,
        caption=caption,
        milestone=milestone,
        latitude=latitude,
        longitude=longitude,
        taken_at=taken_at,
        entered_by_id=entered_by_id,
        entered_at=now,
        channel=channel,
    )
    session.add(media)
    await session.flush()
    log.info("media_stored", kind=kind.value, ksm_id=ksm_id, size=size, sha256=sha)
    return media
