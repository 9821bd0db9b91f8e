"""Photos, documents, voice notes and locations: stored by content (sha256), with EXIF time and GPS read."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from PIL import ExifTags, Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku.config import Settings
from kotaku.domain.geo import distance_m
from kotaku.domain.phash import photo_phash
from kotaku.events import ReportKind, ReportSaved
from kotaku.models import Activity, Channel, Ksm, Media, MediaKind
from kotaku.security import hide_personal_numbers, write_private
from kotaku.services.scope import ksm_timezone
from kotaku.uow import UnitOfWork

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


def read_exif(content: bytes, tz: str = "Asia/Jakarta") -> ExifInfo:
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
            # EXIF has no zone; phones write the local time of the site, so read it in the site's zone.
            local = datetime.strptime(raw_time.strip(), "%Y:%m:%d %H:%M:%S").replace(tzinfo=ZoneInfo(tz))
            taken_at = local.astimezone(UTC)
        except ValueError:
            taken_at = None
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat = _gps_coord(gps.get(2), gps.get(1))
    lon = _gps_coord(gps.get(4), gps.get(3))
    return ExifInfo(taken_at=taken_at, latitude=lat, longitude=lon)


def _gps_coord(value: object, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in value)  # type: ignore[union-attr,attr-defined]
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
        # Photos of workers and sites are the program's alone: 0600 files in 0700 folders.
        write_private(path, content)
    return digest, str(rel)


def stage_photo(settings: Settings, content: bytes, mime_type: str | None) -> dict[str, object]:
    """Check and write a photo before the report it belongs to is saved (kept in a draft, so JSON-only).

    Raises MediaTooLarge / NotAnImage. The file is content-addressed, so staging twice costs nothing.
    """
    if len(content) > settings.media.max_bytes:
        raise MediaTooLarge(len(content), settings.media.max_bytes)
    check_image(content)
    digest, rel = save_content(settings, content, mime_type)
    return {"sha256": digest, "path": rel, "mime_type": mime_type, "size": len(content)}


def load_content(settings: Settings, rel_path: str) -> bytes:
    """The bytes of a stored or staged file, by the relative path `save_content` returned."""
    return (Path(settings.media.dir) / rel_path).read_bytes()


async def find_same_file(
    session: AsyncSession, *, ksm_id: int, report_date: date, sha256: str
) -> Media | None:
    """A media item with the same content already attached to this KSM's report of that day."""
    stmt = (
        select(Media)
        .where(Media.ksm_id == ksm_id, Media.report_date == report_date, Media.sha256 == sha256)
        .order_by(Media.id)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def store_media(
    uow: UnitOfWork,
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
    session = uow.session
    sha = rel = None
    size = None
    if content is not None:
        if kind == MediaKind.PHOTO:
            if len(content) > settings.media.max_bytes:
                raise MediaTooLarge(len(content), settings.media.max_bytes)
            check_image(content)
            exif = read_exif(content, await ksm_timezone(session, ksm_id, settings.app.default_timezone))
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
        caption=hide_personal_numbers(caption, session.info),
        milestone=milestone,
        latitude=latitude,
        longitude=longitude,
        taken_at=taken_at,
        entered_by_id=entered_by_id,
        entered_at=now,
        channel=channel,
    )
    if content is not None and kind == MediaKind.PHOTO:
        media.phash = photo_phash(content)
    session.add(media)
    await session.flush()
    log.info("media_stored", kind=kind.value, ksm_id=ksm_id, size=size, sha256=sha)
    uow.record(
        ReportSaved(
            at=now, ksm_id=ksm_id, kind=ReportKind.MEDIA, report_date=report_date, activity_id=activity_id
        )
    )
    return media


# --- attaching to a day's report ------------------------------------------------------------------

MILESTONE_RE = re.compile(r"#\s*(\d{1,3})\s*%?")


def parse_milestone(caption: str | None, milestones: list[int]) -> tuple[int | None, str | None]:
    """`#50` in a caption -> (50, None); a `#n` that is no configured milestone -> (None, "n")."""
    m = MILESTONE_RE.search(caption or "")
    if not m:
        return None, None
    value = int(m.group(1))
    return (value, None) if value in milestones else (None, m.group(1))


async def site_distance(
    session: AsyncSession, *, ksm_id: int, activity_id: int | None, latitude: float, longitude: float
) -> float | None:
    """Meters from a point to the activity's coordinates, else the KSM's; None when neither is known."""
    points: list[tuple[float | None, float | None]] = []
    if activity_id is not None:
        activity = await session.get(Activity, activity_id)
        if activity is not None:
            points.append((activity.latitude, activity.longitude))
    ksm = await session.get(Ksm, ksm_id)
    if ksm is not None:
        points.append((ksm.latitude, ksm.longitude))
    for lat, lon in points:
        if lat is not None and lon is not None:
            return distance_m(latitude, longitude, lat, lon)
    return None


async def attach_staged(
    uow: UnitOfWork,
    settings: Settings,
    *,
    staged: dict[str, Any],
    ksm_id: int,
    report_date: date,
    activity_id: int | None,
    milestone: int | None,
    entered_by_id: int | None,
    channel: Channel | None,
    now: datetime,
) -> tuple[Media, bool]:
    """Store a staged photo (see `stage_photo`) for a KSM's day once: returns (media, already_there).

    The same file sent again for the same KSM and day is not stored twice; the first row gains the
    activity and milestone when it had none.
    """
    same = await find_same_file(uow.session, ksm_id=ksm_id, report_date=report_date, sha256=staged["sha256"])
    if same is not None:
        if same.activity_id is None:
            same.activity_id = activity_id
        if same.milestone is None:
            same.milestone = milestone
        return same, True
    taken_at = staged.get("taken_at")
    media = await store_media(
        uow,
        settings,
        kind=MediaKind.PHOTO,
        ksm_id=ksm_id,
        report_date=report_date,
        entered_by_id=entered_by_id,
        channel=channel,
        now=now,
        content=load_content(settings, staged["path"]),
        mime_type=staged.get("mime_type"),
        caption=staged.get("caption"),
        milestone=milestone,
        activity_id=activity_id,
        latitude=staged.get("latitude"),
        longitude=staged.get("longitude"),
        taken_at=datetime.fromisoformat(taken_at) if taken_at else None,
    )
    return media, False


def human_size(n: int, lang: str = "id") -> str:
    """`850 KB`, `20,5 MB` (Babel number formatting)."""
    from kotaku.i18n import fmt_number

    if n >= 1024 * 1024:
        return f"{fmt_number(n / 1024 / 1024, lang, 1)} MB"
    return f"{fmt_number(max(1, round(n / 1024)), lang, 0)} KB"
