"""Obstacles (kendala): report one, close one, list the open ones; facilitators hear of each at once.

Reused by the chat flows (/kendala, /selesai), summaries and monitoring. Every function works inside the
caller's transaction and only flushes; the caller commits.

Who is told (through the outbox, one row per chat identity, dedup key per obstacle):
- on report: the facilitators whose scope contains the KSM; for severity "tinggi" (work stopped) also the
  BKM of that kelurahan. The reporter is never told about their own report. Priority is high for "tinggi".
- on close: the reporter (unless they closed it themselves).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue, clock
from kotaku.events import ObstacleClosed, ObstacleOpened
from kotaku.i18n import fmt_date
from kotaku.models import (
    Activity,
    AuditLog,
    Ksm,
    Obstacle,
    ObstacleCategory,
    ObstacleStatus,
    Person,
    Role,
    Severity,
)
from kotaku.notify.outbox import PRIORITY_HIGH, PRIORITY_NORMAL, notify_people
from kotaku.security import hide_personal_numbers, random_code
from kotaku.services.progress import activities_of_ksm
from kotaku.services.scope import (
    ksm_ids_in_scope,
    ksm_timezone,
    people_in_scope_of_ksm,
    scope_contains_ksm,
    scope_of,
)
from kotaku.uow import UnitOfWork

# Read aloud and typed on phones: no 0/O, 1/I/L. "K-" + 4 characters: 31**4 ≈ 920,000 ids.
SHORT_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SHORT_ID_PREFIX = "K-"
SHORT_ID_LENGTH = 4
SHORT_ID_RE = re.compile(r"^K?-?([2-9A-HJKMNP-Z]{4})$")
# What phones and people put inside a typed code: spaces, the dashes of phone keyboards, dots, underscores.
_CODE_SEPARATORS = re.compile(r"[\s\u2010-\u2015\u2212._-]+")
_CODE_CHARS = re.compile(r"^[A-Z0-9-]{2,12}$")

VOICE_DESCRIPTION = "(pesan suara)"
# A description or a closing note says something: at least this many letters or digits.
MIN_TEXT_CHARS = 3
CLOSER_ROLES = frozenset({Role.FASILITATOR, Role.ASKOT, Role.KORKOT, Role.ADMIN})
NOTIFIED_ROLES = (Role.FASILITATOR,)
NOTIFIED_ROLES_HIGH = (Role.FASILITATOR, Role.BKM)

CATEGORY_ORDER = [
    ObstacleCategory.CUACA,
    ObstacleCategory.MATERIAL,
    ObstacleCategory.TENAGA_KERJA,
    ObstacleCategory.DANA,
    ObstacleCategory.LAHAN_SOSIAL,
    ObstacleCategory.TEKNIS,
    ObstacleCategory.K3,
    ObstacleCategory.LAINNYA,
]
SEVERITY_ORDER = [Severity.RENDAH, Severity.SEDANG, Severity.TINGGI]

# Words people type for a category, Indonesian and English (matched after lowercasing and dropping
# punctuation). Two-word phrases are tried before single words.
CATEGORY_WORDS: dict[str, ObstacleCategory] = {}
for _cat, _spoken in {
    ObstacleCategory.CUACA: "cuaca weather hujan rain raining banjir flood badai storm angin wind "
    "kemarau panas hot longsor gerimis",
    ObstacleCategory.MATERIAL: "material materials bahan semen cement pasir sand batu kerikil split besi "
    "baja kayu bata batako pipa paving alat peralatan tools supplies supply",
    ObstacleCategory.TENAGA_KERJA: "tenaga tenagakerja naker pekerja tukang mandor labour labor workers "
    "worker sdm orang",
    ObstacleCategory.DANA: "dana uang anggaran pencairan upah gaji keuangan bayar pembayaran funds fund "
    "money budget wages wage payment",
    ObstacleCategory.LAHAN_SOSIAL: "lahan sosial tanah warga sengketa hibah izin ijin protes konflik land "
    "social dispute permit",
    ObstacleCategory.TEKNIS: "teknis teknik technical desain design gambar struktur rusak mesin engineering",
    ObstacleCategory.K3: "k3 keselamatan kecelakaan celaka luka covid prokes protokol kesehatan sakit "
    "safety accident health injury",
    ObstacleCategory.LAINNYA: "lainnya lain other others misc",
}.items():
    for _w in _spoken.split():
        CATEGORY_WORDS[_w] = _cat
# Words that name the category itself (dropped from a quick-form description); the rest are synonyms.
_NAMES = (
    "cuaca weather material materials bahan tenaga tenagakerja naker labour labor dana funds fund keuangan "
    "lahan sosial land social teknis technical k3 safety lainnya lain other others"
)
CATEGORY_NAMES = frozenset(_NAMES.split(" "))
CATEGORY_PHRASES: dict[str, ObstacleCategory] = {
    "tenaga kerja": ObstacleCategory.TENAGA_KERJA,
    "lahan sosial": ObstacleCategory.LAHAN_SOSIAL,
    "protokol kesehatan": ObstacleCategory.K3,
    "k3 protokol kesehatan": ObstacleCategory.K3,
    "lain lain": ObstacleCategory.LAINNYA,
    "health protocol": ObstacleCategory.K3,
}

SEVERITY_WORDS: dict[str, Severity] = {
    "rendah": Severity.RENDAH,
    "ringan": Severity.RENDAH,
    "kecil": Severity.RENDAH,
    "low": Severity.RENDAH,
    "minor": Severity.RENDAH,
    "sedang": Severity.SEDANG,
    "menengah": Severity.SEDANG,
    "medium": Severity.SEDANG,
    "moderate": Severity.SEDANG,
    "tinggi": Severity.TINGGI,
    "berat": Severity.TINGGI,
    "berhenti": Severity.TINGGI,
    "stop": Severity.TINGGI,
    "high": Severity.TINGGI,
    "severe": Severity.TINGGI,
}


# --- errors ---------------------------------------------------------------------------------------


class ObstacleError(Exception):
    """Base of the reasons an obstacle cannot be closed."""


class ObstacleNotFound(ObstacleError):
    def __init__(self, short_id: str) -> None:
        super().__init__(short_id)
        self.short_id = short_id


class NotACloser(ObstacleError):
    """The person's role may not close obstacles."""


class ObstacleOutsideScope(ObstacleError):
    def __init__(self, obstacle: Obstacle, ksm_name: str) -> None:
        super().__init__(obstacle.short_id)
        self.obstacle, self.ksm_name = obstacle, ksm_name


class ObstacleAlreadyClosed(ObstacleError):
    def __init__(self, obstacle: Obstacle, closed_by_name: str) -> None:
        super().__init__(obstacle.short_id)
        self.obstacle, self.closed_by_name = obstacle, closed_by_name


# --- parsing --------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def parse_category(text: str) -> ObstacleCategory | None:
    """`hujan` -> CUACA, `Tenaga kerja` -> TENAGA_KERJA, `k3` -> K3; None when not a known word."""
    words = _words(text)
    if not words:
        return None
    phrase = " ".join(words)
    for cat in ObstacleCategory:  # a button label typed out, in either language
        for lang in ("id", "en"):
            if phrase == " ".join(_words(category_label(cat, lang))):
                return cat
    if phrase in CATEGORY_PHRASES:
        return CATEGORY_PHRASES[phrase]
    if phrase.replace(" ", "_") in {c.value for c in ObstacleCategory}:
        return ObstacleCategory(phrase.replace(" ", "_"))
    if len(words) == 1:
        return CATEGORY_WORDS.get(words[0])
    return None


def split_quick_form(text: str) -> tuple[ObstacleCategory | None, str]:
    """The category from the first word(s) of `/kendala ...`, and the description.

    A category name is dropped from the description (`material semen belum datang` -> MATERIAL,
    "semen belum datang"); a synonym is part of it (`hujan deras sejak pagi` -> CUACA, the whole text).
    An unknown first word gives (None, the whole text).
    """
    text = text.strip()
    tokens = text.split(maxsplit=2)
    if len(tokens) >= 2:
        cat = CATEGORY_PHRASES.get(" ".join(_words(" ".join(tokens[:2]))))
        if cat is not None:
            return cat, (tokens[2] if len(tokens) > 2 else "").strip(" ,:;-")
    if tokens:
        first = _words(tokens[0])
        cat = parse_category(tokens[0])
        if cat is not None:
            if all(w in CATEGORY_NAMES for w in first):
                return cat, text[len(tokens[0]) :].strip(" ,:;-")
            return cat, text
    return None, text


def parse_severity(text: str) -> Severity | None:
    words = _words(text)
    for w in words:
        if w in SEVERITY_WORDS:
            return SEVERITY_WORDS[w]
    return None


def normalize_short_id(text: str) -> str | None:
    """`k-7f3q`, `K 7F3Q`, `K–7F3Q`, `7F3Q` -> `K-7F3Q`; None when it cannot be an obstacle id."""
    raw = _CODE_SEPARATORS.sub("-", text.strip().upper()).strip("-")
    m = SHORT_ID_RE.match(raw.replace("-", "") if raw.startswith("K") else raw)
    return f"{SHORT_ID_PREFIX}{m.group(1)}" if m else None


def short_id_candidates(text: str) -> list[str]:
    """The stored codes a typed code may mean, most likely first: the normal form (`k 7f3q` -> `K-7F3Q`),
    then the text itself in upper case with and without `K-` (codes of another form, such as a 6-letter
    `9BENKU` from an older demo, are still found however they are typed)."""
    raw = _CODE_SEPARATORS.sub("-", text.strip().upper()).strip("-")
    compact = raw.replace("-", "")
    found = [
        normalize_short_id(raw),
        raw,
        compact,
        raw.removeprefix(SHORT_ID_PREFIX),
        SHORT_ID_PREFIX + compact,
        SHORT_ID_PREFIX + compact.removeprefix("K"),
    ]
    return [c for c in dict.fromkeys(f for f in found if f) if _CODE_CHARS.match(c)]


def is_meaningful(text: str) -> bool:
    """Whether a typed description or closing note is long enough to say anything (`MIN_TEXT_CHARS`)."""
    return len(re.findall(r"\w", text)) >= MIN_TEXT_CHARS


def category_label(category: ObstacleCategory | str, lang: str) -> str:
    return catalogue.t(f"kendala.cat.{ObstacleCategory(category).value}", lang)


def severity_label(severity: Severity | str, lang: str) -> str:
    return catalogue.t(f"kendala.sev.{Severity(severity).value}", lang)


# --- queries --------------------------------------------------------------------------------------


async def find_activity_in_text(session: AsyncSession, ksm_id: int, text: str) -> Activity | None:
    """The KSM's own activity whose code appears in the text (other KSMs' codes are ignored)."""
    upper = text.upper()
    if not upper:
        return None
    for a in await activities_of_ksm(session, ksm_id):
        if re.search(rf"(?<![\w-]){re.escape(a.code.upper())}(?![\w-])", upper):
            return a
    return None


async def get_obstacle(session: AsyncSession, short_id: str) -> Obstacle | None:
    """The obstacle a typed code names (case, spaces, dashes and the `K-` prefix do not matter)."""
    candidates = short_id_candidates(short_id)
    if not candidates:
        return None
    rows = (await session.execute(select(Obstacle).where(Obstacle.short_id.in_(candidates)))).scalars()
    by_code = {o.short_id: o for o in rows}
    return next((by_code[c] for c in candidates if c in by_code), None)


async def open_obstacles(session: AsyncSession, ksm_ids: list[int] | None) -> list[Obstacle]:
    """Open obstacles of these KSMs (None: every KSM), most severe first, then oldest first."""
    rank = case(
        (Obstacle.severity == Severity.TINGGI, 0),
        (Obstacle.severity == Severity.SEDANG, 1),
        else_=2,
    )
    stmt = select(Obstacle).where(Obstacle.status == ObstacleStatus.OPEN)
    if ksm_ids is not None:
        if not ksm_ids:
            return []
        stmt = stmt.where(Obstacle.ksm_id.in_(ksm_ids))
    stmt = stmt.order_by(rank, Obstacle.reported_at, Obstacle.id)
    return list((await session.execute(stmt)).scalars())


@dataclass(frozen=True)
class OpenObstacle:
    obstacle: Obstacle
    ksm_name: str
    days_open: int  # at the KSM's local date


async def open_in_scope(
    session: AsyncSession, person: Person, *, now: datetime, default_tz: str
) -> list[OpenObstacle]:
    """The open obstacles in a person's scope (in the order of `open_obstacles`), with their KSM's name
    and how long each has been open."""
    scope = scope_of(person)
    ksm_ids = None if scope.is_national else await ksm_ids_in_scope(session, scope)
    obstacles = await open_obstacles(session, ksm_ids)
    if not obstacles:
        return []
    ids = {o.ksm_id for o in obstacles}
    rows = await session.execute(select(Ksm.id, Ksm.name).where(Ksm.id.in_(ids)))
    names: dict[int, str] = {kid: name for kid, name in rows.all()}
    todays = {kid: clock.local_today(await ksm_timezone(session, kid, default_tz), now) for kid in ids}
    return [OpenObstacle(o, names.get(o.ksm_id, "-"), days_open(o, todays[o.ksm_id])) for o in obstacles]


# --- report ---------------------------------------------------------------------------------------


def short_id_candidate(rng: random.Random | None = None) -> str:
    """A new obstacle code `K-7F3Q`, not yet checked against the stored ones; `rng` makes the codes
    reproducible (the demo), without it they come from `secrets`."""
    if rng is None:
        return SHORT_ID_PREFIX + random_code(SHORT_ID_LENGTH, SHORT_ID_ALPHABET)
    return SHORT_ID_PREFIX + "".join(rng.choice(SHORT_ID_ALPHABET) for _ in range(SHORT_ID_LENGTH))


async def _new_short_id(session: AsyncSession) -> str:
    for _ in range(20):
        sid = short_id_candidate()
        if (await session.execute(select(Obstacle.id).where(Obstacle.short_id == sid))).first() is None:
            return sid
    raise RuntimeError("could not allocate a unique obstacle id")


@dataclass(frozen=True)
class Reported:
    obstacle: Obstacle
    notified: int  # outbox rows queued


async def create_obstacle(
    uow: UnitOfWork,
    *,
    ksm_id: int,
    category: ObstacleCategory | str,
    severity: Severity | str,
    description: str,
    reported_by: Person | None,
    report_date: date,
    now: datetime,
    activity_id: int | None = None,
    voice_media_id: int | None = None,
    photo_media_id: int | None = None,
    notify: bool = True,
) -> Reported:
    """Record an open obstacle with a fresh short id and queue the notices (see the module docstring)."""
    session = uow.session
    description = description.strip()
    if not description:
        raise ValueError("an obstacle needs a description")
    description = hide_personal_numbers(description, session.info)
    if activity_id is not None:
        activity = await session.get(Activity, activity_id)
        if activity is None or activity.ksm_id != ksm_id:
            raise ValueError("the activity does not belong to this KSM")
    for _ in range(5):
        obstacle = Obstacle(
            short_id=await _new_short_id(session),
            ksm_id=ksm_id,
            activity_id=activity_id,
            report_date=report_date,
            category=ObstacleCategory(category),
            severity=Severity(severity),
            description=description,
            voice_media_id=voice_media_id,
            photo_media_id=photo_media_id,
            status=ObstacleStatus.OPEN,
            reported_by_id=reported_by.id if reported_by else None,
            reported_at=now,
        )
        session.add(obstacle)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:  # another process took the same id in between
            session.expunge(obstacle)
            continue
        break
    else:
        raise RuntimeError("could not allocate a unique obstacle id")
    notified = await notify_obstacle(session, obstacle, now=now) if notify else 0
    uow.record(ObstacleOpened(at=now, obstacle_id=obstacle.id, ksm_id=ksm_id, report_date=report_date))
    return Reported(obstacle=obstacle, notified=notified)


async def notify_obstacle(session: AsyncSession, obstacle: Obstacle, *, now: datetime) -> int:
    """Queue the new-obstacle notice to facilitators (and BKM when work stopped), each in their language."""
    roles = NOTIFIED_ROLES_HIGH if obstacle.severity == Severity.TINGGI else NOTIFIED_ROLES
    people = [
        p
        for p in await people_in_scope_of_ksm(session, obstacle.ksm_id, roles)
        if p.id != obstacle.reported_by_id
    ]
    if not people:
        return 0
    ksm = await session.get(Ksm, obstacle.ksm_id)
    reporter = await session.get(Person, obstacle.reported_by_id) if obstacle.reported_by_id else None
    activity = await session.get(Activity, obstacle.activity_id) if obstacle.activity_id else None
    priority = PRIORITY_HIGH if obstacle.severity == Severity.TINGGI else PRIORITY_NORMAL
    count = 0
    for person in people:
        lang = person.language or "id"
        extra = ""
        if activity is not None:
            extra += catalogue.t("kendala.notice_activity", lang, activity=f"{activity.code} {activity.name}")
        if obstacle.photo_media_id:
            extra += catalogue.t("kendala.notice_photo", lang)
        if obstacle.voice_media_id:
            extra += catalogue.t("kendala.notice_voice", lang)
        text = catalogue.t(
            "kendala.notice",
            lang,
            short_id=obstacle.short_id,
            ksm=ksm.name if ksm else "-",
            category=category_label(obstacle.category, lang),
            severity=severity_label(obstacle.severity, lang),
            description=obstacle.description,
            reporter=reporter.name if reporter else "-",
            date=fmt_date(obstacle.report_date, lang),
            extra=extra,
        )
        count += await notify_people(
            session,
            [person],
            kind="obstacle",
            payload={
                "text": text,
                "obstacle_id": obstacle.id,
                "short_id": obstacle.short_id,
                "photo_media_id": obstacle.photo_media_id,
                "voice_media_id": obstacle.voice_media_id,
            },
            dedup_key=f"obstacle:{obstacle.short_id}",
            now=now,
            priority=priority,
        )
    return count


# --- close ----------------------------------------------------------------------------------------


async def check_closable(session: AsyncSession, closer: Person, short_id: str) -> Obstacle:
    """The open obstacle `closer` may close, or the reason why not (ObstacleError subclasses)."""
    if closer.role not in CLOSER_ROLES:
        raise NotACloser(closer.role.value)
    obstacle = await get_obstacle(session, short_id)
    if obstacle is None:
        raise ObstacleNotFound(normalize_short_id(short_id) or short_id.strip())
    if not await scope_contains_ksm(session, scope_of(closer), obstacle.ksm_id):
        ksm = await session.get(Ksm, obstacle.ksm_id)
        raise ObstacleOutsideScope(obstacle, ksm.name if ksm else "-")
    if obstacle.status == ObstacleStatus.CLOSED:
        by = await session.get(Person, obstacle.closed_by_id) if obstacle.closed_by_id else None
        raise ObstacleAlreadyClosed(obstacle, by.name if by else "-")
    return obstacle


async def close_obstacle(
    uow: UnitOfWork, *, closer: Person, short_id: str, note: str, now: datetime
) -> Obstacle:
    """Close an open obstacle in the closer's scope, audit it and tell the reporter.

    Raises NotACloser, ObstacleNotFound, ObstacleOutsideScope or ObstacleAlreadyClosed.
    """
    session = uow.session
    note = note.strip()
    if not note:
        raise ValueError("closing an obstacle needs a note")
    note = hide_personal_numbers(note, session.info)
    obstacle = await check_closable(session, closer, short_id)
    old = {"status": obstacle.status.value, "closed_by_id": None, "closed_at": None, "close_note": None}
    obstacle.status = ObstacleStatus.CLOSED
    obstacle.closed_by_id = closer.id
    obstacle.closed_at = now
    obstacle.close_note = note
    session.add(
        AuditLog(
            at=now,
            actor_id=closer.id,
            action="obstacle_closed",
            entity="obstacle",
            entity_id=obstacle.id,
            old=old,
            new={
                "status": ObstacleStatus.CLOSED.value,
                "closed_by_id": closer.id,
                "closed_at": now.isoformat(),
                "close_note": note,
            },
        )
    )
    await session.flush()
    if obstacle.reported_by_id and obstacle.reported_by_id != closer.id:
        reporter = await session.get(Person, obstacle.reported_by_id)
        if reporter is not None and reporter.active:
            ksm = await session.get(Ksm, obstacle.ksm_id)
            lang = reporter.language or "id"
            tz = await ksm_timezone(session, obstacle.ksm_id)
            text = catalogue.t(
                "selesai.notice",
                lang,
                short_id=obstacle.short_id,
                category=category_label(obstacle.category, lang),
                ksm=ksm.name if ksm else "-",
                closer=closer.name,
                date=fmt_date(now.astimezone(ZoneInfo(tz)).date(), lang),
                note=note,
            )
            await notify_people(
                session,
                [reporter],
                kind="obstacle_closed",
                payload={"text": text, "obstacle_id": obstacle.id, "short_id": obstacle.short_id},
                dedup_key=f"obstacle-closed:{obstacle.short_id}",
                now=now,
            )
    uow.record(ObstacleClosed(at=now, obstacle_id=obstacle.id, ksm_id=obstacle.ksm_id))
    return obstacle


def days_open(obstacle: Obstacle, today: date) -> int:
    return max(0, (today - obstacle.report_date).days)
