"""The alert lifecycle: findings become alerts (one open per kind and subject), which are acknowledged,
resolved (automatically when the condition clears, or by hand), escalated and delivered through the outbox.
A resolution by hand holds: the same finding opens a new alert only once new data about its subject was
entered after the resolution.

Delivery: critical alerts are queued at once to the first level of people whose scope contains the
subject's KSM (facilitators); unacknowledged ones climb one level per `monitoring.escalate_after_hours`
(fasilitator -> askot/korkot -> provinsi -> nasional). Warnings and info go in one daily digest per person.
Messages are rendered in each recipient's language when queued; those that fall in the recipient's local
quiet hours wait (`next_attempt_at`) until the quiet hours end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotaku import catalogue
from kotaku.config import MonitoringConfig, Settings
from kotaku.domain.regions import path_prefixes
from kotaku.i18n import fmt_number
from kotaku.models import (
    Activity,
    Alert,
    AlertSeverity,
    AlertStatus,
    AttendanceDay,
    AttendanceRecord,
    AuditLog,
    Bkm,
    ChannelIdentity,
    Ksm,
    Media,
    Obstacle,
    OutboxMessage,
    OutboxStatus,
    Person,
    ProgressReport,
    Region,
    Role,
)
from kotaku.models.base import MAX_ID
from kotaku.notify.outbox import PRIORITY_HIGH, PRIORITY_NORMAL
from kotaku.security import hide_personal_numbers
from kotaku.services.scope import Scope, join_kelurahan, ksm_ids_in_scope, scope_contains_ksm, scope_of

if TYPE_CHECKING:  # only the shape is used here; the checks module builds the findings
    from kotaku.monitoring.findings import Finding

# Who hears of a critical alert first, and who next when nobody acknowledges it in time.
ESCALATION_TIERS: tuple[frozenset[Role], ...] = (
    frozenset({Role.FASILITATOR}),
    frozenset({Role.ASKOT, Role.KORKOT}),
    frozenset({Role.PROVINSI}),
    frozenset({Role.NASIONAL, Role.ADMIN}),
)
# The daily digest of warnings goes to the people who follow sites up day to day.
DIGEST_ROLES = frozenset({Role.FASILITATOR, Role.ASKOT, Role.KORKOT})
# Who may acknowledge or resolve an alert (inside their scope).
ALERT_ROLES = frozenset({Role.FASILITATOR, Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.NASIONAL, Role.ADMIN})
DIGEST_MAX_LINES = 15
OUTBOX_KIND_ALERT = "alert"
OUTBOX_KIND_DIGEST = "alert_digest"
# The PostgreSQL advisory lock `apply_findings` holds for its transaction, with the schema's hash as the
# second key like the reminder scheduler's leader lock ("KOTB"; the leader's is "KOTA").
APPLY_LOCK_KEY = 0x4B4F5442
# Where the finding's catalogue key and parameters are kept inside `alert.figures`.
MESSAGE_FIELD = "_message"

SEVERITY_ORDER = {AlertSeverity.CRITICAL: 0, AlertSeverity.WARNING: 1, AlertSeverity.INFO: 2}


# --- errors a person can run into ---------------------------------------------------------------


class AlertError(Exception):
    """An alert action that was refused; the subclass says why."""


class AlertNotFound(AlertError):
    def __init__(self, alert_id: int) -> None:
        super().__init__(f"alert {alert_id} not found")
        self.alert_id = alert_id


class AlertOutsideScope(AlertError):
    def __init__(self, alert: Alert) -> None:
        super().__init__(f"alert {alert.id} is outside the person's scope")
        self.alert = alert


class AlertNotAllowed(AlertError):
    def __init__(self, role: Role) -> None:
        super().__init__(f"role {role.value} may not acknowledge or resolve alerts")
        self.role = role


class AlertAlreadyAcknowledged(AlertError):
    def __init__(self, alert: Alert, by_name: str) -> None:
        super().__init__(f"alert {alert.id} was already acknowledged by {by_name}")
        self.alert = alert
        self.by_name = by_name


class AlertAlreadyResolved(AlertError):
    def __init__(self, alert: Alert) -> None:
        super().__init__(f"alert {alert.id} is already resolved")
        self.alert = alert


class NoteRequired(AlertError):
    def __init__(self) -> None:
        super().__init__("resolving by hand needs a note")


# --- results ---------------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    """What one application of findings changed (alert ids) and how many messages it queued."""

    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    unchanged: int = 0
    queued: int = 0
    held: int = 0  # findings whose alert was resolved by hand, with no new data since: not reopened

    def to_dict(self) -> dict[str, Any]:
        return {
            "opened": len(self.opened),
            "updated": len(self.updated),
            "resolved": len(self.resolved),
            "unchanged": self.unchanged,
            "held": self.held,
            "queued": self.queued,
        }


def dedup_key(kind: str, subject_type: str, subject_id: int) -> str:
    return f"{kind}:{subject_type}:{subject_id}"


# --- rendering -------------------------------------------------------------------------------------


def alert_text(alert: Alert, lang: str) -> str:
    """The finding's explanation in `lang`, from its catalogue key and parameters (stored Indonesian text
    when the key is unknown, e.g. after a rename)."""
    msg = (alert.figures or {}).get(MESSAGE_FIELD) or {}
    key = msg.get("key")
    if key and key in catalogue.default():
        try:
            return catalogue.t(key, lang, **(msg.get("params") or {}))
        except (KeyError, IndexError, ValueError):
            pass
    return alert.message or alert.kind


def severity_label(severity: AlertSeverity, lang: str) -> str:
    return catalogue.t(f"alert.severity.{severity.value}", lang)


def public_figures(alert: Alert) -> dict[str, Any]:
    """The figures that triggered the alert, without the stored message key."""
    return {k: v for k, v in (alert.figures or {}).items() if k != MESSAGE_FIELD}


def _figures(f: Finding) -> dict[str, Any]:
    return {**f.figures, MESSAGE_FIELD: {"key": f.message_key, "params": dict(f.params)}}


def _default_text(f: Finding) -> str:
    try:
        return catalogue.t(f.message_key, catalogue.DEFAULT_LANG, **f.params)
    except (KeyError, IndexError, ValueError):
        return f.message_key


# --- who is told: scopes matched in memory, one query per table ------------------------------------


@dataclass(frozen=True)
class _KsmPlace:
    ksm_id: int
    name: str
    bkm_id: int
    kelurahan_id: int
    path: str
    timezone: str


@dataclass(frozen=True)
class _Recipient:
    person: Person
    path: str | None  # region scope path; None for KSM/BKM/national scopes
    timezone: str


async def _places(session: AsyncSession, ksm_ids: Iterable[int]) -> dict[int, _KsmPlace]:
    ids = sorted(set(ksm_ids))
    found: dict[int, _KsmPlace] = {}
    for chunk in _chunks(ids, 5000):
        rows = await session.execute(
            join_kelurahan(
                select(Ksm.id, Ksm.name, Ksm.bkm_id, Bkm.kelurahan_id, Region.path, Region.timezone)
            ).where(Ksm.id.in_(chunk))
        )
        for r in rows:
            found[r[0]] = _KsmPlace(r[0], r[1], r[2], r[3], r[4], r[5])
    return found


async def _recipients(session: AsyncSession, settings: Settings, roles: Iterable[Role]) -> list[_Recipient]:
    """Active people with one of `roles`, with their scope path and local time zone."""
    people = list(
        (
            await session.execute(
                select(Person)
                .where(Person.role.in_(list(roles)), Person.active.is_(True))
                .order_by(Person.id)
            )
        ).scalars()
    )
    regions = {
        r.id: r
        for r in (
            await session.execute(
                select(Region).where(
                    Region.id.in_({p.scope_region_id for p in people if p.scope_region_id is not None})
                )
            )
        ).scalars()
    }
    ksm_places = await _places(session, [p.scope_ksm_id for p in people if p.scope_ksm_id is not None])
    bkm_tz = dict(
        (
            await session.execute(
                select(Bkm.id, Region.timezone)
                .join(Region, Region.id == Bkm.kelurahan_id)
                .where(Bkm.id.in_({p.scope_bkm_id for p in people if p.scope_bkm_id is not None}))
            )
        ).all()
    )
    out = []
    default_tz = settings.app.default_timezone
    for p in people:
        path, tz = None, default_tz
        if p.scope_region_id is not None and p.scope_region_id in regions:
            path, tz = regions[p.scope_region_id].path, regions[p.scope_region_id].timezone
        elif p.scope_ksm_id is not None and p.scope_ksm_id in ksm_places:
            tz = ksm_places[p.scope_ksm_id].timezone
        elif p.scope_bkm_id is not None:
            tz = bkm_tz.get(p.scope_bkm_id, default_tz)
        out.append(_Recipient(person=p, path=path, timezone=tz))
    return out


async def _identities(session: AsyncSession, person_ids: Iterable[int]) -> dict[int, list[ChannelIdentity]]:
    found: dict[int, list[ChannelIdentity]] = defaultdict(list)
    for chunk in _chunks(sorted(set(person_ids)), 5000):
        rows = (
            await session.execute(
                select(ChannelIdentity)
                .where(ChannelIdentity.person_id.in_(chunk), ChannelIdentity.unreachable_at.is_(None))
                .order_by(ChannelIdentity.id)
            )
        ).scalars()
        for identity in rows:
            found[identity.person_id].append(identity)
    return found


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- quiet hours -----------------------------------------------------------------------------------


def release_time(cfg: MonitoringConfig, tz: str, now: datetime) -> datetime:
    """`now`, or the end of the quiet hours (local to `tz`) when `now` falls inside them."""
    start, end = cfg.quiet_start, cfg.quiet_end
    if start is None or end is None or start == end:
        return now
    local = now.astimezone(ZoneInfo(tz))
    t = local.time()
    quiet = (start <= t or t < end) if start > end else (start <= t < end)
    if not quiet:
        return now
    release_day = local.date() if t < end else local.date() + timedelta(days=1)
    release = datetime.combine(release_day, end, tzinfo=ZoneInfo(tz))
    return release.astimezone(now.tzinfo or ZoneInfo("UTC"))


# --- queueing ----------------------------------------------------------------------------------------


@dataclass
class _Message:
    recipient: _Recipient
    key: str
    kind: str
    payload: dict[str, Any]
    priority: int


def _outbox_key(key: str, identity: ChannelIdentity) -> str:
    # Same form as kotaku.notify.outbox.enqueue, so one key means one message per chat everywhere.
    return f"{key}:{identity.channel.value}:{identity.external_id}"


async def _queue(session: AsyncSession, settings: Settings, messages: list[_Message], now: datetime) -> int:
    """Queue each message to every reachable identity of its recipient, once per dedup key, in bulk."""
    if not messages:
        return 0
    identities = await _identities(session, {m.recipient.person.id for m in messages})
    rows: list[tuple[str, ChannelIdentity, _Message]] = []
    for m in messages:
        for identity in identities.get(m.recipient.person.id, []):
            rows.append((_outbox_key(m.key, identity), identity, m))
    existing: set[str] = set()
    keys = [k for k, _, _ in rows]
    for chunk in _chunks(keys, 5000):
        existing.update(
            (await session.execute(select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(chunk))))
            .scalars()
            .all()
        )
    queued = 0
    for key, identity, m in rows:
        if key in existing:
            continue
        existing.add(key)
        session.add(
            OutboxMessage(
                dedup_key=key,
                channel=identity.channel,
                recipient=identity.chat_id or identity.external_id,
                person_id=identity.person_id,
                kind=m.kind,
                payload=m.payload,
                priority=m.priority,
                status=OutboxStatus.PENDING,
                next_attempt_at=release_time(settings.monitoring, m.recipient.timezone, now),
                created_at=now,
            )
        )
        queued += 1
    return queued


def _notice(
    alert: Alert, place: _KsmPlace | None, lang: str, escalated_hours: float | None
) -> dict[str, Any]:
    text = catalogue.t(
        "alert.notice",
        lang,
        severity=severity_label(alert.severity, lang),
        id=alert.id,
        ksm=place.name if place else "-",
        text=alert_text(alert, lang),
    )
    if escalated_hours is not None:
        text += "\n" + catalogue.t("alert.notice_escalated", lang, hours=fmt_number(escalated_hours, lang))
    text += "\n" + catalogue.t("alert.notice_hint", lang)
    return {
        "text": text,
        "alert_id": alert.id,
        "choices": [
            {"label": catalogue.t("alert.ack_button", lang, id=alert.id), "value": ack_value(alert.id)}
        ],
    }


def ack_value(alert_id: int) -> str:
    """The button value that acknowledges an alert from anywhere (a command, so it works outside a flow)."""
    return f"/peringatan ack:{alert_id}"


class _RecipientIndex:
    """Recipients by the scope they hold, so finding who covers a KSM is a few dict lookups
    (KSM, BKM, each region on its path, national) instead of a scan of everybody."""

    def __init__(self, recipients: Iterable[_Recipient]) -> None:
        self.by_ksm: dict[int, list[_Recipient]] = defaultdict(list)
        self.by_bkm: dict[int, list[_Recipient]] = defaultdict(list)
        self.by_path: dict[str, list[_Recipient]] = defaultdict(list)
        self.national: list[_Recipient] = []
        self._cache: dict[int, list[_Recipient]] = {}
        for r in recipients:
            p = r.person
            if p.scope_ksm_id is not None:
                self.by_ksm[p.scope_ksm_id].append(r)
            elif p.scope_bkm_id is not None:
                self.by_bkm[p.scope_bkm_id].append(r)
            elif r.path is not None:
                self.by_path[r.path].append(r)
            elif _is_national(p):
                self.national.append(r)

    def covering(self, place: _KsmPlace | None) -> list[_Recipient]:
        if place is None:
            return self.national
        found = self._cache.get(place.ksm_id)
        if found is None:
            found = [*self.by_ksm.get(place.ksm_id, []), *self.by_bkm.get(place.bkm_id, []), *self.national]
            for path in path_prefixes(place.path):
                found += self.by_path.get(path, [])
            found.sort(key=lambda r: r.person.id)
            self._cache[place.ksm_id] = found
        return found


def _is_national(p: Person) -> bool:
    return p.scope_ksm_id is None and p.scope_bkm_id is None and p.scope_region_id is None


def _first_tier(
    index: _RecipientIndex, place: _KsmPlace | None, start: int = 0
) -> tuple[int, list[_Recipient]]:
    """The first escalation tier from `start` with anybody in scope (the last tier when none has)."""
    covering = index.covering(place)
    for level in range(start, len(ESCALATION_TIERS)):
        found = [r for r in covering if r.person.role in ESCALATION_TIERS[level]]
        if found:
            return level, found
    return len(ESCALATION_TIERS) - 1, []


async def _deliver_open(session: AsyncSession, settings: Settings, alerts: list[Alert], now: datetime) -> int:
    """Queue critical alerts at once to the first tier in scope (facilitators, else the next level up)."""
    critical = [a for a in alerts if a.severity == AlertSeverity.CRITICAL]
    if not critical:
        return 0
    roles = set().union(*ESCALATION_TIERS)
    index = _RecipientIndex(await _recipients(session, settings, roles))
    places = await _places(session, [a.ksm_id for a in critical if a.ksm_id is not None])
    messages = []
    for alert in critical:
        place = places.get(alert.ksm_id) if alert.ksm_id is not None else None
        level, people = _first_tier(index, place)
        alert.escalation_level = max(alert.escalation_level or 0, level)
        for r in people:
            messages.append(
                _Message(
                    recipient=r,
                    key=f"alert:{alert.id}:open",
                    kind=OUTBOX_KIND_ALERT,
                    payload=_notice(alert, place, r.person.language or "id", None),
                    priority=PRIORITY_HIGH,
                )
            )
    return await _queue(session, settings, messages, now)


# --- applying findings -------------------------------------------------------------------------------


async def apply_findings(
    session: AsyncSession,
    settings: Settings,
    findings: list[Finding],
    *,
    kinds: set[str],
    now: datetime,
    ksm_ids: list[int] | None = None,
) -> ApplyResult:
    """Make the open alerts match `findings` for the evaluated `kinds` (and KSMs, when given).

    A finding with an open (or acknowledged) alert of the same kind and subject updates it; a new one
    opens an alert, unless a person resolved the subject's latest alert by hand and no data about the
    subject was entered since (the finding is `held`: a resolution sticks until the facts change); an open
    alert of an evaluated kind (inside `ksm_ids`) with no finding any more is resolved with
    `resolved_at = now`. Critical alerts opened (or raised to critical) are queued at once.
    """
    result = ApplyResult()
    if session.get_bind().dialect.name == "postgresql":
        # One apply at a time across processes (the sweep, the workers of every process): two of them
        # opening the same subjects' alerts would otherwise wait on each other's unique keys and
        # deadlock. SQLite's write lock already serialises them. Held until the transaction ends.
        await session.execute(
            select(func.pg_advisory_xact_lock(APPLY_LOCK_KEY, func.hashtext(func.current_schema())))
        )
    all_kinds = set(kinds) | {f.kind for f in findings}
    in_ksms = set(ksm_ids) if ksm_ids is not None else None
    wanted: dict[str, Finding] = {}
    for f in findings:
        wanted.setdefault(dedup_key(f.kind, f.subject_type, f.subject_id), f)

    # Plain rows, not ORM objects: a national sweep compares tens of thousands of alerts.
    existing: dict[str, Any] = {}
    if all_kinds:
        stmt = select(
            Alert.id, Alert.dedup_key, Alert.kind, Alert.ksm_id, Alert.severity, Alert.status, Alert.figures
        ).where(Alert.kind.in_(sorted(all_kinds)), Alert.status != AlertStatus.RESOLVED)
        if ksm_ids is not None and len(wanted) <= 5000:
            stmt = stmt.where(or_(Alert.ksm_id.in_(ksm_ids), Alert.dedup_key.in_(list(wanted))))
        for open_row in await session.execute(stmt):
            existing[open_row.dedup_key] = open_row

    places = await _places(session, [f.ksm_id for f in findings if f.ksm_id is not None])
    new_rows: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    raised: list[int] = []
    for key, f in wanted.items():
        figures = _figures(f)
        row = existing.get(key)
        if row is not None:
            if row.figures == figures and row.severity == f.severity:
                result.unchanged += 1
                continue
            changes.append(
                {
                    "id": row.id,
                    "figures": figures,
                    "severity": f.severity,
                    "message": _default_text(f),
                    "updated_at": now,
                }
            )
            result.updated.append(row.id)
            newly_critical = f.severity == AlertSeverity.CRITICAL and row.severity != AlertSeverity.CRITICAL
            if newly_critical and row.status == AlertStatus.OPEN:
                raised.append(row.id)
            continue
        place = places.get(f.ksm_id) if f.ksm_id is not None else None
        new_rows.append(
            {
                "kind": f.kind,
                "subject_type": f.subject_type,
                "subject_id": f.subject_id,
                "ksm_id": f.ksm_id,
                "region_id": place.kelurahan_id if place else None,
                "severity": f.severity,
                "status": AlertStatus.OPEN,
                "dedup_key": key,
                "figures": figures,
                "message": _default_text(f),
                "opened_at": now,
                "updated_at": now,
                "escalation_level": 0,
            }
        )

    held = await _resolved_by_hand(session, [r["dedup_key"] for r in new_rows])
    if held:
        changed = await _new_data_since(session, [wanted[key] for key in held], held)
        result.held = sum(1 for r in new_rows if r["dedup_key"] in held and r["dedup_key"] not in changed)
        new_rows = [r for r in new_rows if r["dedup_key"] not in held or r["dedup_key"] in changed]

    for key, row in existing.items():
        if key in wanted or row.kind not in kinds:
            continue
        if in_ksms is not None and row.ksm_id not in in_ksms:
            continue
        result.resolved.append(row.id)

    created: list[tuple[int, AlertSeverity]] = []
    for chunk in _chunks(new_rows, 2000):
        created += [
            (r[0], r[1])
            for r in await session.execute(insert(Alert).returning(Alert.id, Alert.severity), list(chunk))
        ]
    if changes:
        await session.execute(update(Alert), changes)
    for chunk in _chunks(result.resolved, 5000):
        await session.execute(
            update(Alert)
            .where(Alert.id.in_(chunk))
            .values(status=AlertStatus.RESOLVED, resolved_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    result.opened = [alert_id for alert_id, _ in created]
    deliver: list[Alert] = []
    to_load = [alert_id for alert_id, severity in created if severity == AlertSeverity.CRITICAL] + raised
    for chunk in _chunks(to_load, 5000):
        deliver += (await session.scalars(select(Alert).where(Alert.id.in_(chunk)).order_by(Alert.id))).all()
    result.queued = await _deliver_open(session, settings, deliver, now)
    await session.flush()
    return result


# --- a resolution by hand holds until the facts change -------------------------------------------------


async def _resolved_by_hand(session: AsyncSession, keys: Sequence[str]) -> dict[str, datetime]:
    """Of these dedup keys (findings with no open alert), those whose latest alert a person resolved by
    hand, with the time it was resolved."""
    latest: dict[str, tuple[int, datetime | None, int | None]] = {}
    for chunk in _chunks(sorted(set(keys)), 5000):
        rows = await session.execute(
            select(Alert.dedup_key, Alert.id, Alert.resolved_at, Alert.resolved_by_id).where(
                Alert.status == AlertStatus.RESOLVED, Alert.dedup_key.in_(chunk)
            )
        )
        for key, alert_id, resolved_at, resolved_by in rows:
            if key not in latest or alert_id > latest[key][0]:
                latest[key] = (alert_id, resolved_at, resolved_by)
    return {
        key: _utc(resolved_at)
        for key, (_, resolved_at, by) in latest.items()
        if by is not None and resolved_at is not None
    }


async def _new_data_since(
    session: AsyncSession, findings: Sequence[Finding], since: dict[str, datetime]
) -> set[str]:
    """The dedup keys whose subject got new data (entered after `since[key]`): progress of an activity;
    progress, attendance, photos or obstacles of a KSM; attendance of a worker; the photo itself; the
    obstacle itself."""
    ids: dict[str, set[int]] = defaultdict(set)
    for f in findings:
        ids[f.subject_type].add(f.subject_id)
    latest: dict[tuple[str, int], datetime] = {}

    async def collect(subject_type: str, stmt: Any) -> None:
        for subject_id, at in await session.execute(stmt):
            if at is not None:
                at = _utc(at)
                key = (subject_type, subject_id)
                latest[key] = max(latest.get(key, at), at)

    for subject_type, subject_ids in ids.items():
        for chunk in _chunks(sorted(subject_ids), 5000):
            for stmt in _latest_entry_statements(subject_type, chunk):
                await collect(subject_type, stmt)
    changed = set()
    for f in findings:
        key = dedup_key(f.kind, f.subject_type, f.subject_id)
        at = latest.get((f.subject_type, f.subject_id))
        if at is not None and at > since[key]:
            changed.add(key)
    return changed


def _latest_entry_statements(subject_type: str, ids: Sequence[int]) -> list[Any]:
    """(subject id, latest entry time) queries for one kind of subject."""
    if subject_type == "activity":
        return [
            select(ProgressReport.activity_id, func.max(ProgressReport.entered_at))
            .where(ProgressReport.activity_id.in_(ids))
            .group_by(ProgressReport.activity_id)
        ]
    if subject_type == "ksm":
        return [
            select(Activity.ksm_id, func.max(ProgressReport.entered_at))
            .join(ProgressReport, ProgressReport.activity_id == Activity.id)
            .where(Activity.ksm_id.in_(ids))
            .group_by(Activity.ksm_id),
            select(AttendanceDay.ksm_id, func.max(AttendanceDay.entered_at))
            .where(AttendanceDay.ksm_id.in_(ids))
            .group_by(AttendanceDay.ksm_id),
            select(Media.ksm_id, func.max(Media.entered_at))
            .where(Media.ksm_id.in_(ids))
            .group_by(Media.ksm_id),
            select(Obstacle.ksm_id, func.max(Obstacle.reported_at))
            .where(Obstacle.ksm_id.in_(ids))
            .group_by(Obstacle.ksm_id),
        ]
    if subject_type == "worker":
        return [
            select(AttendanceRecord.worker_id, func.max(AttendanceDay.entered_at))
            .join(AttendanceDay, AttendanceDay.id == AttendanceRecord.attendance_day_id)
            .where(AttendanceRecord.worker_id.in_(ids))
            .group_by(AttendanceRecord.worker_id)
        ]
    if subject_type == "media":
        return [select(Media.id, Media.entered_at).where(Media.id.in_(ids))]
    if subject_type == "obstacle":
        return [select(Obstacle.id, Obstacle.reported_at).where(Obstacle.id.in_(ids))]
    return []


# --- acknowledge, resolve ----------------------------------------------------------------------------


async def _get_alert(session: AsyncSession, alert_id: int, *, lock: bool = False) -> Alert | None:
    """The alert with this id; None for an id no INTEGER key can hold (queried, it would overflow SQLite's
    64-bit integers or be a DataError on PostgreSQL's 32-bit ones)."""
    if not 1 <= alert_id <= MAX_ID:
        return None
    return await session.get(Alert, alert_id, with_for_update=lock)


async def _checked(session: AsyncSession, alert_id: int, person: Person) -> Alert:
    if person.role not in ALERT_ROLES:
        raise AlertNotAllowed(person.role)
    alert = await _get_alert(session, alert_id, lock=True)
    if alert is None:
        raise AlertNotFound(alert_id)
    if not await alert_in_scope(session, alert, scope_of(person)):
        raise AlertOutsideScope(alert)
    if alert.status == AlertStatus.RESOLVED:
        raise AlertAlreadyResolved(alert)
    return alert


async def acknowledgeable(session: AsyncSession, alert_id: int, person: Person) -> Alert:
    """The alert, when `person` may acknowledge it now (checked before asking for a note, with the same
    refusals as `acknowledge`, which checks again when it writes)."""
    if person.role not in ALERT_ROLES:
        raise AlertNotAllowed(person.role)
    alert = await _get_alert(session, alert_id)
    if alert is None:
        raise AlertNotFound(alert_id)
    if alert.status == AlertStatus.RESOLVED:
        raise AlertAlreadyResolved(alert)
    if not await alert_in_scope(session, alert, scope_of(person)):
        raise AlertOutsideScope(alert)
    if alert.status == AlertStatus.ACKNOWLEDGED:
        by = await session.get(Person, alert.acknowledged_by_id) if alert.acknowledged_by_id else None
        raise AlertAlreadyAcknowledged(alert, by.name if by else "-")
    return alert


async def alert_in_scope(session: AsyncSession, alert: Alert, scope: Scope) -> bool:
    if scope.is_national:
        return True
    if alert.ksm_id is None:
        return False
    return await scope_contains_ksm(session, scope, alert.ksm_id)


async def acknowledge(
    session: AsyncSession, alert_id: int, person: Person, note: str | None, now: datetime
) -> Alert:
    """Open -> acknowledged by `person` (who, when, note). Refusals raise an `AlertError` saying why."""
    alert = await _checked(session, alert_id, person)
    if alert.status == AlertStatus.ACKNOWLEDGED:
        by = await session.get(Person, alert.acknowledged_by_id) if alert.acknowledged_by_id else None
        if by is not None and by.id == person.id and note:
            alert.ack_note = hide_personal_numbers(note, session.info)
            alert.updated_at = now
            return alert
        raise AlertAlreadyAcknowledged(alert, by.name if by else "-")
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by_id = person.id
    alert.acknowledged_at = now
    alert.ack_note = hide_personal_numbers((note or "").strip() or None, session.info)
    alert.updated_at = now
    session.add(
        AuditLog(
            at=now,
            actor_id=person.id,
            action="acknowledge",
            entity="alert",
            entity_id=alert.id,
            old={"status": AlertStatus.OPEN.value},
            new={"status": AlertStatus.ACKNOWLEDGED.value},
            note=alert.ack_note,
        )
    )
    await session.flush()
    return alert


async def resolve_by_hand(
    session: AsyncSession, alert_id: int, person: Person, note: str, now: datetime
) -> Alert:
    """Open or acknowledged -> resolved by `person` with a note (required)."""
    if not (note or "").strip():
        raise NoteRequired()
    alert = await _checked(session, alert_id, person)
    old = alert.status.value
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.resolved_by_id = person.id
    alert.resolve_note = hide_personal_numbers(note.strip(), session.info)
    alert.updated_at = now
    session.add(
        AuditLog(
            at=now,
            actor_id=person.id,
            action="resolve",
            entity="alert",
            entity_id=alert.id,
            old={"status": old},
            new={"status": AlertStatus.RESOLVED.value},
            note=alert.resolve_note,
        )
    )
    await session.flush()
    return alert


# --- escalation --------------------------------------------------------------------------------------


async def escalate_due(session: AsyncSession, settings: Settings, now: datetime) -> list[Alert]:
    """Unacknowledged critical alerts untouched for `escalate_after_hours` (since opening or the last
    escalation) go to the next level up that has somebody in scope. Elapsed time is measured in UTC, so a
    WIT site and a WIB manager agree; only delivery waits for each recipient's quiet hours."""
    hours = settings.monitoring.escalate_after_hours
    cutoff = now - timedelta(hours=hours)
    last_tier = len(ESCALATION_TIERS) - 1
    due = list(
        (
            await session.execute(
                select(Alert)
                .where(
                    Alert.status == AlertStatus.OPEN,
                    Alert.severity == AlertSeverity.CRITICAL,
                    Alert.escalation_level < last_tier,
                    func.coalesce(Alert.escalated_at, Alert.opened_at) <= cutoff,
                )
                .order_by(Alert.id)
            )
        ).scalars()
    )
    if not due:
        return []
    index = _RecipientIndex(await _recipients(session, settings, set().union(*ESCALATION_TIERS)))
    places = await _places(session, [a.ksm_id for a in due if a.ksm_id is not None])
    messages = []
    escalated = []
    for alert in due:
        place = places.get(alert.ksm_id) if alert.ksm_id is not None else None
        level, people = _first_tier(index, place, start=(alert.escalation_level or 0) + 1)
        since = alert.escalated_at or alert.opened_at
        alert.escalation_level = level
        alert.escalated_at = now
        alert.updated_at = now
        escalated.append(alert)
        waited = round((now - since).total_seconds() / 3600, 1)
        for r in people:
            messages.append(
                _Message(
                    recipient=r,
                    key=f"alert:{alert.id}:esc{level}",
                    kind=OUTBOX_KIND_ALERT,
                    payload=_notice(alert, place, r.person.language or "id", waited),
                    priority=PRIORITY_HIGH,
                )
            )
    await _queue(session, settings, messages, now)
    await session.flush()
    return escalated


# --- daily digest -----------------------------------------------------------------------------------


async def queue_digest(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """One message per recipient per local day listing the warning/info alerts opened since their last
    digest and still open (not acknowledged, not resolved). Only for recipients whose local time is past `digest_time`; safe to
    call every hour (dedup key `digest:{person_id}:{local_date}`). Returns the messages queued."""
    recipients = [
        r
        for r in await _recipients(session, settings, DIGEST_ROLES)
        if now.astimezone(ZoneInfo(r.timezone)).time() >= settings.monitoring.digest_time
    ]
    if not recipients:
        return 0
    last = dict(
        (
            await session.execute(
                select(OutboxMessage.person_id, func.max(OutboxMessage.created_at))
                .where(
                    OutboxMessage.kind == OUTBOX_KIND_DIGEST,
                    OutboxMessage.person_id.in_([r.person.id for r in recipients]),
                )
                .group_by(OutboxMessage.person_id)
            )
        ).all()
    )
    last = {pid: _utc(at) for pid, at in last.items()}
    since_all = min(last.values()) if len(last) == len(recipients) else None
    stmt = select(Alert).where(
        Alert.severity.in_([AlertSeverity.WARNING, AlertSeverity.INFO]),
        Alert.status == AlertStatus.OPEN,
        Alert.opened_at <= now,
    )
    if since_all is not None:
        stmt = stmt.where(Alert.opened_at > since_all)
    alerts = list((await session.execute(stmt.order_by(Alert.severity, Alert.opened_at, Alert.id))).scalars())
    if not alerts:
        return 0
    alerts.sort(key=lambda a: (SEVERITY_ORDER[a.severity], a.opened_at, a.id))
    places = await _places(session, [a.ksm_id for a in alerts if a.ksm_id is not None])
    index = _RecipientIndex(recipients)
    per_person: dict[int, list[Alert]] = defaultdict(list)
    for a in alerts:
        place = places.get(a.ksm_id) if a.ksm_id is not None else None
        for r in index.covering(place):
            since = last.get(r.person.id)
            if since is None or _utc(a.opened_at) > since:
                per_person[r.person.id].append(a)
    messages = []
    for r in recipients:
        mine = per_person.get(r.person.id)
        if not mine:
            continue
        local_day = now.astimezone(ZoneInfo(r.timezone)).date()
        messages.append(
            _Message(
                recipient=r,
                key=f"digest:{r.person.id}:{local_day.isoformat()}",
                kind=OUTBOX_KIND_DIGEST,
                payload=_digest_payload(mine, places, r.person.language or "id", local_day),
                priority=PRIORITY_NORMAL,
            )
        )
    return await _queue(session, settings, messages, now)


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=ZoneInfo("UTC"))


def _digest_payload(
    alerts: list[Alert], places: dict[int, _KsmPlace], lang: str, day: date
) -> dict[str, Any]:
    lines = [catalogue.t("alert.digest_title", lang, n=fmt_number(len(alerts), lang))]
    for a in alerts[:DIGEST_MAX_LINES]:
        place = places.get(a.ksm_id) if a.ksm_id is not None else None
        lines.append(
            catalogue.t(
                "alert.digest_line", lang, id=a.id, ksm=place.name if place else "-", text=alert_text(a, lang)
            )
        )
    if len(alerts) > DIGEST_MAX_LINES:
        lines.append(
            catalogue.t("alert.digest_more", lang, n=fmt_number(len(alerts) - DIGEST_MAX_LINES, lang))
        )
    else:
        lines.append(catalogue.t("alert.digest_footer", lang))
    return {"text": "\n".join(lines), "alert_ids": [a.id for a in alerts], "date": day.isoformat()}


# --- listing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertPage:
    alerts: list[Alert]
    total: int
    ksm_names: dict[int, str]


async def list_alerts(
    session: AsyncSession,
    scope: Scope,
    *,
    statuses: Sequence[AlertStatus] = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
    limit: int | None = None,
    offset: int = 0,
) -> AlertPage:
    """Alerts in a scope (national scope: all, including those with no KSM), most severe then newest first."""
    conds: list[Any] = [Alert.status.in_(list(statuses))]
    if not scope.is_national:
        ids = await ksm_ids_in_scope(session, scope)
        if not ids:
            return AlertPage(alerts=[], total=0, ksm_names={})
        conds.append(Alert.ksm_id.in_(ids))
    total = int((await session.execute(select(func.count(Alert.id)).where(*conds))).scalar_one())
    severity_rank = case(
        {AlertSeverity.CRITICAL.value: 0, AlertSeverity.WARNING.value: 1}, value=Alert.severity, else_=2
    )
    stmt = select(Alert).where(*conds).order_by(severity_rank, Alert.opened_at.desc(), Alert.id.desc())
    if limit is not None:
        stmt = stmt.offset(offset).limit(limit)
    alerts = list((await session.execute(stmt)).scalars())
    ksm_ids = {a.ksm_id for a in alerts if a.ksm_id is not None}
    names = (
        dict((await session.execute(select(Ksm.id, Ksm.name).where(Ksm.id.in_(ksm_ids)))).all())
        if ksm_ids
        else {}
    )
    return AlertPage(alerts=alerts, total=total, ksm_names=names)
