"""The monitoring rules, as pure functions: facts in (already gathered by set-based queries in
`kotaku.monitoring.evaluate`), findings out. Each rule has its setting in `[monitoring]` and its
explanation sentence in `kotaku.monitoring.messages`; docs/monitoring.md lists them all.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from kotaku import catalogue
from kotaku.config import MonitoringConfig
from kotaku.domain.figures import wage_share as wage_share_of
from kotaku.domain.geo import distance_m
from kotaku.domain.phash import PHASH_BITS, hamming_distance, phash_int
from kotaku.domain.plan import Assessment, Status, assess, planned_percent, project_finish
from kotaku.domain.regions import CODE_SEP, within
from kotaku.i18n import SUPPORTED
from kotaku.models import AlertSeverity
from kotaku.monitoring import messages as m
from kotaku.monitoring.findings import Finding
from kotaku.services.attendance import usual_crew

# Every kind a full evaluation decides about (an open alert of one of these kinds without a finding is
# resolved by the lifecycle).
ACTIVITY_KINDS = ("critical", "behind_streak", "late_finish", "no_report", "backwards", "jump")
KSM_KINDS = ("wage_share", "wage_range", "over_roster", "crew_spike", "idle_attendance", "late_entry")
WORKER_KINDS = ("nik_double",)
MEDIA_KINDS = ("photo_duplicate", "photo_far", "photo_stale")
OBSTACLE_KINDS = ("obstacle_high", "obstacle_open")
ALL_KINDS = ACTIVITY_KINDS + KSM_KINDS + WORKER_KINDS + MEDIA_KINDS + OBSTACLE_KINDS

SEVERITY: dict[str, AlertSeverity] = {
    "critical": AlertSeverity.CRITICAL,
    "behind_streak": AlertSeverity.WARNING,
    "late_finish": AlertSeverity.WARNING,  # CRITICAL when it makes the activity kritis (planned > 70%)
    "no_report": AlertSeverity.WARNING,
    "backwards": AlertSeverity.WARNING,
    "jump": AlertSeverity.WARNING,
    "wage_share": AlertSeverity.WARNING,
    "wage_range": AlertSeverity.WARNING,
    "over_roster": AlertSeverity.WARNING,
    "crew_spike": AlertSeverity.WARNING,
    "nik_double": AlertSeverity.WARNING,
    "idle_attendance": AlertSeverity.WARNING,
    "late_entry": AlertSeverity.INFO,
    "photo_duplicate": AlertSeverity.WARNING,
    "photo_far": AlertSeverity.INFO,
    "photo_stale": AlertSeverity.INFO,
    "obstacle_high": AlertSeverity.CRITICAL,
    "obstacle_open": AlertSeverity.WARNING,
}


def enabled_kinds(cfg: MonitoringConfig) -> set[str]:
    unknown = set(cfg.disabled_checks) - set(ALL_KINDS)
    if unknown:
        raise ValueError(f"monitoring.disabled_checks: unknown checks {sorted(unknown)}; known: {ALL_KINDS}")
    return set(ALL_KINDS) - set(cfg.disabled_checks)


def _finding(
    kind: str,
    subject_type: str,
    subject_id: int,
    ksm_id: int | None,
    figures: dict[str, Any],
    params: dict[str, Any],
    severity: AlertSeverity | None = None,
) -> Finding:
    return Finding(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        ksm_id=ksm_id,
        severity=severity or SEVERITY[kind],
        figures=figures,
        message_key=f"alert.{kind}",
        params=params,
    )


# --- activities ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityFacts:
    """One activity as seen on its KSM's local `today`.

    `reports` are its latest reports on or before `today` (oldest first, at most as many as the rules
    need); `last_report` is the latest one even when it is older than the evaluated window.
    """

    id: int
    ksm_id: int
    code: str
    name: str
    start: date
    end: date
    today: date
    plan_points: tuple[tuple[date, float], ...] = ()
    reports: tuple[tuple[date, float], ...] = ()
    last_report: tuple[date, float] | None = None

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def latest(self) -> tuple[date, float] | None:
        if self.reports:
            return self.reports[-1]
        return self.last_report

    def planned_on(self, on: date, cfg: MonitoringConfig) -> float:
        return planned_percent(self.plan_points, self.start, self.end, on, cfg.curve)


def assess_facts(a: ActivityFacts, cfg: MonitoringConfig) -> Assessment:
    """The deviation rule (kotaku.domain.plan.assess) on the activity's local today."""
    latest = a.latest
    return assess(
        planned=a.planned_on(a.today, cfg),
        actual=latest[1] if latest else None,
        cfg=cfg,
        end=a.end,
        projected_finish=project_finish(a.reports, window=cfg.trend_reports),
    )


def _activity_figures(a: ActivityFacts, s: Assessment) -> dict[str, Any]:
    return {
        "date": a.today.isoformat(),
        "planned": s.planned,
        "actual": s.actual,
        "deviation": s.deviation,
        "end_date": a.end.isoformat(),
    }


def check_deviation(a: ActivityFacts, cfg: MonitoringConfig, s: Assessment | None = None) -> list[Finding]:
    """`critical`: more than 10 points behind (planned <= 70%) or 5 (planned > 70%);
    `late_finish`: the trend of the last reports reaches 100% after the end date (critical when that
    makes the activity kritis by the rule, a warning otherwise)."""
    if a.today < a.start:
        return []
    s = s or assess_facts(a, cfg)
    if s.status in (Status.DONE, Status.NOT_STARTED):
        return []
    out: list[Finding] = []
    figures = _activity_figures(a, s)
    if s.status == Status.CRITICAL and s.reason != "proyeksi melewati tanggal selesai":
        limit = (
            cfg.critical_behind_low if s.planned <= cfg.critical_low_plan_max else cfg.critical_behind_high
        )
        params = {
            "activity": a.label,
            **m.day("date", a.today),
            **m.num("planned", s.planned),
            **m.num("actual", s.actual),
            **m.signed("deviation", s.deviation or 0.0),
            **m.num("limit", limit),
        }
        if s.actual is not None:
            params["actual_id"] += "%"
            params["actual_en"] += "%"
        out.append(_finding("critical", "activity", a.id, a.ksm_id, {**figures, "limit": limit}, params))
    projected = s.projected_finish
    if projected is not None and projected > a.end and s.actual is not None and s.actual < 100:
        severity = AlertSeverity.CRITICAL if s.status == Status.CRITICAL else AlertSeverity.WARNING
        n = min(len(a.reports), cfg.trend_reports)
        params = {
            "activity": a.label,
            "n": n,
            **m.num("actual", s.actual),
            **m.day("date", a.latest[0] if a.latest else a.today),
            **m.day("projected", projected),
            **m.day("end", a.end),
        }
        out.append(
            _finding(
                "late_finish",
                "activity",
                a.id,
                a.ksm_id,
                {**figures, "projected_finish": projected.isoformat(), "reports": n},
                params,
                severity,
            )
        )
    return out


def check_behind_streak(a: ActivityFacts, cfg: MonitoringConfig) -> list[Finding]:
    """`behind_streak`: each of the last `behind_reports` reports was behind the plan of its own day."""
    n = cfg.behind_reports
    if len(a.reports) < n:
        return []
    last = a.reports[-n:]
    deviations: list[float] = []
    for on, pct in last:
        s = assess(planned=a.planned_on(on, cfg), actual=pct, cfg=cfg)
        if s.status not in (Status.BEHIND, Status.CRITICAL) or s.deviation is None:
            return []
        deviations.append(s.deviation)
    latest_date = last[-1][0]
    figures = {
        "reports": n,
        "dates": [d.isoformat() for d, _ in last],
        "deviations": deviations,
    }
    params = {
        "activity": a.label,
        "n": n,
        **m.day("date", latest_date),
        **m.signed("deviation", deviations[-1]),
    }
    return [_finding("behind_streak", "activity", a.id, a.ksm_id, figures, params)]


class WorkDays:
    """Counts work days between two dates quickly (a sorted list of the work days of the span)."""

    def __init__(self, first: date, last: date, is_work_day: Callable[[date], bool]) -> None:
        self.first, self.last = first, last
        self._days: list[date] = []
        d = first
        while d <= last:
            if is_work_day(d):
                self._days.append(d)
            d += timedelta(days=1)

    def between(self, after: date, before: date) -> int:
        """Work days d with after < d < before (both ends excluded)."""
        if before <= after:
            return 0
        lo = bisect.bisect_right(self._days, after)
        hi = bisect.bisect_left(self._days, before)
        return max(0, hi - lo)


def check_no_report(a: ActivityFacts, cfg: MonitoringConfig, work_days: WorkDays) -> list[Finding]:
    """`no_report`: a running, unfinished activity missed `no_report_workdays` work days in a row
    (today is not counted: the day is not over; Sundays and national holidays are not work days)."""
    if a.today < a.start:
        return []
    latest = a.latest
    if latest is not None and latest[1] >= 100:
        return []
    after = latest[0] if latest is not None else a.start - timedelta(days=1)
    missed = work_days.between(after, a.today)
    if missed < cfg.no_report_workdays:
        return []
    figures = {
        "work_days": missed,
        "last_report": latest[0].isoformat() if latest else None,
        "date": a.today.isoformat(),
    }
    params = {"activity": a.label, "days": missed, **m.day("last", latest[0] if latest else None)}
    return [_finding("no_report", "activity", a.id, a.ksm_id, figures, params)]


def check_progress_steps(a: ActivityFacts, cfg: MonitoringConfig) -> list[Finding]:
    """`backwards`: the latest report is lower than the one before; `jump`: it rose more than
    `jump_percent` points per day since the one before."""
    if len(a.reports) < 2:
        return []
    (d0, p0), (d1, p1) = a.reports[-2], a.reports[-1]
    days = max(1, (d1 - d0).days)
    delta = round(p1 - p0, 2)
    backwards = round(p1, 2) < round(p0, 2)
    if not backwards and delta <= cfg.jump_percent * days:
        return []
    params = {
        "activity": a.label,
        **m.num("previous", p0),
        **m.day("previous_date", d0),
        **m.num("percent", p1),
        **m.day("date", d1),
    }
    figures: dict[str, Any] = {
        "previous": p0,
        "previous_date": d0.isoformat(),
        "percent": p1,
        "date": d1.isoformat(),
    }
    if backwards:
        return [_finding("backwards", "activity", a.id, a.ksm_id, figures, params)]
    params.update({"days": days, **m.num("delta", delta), **m.num("limit", cfg.jump_percent)})
    figures.update({"days": days, "limit": cfg.jump_percent})
    return [_finding("jump", "activity", a.id, a.ksm_id, figures, params)]


def check_activity(
    a: ActivityFacts, cfg: MonitoringConfig, work_days: WorkDays, kinds: set[str]
) -> list[Finding]:
    out: list[Finding] = []
    if kinds & {"critical", "late_finish"}:
        out += [f for f in check_deviation(a, cfg) if f.kind in kinds]
    if "behind_streak" in kinds:
        out += check_behind_streak(a, cfg)
    if "no_report" in kinds:
        out += check_no_report(a, cfg, work_days)
    if kinds & {"backwards", "jump"}:
        out += [f for f in check_progress_steps(a, cfg) if f.kind in kinds]
    return out


# --- KSMs ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KsmRef:
    id: int
    code: str
    name: str
    today: date
    region_code: str = ""  # the kelurahan's Kemendagri code, for regional wage ranges

    @property
    def label(self) -> str:
        return self.name


def check_wage_share(
    k: KsmRef,
    wages: float,
    work_value: float,
    cfg: MonitoringConfig,
    *,
    days: int | None = None,
    progress: float | None = None,
) -> list[Finding]:
    """`wage_share`: porsi upah = upah tercatat ÷ perkiraan nilai pekerjaan, to date (`kotaku.domain.figures`,
    the figures `/rekap` shows), below `min_wage_share` (exactly at it is fine). Judged on enough data only:
    `days` with attendance ≥ `wage_share_min_days`, the works' budget-weighted `progress` (%) ≥
    `wage_share_min_progress`, and the value ≥ `wage_share_min_funds` (None: not known, not checked)."""
    if work_value <= 0 or work_value < cfg.wage_share_min_funds:
        return []
    if days is not None and days < cfg.wage_share_min_days:
        return []
    if progress is not None and round(progress, 9) < cfg.wage_share_min_progress:
        return []
    share = wage_share_of(wages, work_value) or 0.0
    if round(share, 9) >= cfg.min_wage_share:
        return []
    figures = {
        "wages": round(wages),
        "work_value": round(work_value),
        "share": round(share, 4),
        "minimum": cfg.min_wage_share,
        "days": days,
        "progress": None if progress is None else round(progress, 2),
    }
    params = {
        "ksm": k.label,
        **m.num("share", 100 * share, 1),
        **m.rupiah("wages", wages),
        **m.rupiah("value", work_value),
        **m.num("minimum", 100 * cfg.min_wage_share, 1),
        **m.num("progress", progress, 1),
    }
    return [_finding("wage_share", "ksm", k.id, k.id, figures, params)]


def wage_range_for(cfg: MonitoringConfig, region_code: str, skill: str) -> tuple[int, int] | None:
    """The configured range for a skill: the longest matching region code prefix, else the national one."""
    best: list[int] | None = None
    best_len = -1
    for code, ranges in cfg.region_wage_ranges.items():
        if within(region_code, code, CODE_SEP) and skill in ranges and len(code) > best_len:
            best, best_len = ranges[skill], len(code)
    if best is None:
        best = cfg.wage_ranges.get(skill)
    return (best[0], best[1]) if best else None


# The `wage_range` statistics of the days counted without a roster: the wage per person of each day.
COUNT_WAGES = "_count"


def count_wage_range(cfg: MonitoringConfig, region_code: str) -> tuple[int, int] | None:
    """The range a wage per person of a day counted without a roster must fall in: from the lowest to the
    highest bound of every skill (the day's crew may mix pekerja and tukang)."""
    ranges = [r for skill in sorted(cfg.wage_ranges) if (r := wage_range_for(cfg, region_code, skill))]
    for by_skill in cfg.region_wage_ranges.values():
        ranges += [r for skill in by_skill if (r := wage_range_for(cfg, region_code, skill))]
    if not ranges:
        return None
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def check_wage_range(
    k: KsmRef, stats: dict[str, tuple[int, int, int]], since: date, cfg: MonitoringConfig
) -> list[Finding]:
    """`wage_range`: a daily wage recorded for a skill outside its range (bounds allowed), or, on days
    counted without a roster, a wage per person outside every skill's range (`COUNT_WAGES`).
    `stats` maps skill -> (lowest wage, highest wage, records or days) over the recent days."""
    outside = []
    for skill in sorted(s for s in stats if s != COUNT_WAGES):
        rng = wage_range_for(cfg, k.region_code, skill)
        if rng is None:
            continue
        lo, hi, n = stats[skill]
        if lo < rng[0] or hi > rng[1]:
            outside.append((skill, lo, hi, n, rng))
    if COUNT_WAGES in stats and (rng := count_wage_range(cfg, k.region_code)) is not None:
        lo, hi, n = stats[COUNT_WAGES]
        if lo < rng[0] or hi > rng[1]:
            outside.append((COUNT_WAGES, lo, hi, n, rng))
    if not outside:
        return []
    skill, lo, hi, n, rng = outside[0]
    figures = {
        "since": since.isoformat(),
        "skills": {
            s: {"min": a, "max": b, "records": c, "low": r[0], "high": r[1]} for s, a, b, c, r in outside
        },
    }
    if skill == COUNT_WAGES:
        params = {
            "ksm": k.label,
            "n": n,
            **m.rupiah("low", rng[0]),
            **m.rupiah("high", rng[1]),
            **m.rupiah("min", lo),
            **m.rupiah("max", hi),
            **m.day("since", since),
        }
        finding = _finding("wage_range", "ksm", k.id, k.id, figures, params)
        return [replace(finding, message_key="alert.wage_range.count")]
    params = {
        "ksm": k.label,
        "skill": skill,
        "n": n,
        **m.rupiah("low", rng[0]),
        **m.rupiah("high", rng[1]),
        **m.rupiah("min", lo),
        **m.rupiah("max", hi),
        **m.day("since", since),
    }
    return [_finding("wage_range", "ksm", k.id, k.id, figures, params)]


def check_over_roster(
    k: KsmRef, roster: int, day: date, present: int, cfg: MonitoringConfig
) -> list[Finding]:
    """`over_roster`: more workers present on a day than `max_roster_ratio` × the active roster."""
    if roster <= 0:
        return []
    limit = roster * cfg.max_roster_ratio
    if present <= limit:
        return []
    figures = {"date": day.isoformat(), "present": present, "roster": roster, "limit": round(limit, 2)}
    params = {
        "ksm": k.label,
        "present": present,
        "roster": roster,
        **m.day("date", day),
        **m.num("limit", limit),
    }
    return [_finding("over_roster", "ksm", k.id, k.id, figures, params)]


@dataclass(frozen=True)
class CrewDay:
    """A KSM's busiest recent day, the head counts of the days with workers before it (within
    `crew_history_days`), and the crew its activities running that day planned (0: none planned)."""

    day: date
    present: int
    history: tuple[int, ...] = ()
    planned: float = 0.0


def check_crew_spike(k: KsmRef, c: CrewDay, cfg: MonitoringConfig) -> list[Finding]:
    """`crew_spike` (a fraud signal, also for KSMs that count without a roster): the day's head count is
    more than `crew_spike_ratio` × the usual median and `crew_spike_min_extra` above the usual high
    (`usual_crew`, once there are `crew_min_days` days), or more than `crew_plan_ratio` × the planned crew
    and `crew_spike_min_extra` above it."""
    usual = usual_crew(c.history, cfg.crew_min_days)
    median = statistics.median(x for x in c.history if x > 0) if usual is not None else None
    over_usual = (
        usual is not None
        and median is not None
        and c.present > cfg.crew_spike_ratio * median
        and c.present >= usual[1] + cfg.crew_spike_min_extra
    )
    planned = round(c.planned)
    over_plan = (
        planned > 0
        and c.present > cfg.crew_plan_ratio * c.planned
        and c.present >= c.planned + cfg.crew_spike_min_extra
    )
    if not (over_usual or over_plan):
        return []
    figures: dict[str, Any] = {"date": c.day.isoformat(), "present": c.present}
    if over_usual:
        assert usual is not None and median is not None
        figures.update(usual_low=usual[0], usual_high=usual[1], usual_median=median, days=len(c.history))
    if over_plan:
        figures.update(planned=round(c.planned, 1))
    key = "alert.crew_spike." + ("both" if over_usual and over_plan else "usual" if over_usual else "planned")
    medians = m.num("median", median, 1)
    basis = {
        f"basis_{lang}": catalogue.t(
            key,
            lang,
            low=usual[0] if usual else "-",
            high=usual[1] if usual else "-",
            median=medians[f"median_{lang}"],
            planned=planned,
        )
        for lang in SUPPORTED
    }
    params = {"ksm": k.label, "present": c.present, **m.day("date", c.day), **basis}
    return [_finding("crew_spike", "ksm", k.id, k.id, figures, params)]


def check_idle_attendance(k: KsmRef, days: int, since: date, cfg: MonitoringConfig) -> list[Finding]:
    """`idle_attendance`: workers present on `idle_attendance_days` days or more after the KSM's progress
    last rose (`since`: that day, or the start of the evaluated window)."""
    if days < cfg.idle_attendance_days:
        return []
    figures = {"attendance_days": days, "since": since.isoformat()}
    params = {"ksm": k.label, "days": days, **m.day("since", since)}
    return [_finding("idle_attendance", "ksm", k.id, k.id, figures, params)]


def check_late_entry(k: KsmRef, late: int, worst: int, since: date, cfg: MonitoringConfig) -> list[Finding]:
    """`late_entry`: reports (progress or attendance) entered more than `late_entry_days` days after the
    day they describe, over the recent days (`late` of them, up to `worst` days late)."""
    if late <= 0 or worst <= cfg.late_entry_days:
        return []
    figures = {
        "reports": late,
        "worst_days": worst,
        "limit_days": cfg.late_entry_days,
        "since": since.isoformat(),
    }
    params = {
        "ksm": k.label,
        "n": late,
        "worst": worst,
        "limit": cfg.late_entry_days,
        **m.day("since", since),
    }
    return [_finding("late_entry", "ksm", k.id, k.id, figures, params)]


# --- workers -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoublePresence:
    """A worker recorded present on a day when the same NIK hash was present at other KSMs."""

    worker_id: int
    worker_name: str
    ksm_id: int
    ksm_name: str
    day: date
    other_ksms: tuple[str, ...]


def check_nik_double(d: DoublePresence) -> list[Finding]:
    figures = {"date": d.day.isoformat(), "other_ksms": list(d.other_ksms)}
    params = {
        "worker": d.worker_name,
        "ksm": d.ksm_name,
        "others": ", ".join(d.other_ksms),
        **m.day("date", d.day),
    }
    return [_finding("nik_double", "worker", d.worker_id, d.ksm_id, figures, params)]


# --- media -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoFacts:
    id: int
    ksm_id: int
    ksm_name: str
    day: date
    sha256: str | None
    phash: str | None


def _pieces(max_distance: int) -> list[tuple[int, int]]:
    """The (shift, mask) of the `max_distance + 1` pieces a 64-bit hash is cut into: two hashes at most
    `max_distance` bits apart agree exactly on at least one of them (pigeonhole)."""
    pieces = min(PHASH_BITS, max_distance + 1)
    bounds = [(PHASH_BITS * i) // pieces for i in range(pieces + 1)]
    return [(bounds[i], (1 << (bounds[i + 1] - bounds[i])) - 1) for i in range(pieces)]


def duplicate_pairs(
    photos: Sequence[PhotoFacts], max_distance: int, subject_ksms: set[int] | None = None
) -> list[tuple[PhotoFacts, PhotoFacts, int]]:
    """Pairs (newer, older, Hamming distance) of photos of different days or KSMs that are the same file
    (distance 0) or whose 64-bit perceptual hashes differ in at most `max_distance` bits.

    Near pairs are found without comparing every pair: the hash is cut into `max_distance + 1` pieces,
    and two hashes that close must agree exactly on at least one piece (pigeonhole), so only photos
    sharing a piece are compared.

    With `subject_ksms`, only the pairs with at least one photo of those KSMs (exactly the full result's
    pairs that have one): the subject photos' pieces are indexed and every photo probes them, so the
    other photos are never compared with each other.
    """
    if subject_ksms is not None:
        return _subject_pairs(photos, max_distance, subject_ksms)
    found: dict[tuple[int, int], int] = {}

    def consider(p: PhotoFacts, q: PhotoFacts, dist: int) -> None:
        if p.id == q.id or (p.ksm_id == q.ksm_id and p.day == q.day):
            return
        newer, older = (p, q) if (p.day, p.id) > (q.day, q.id) else (q, p)
        key = (newer.id, older.id)
        if key not in found or dist < found[key]:
            found[key] = dist

    by_sha: dict[str, list[PhotoFacts]] = defaultdict(list)
    for p in photos:
        if p.sha256:
            by_sha[p.sha256].append(p)
    for group in by_sha.values():
        for i, p in enumerate(group):
            for q in group[:i]:
                consider(p, q, 0)

    hashed = [(p, h) for p in photos if (h := phash_int(p.phash)) is not None]
    hashes = [h for _, h in hashed]
    for lo, mask in _pieces(max_distance):
        # Bucketed by the piece (one dict pass), photos sharing it are compared within their bucket only.
        buckets: dict[int, list[int]] = defaultdict(list)
        for j, h in enumerate(hashes):
            buckets[(h >> lo) & mask].append(j)
        for bucket in buckets.values():
            if len(bucket) < 2:
                continue
            for x, j in enumerate(bucket):
                p, hp = hashed[j]
                for k in bucket[:x]:
                    q, hq = hashed[k]
                    dist = hamming_distance(hp, hq)
                    if dist <= max_distance:
                        consider(p, q, dist)
    index = {p.id: p for p in photos}
    return [(index[a], index[b], dist) for (a, b), dist in sorted(found.items())]


def _subject_pairs(
    photos: Sequence[PhotoFacts], max_distance: int, subject_ksms: set[int]
) -> list[tuple[PhotoFacts, PhotoFacts, int]]:
    """`duplicate_pairs` restricted to the pairs with a photo of `subject_ksms`."""
    found: dict[tuple[int, int], int] = {}

    def consider(p: PhotoFacts, q: PhotoFacts, dist: int) -> None:
        if p.id == q.id or (p.ksm_id == q.ksm_id and p.day == q.day):
            return
        newer, older = (p, q) if (p.day, p.id) > (q.day, q.id) else (q, p)
        key = (newer.id, older.id)
        if key not in found or dist < found[key]:
            found[key] = dist

    subject = [p for p in photos if p.ksm_id in subject_ksms]
    by_sha: dict[str, list[PhotoFacts]] = defaultdict(list)
    for p in subject:
        if p.sha256:
            by_sha[p.sha256].append(p)
    for q in photos:
        for p in by_sha.get(q.sha256 or "", ()):
            consider(p, q, 0)

    pieces = _pieces(max_distance)
    index: list[dict[int, list[tuple[PhotoFacts, int]]]] = [defaultdict(list) for _ in pieces]
    for p in subject:
        if (h := phash_int(p.phash)) is not None:
            for by_piece, (lo, mask) in zip(index, pieces, strict=True):
                by_piece[(h >> lo) & mask].append((p, h))
    for q in photos:
        if (hq := phash_int(q.phash)) is None:
            continue
        for by_piece, (lo, mask) in zip(index, pieces, strict=True):
            for p, hp in by_piece.get((hq >> lo) & mask, ()):
                dist = hamming_distance(hp, hq)
                if dist <= max_distance:
                    consider(p, q, dist)
    by_id = {p.id: p for p in photos}
    return [(by_id[a], by_id[b], dist) for (a, b), dist in sorted(found.items())]


def check_photo_duplicates(
    photos: Sequence[PhotoFacts], cfg: MonitoringConfig, subject_ksms: set[int] | None = None
) -> list[Finding]:
    """`photo_duplicate`: one finding per newer photo (about its closest earlier match)."""
    best: dict[int, tuple[PhotoFacts, PhotoFacts, int]] = {}
    for newer, older, dist in duplicate_pairs(photos, cfg.phash_distance, subject_ksms):
        if subject_ksms is not None and newer.ksm_id not in subject_ksms:
            continue
        seen = best.get(newer.id)
        if seen is None or (dist, -older.id) < (seen[2], -seen[1].id):
            best[newer.id] = (newer, older, dist)
    out = []
    for newer, older, dist in best.values():
        same = dist == 0 and newer.sha256 is not None and newer.sha256 == older.sha256
        figures = {
            "date": newer.day.isoformat(),
            "other_media_id": older.id,
            "other_ksm_id": older.ksm_id,
            "other_date": older.day.isoformat(),
            "distance": dist,
            "same_file": same,
        }
        how = (
            m.text("how", "alert.photo_duplicate.same")
            if same
            else m.text("how", "alert.photo_duplicate.near", distance=dist)
        )
        params = {
            "ksm": newer.ksm_name,
            "other_ksm": older.ksm_name,
            **m.day("date", newer.day),
            **m.day("other_date", older.day),
            **how,
            "distance": dist,
        }
        out.append(_finding("photo_duplicate", "media", newer.id, newer.ksm_id, figures, params))
    return out


@dataclass(frozen=True)
class PlacedMedia:
    """A photo with EXIF GPS or a shared location, and the site it belongs to (activity, else KSM)."""

    id: int
    ksm_id: int
    ksm_name: str
    day: date
    is_location: bool
    latitude: float
    longitude: float
    site_latitude: float
    site_longitude: float


def check_photo_far(p: PlacedMedia, cfg: MonitoringConfig) -> list[Finding]:
    """`photo_far`: farther than `photo_radius_m` from the site's coordinates."""
    dist = round(distance_m(p.latitude, p.longitude, p.site_latitude, p.site_longitude), 1)
    if dist <= cfg.photo_radius_m:
        return []
    what = "alert.photo_far.location" if p.is_location else "alert.photo_far.photo"
    figures = {
        "date": p.day.isoformat(),
        "distance_m": round(dist, 1),
        "limit_m": cfg.photo_radius_m,
        "point": [p.latitude, p.longitude],
        "site": [p.site_latitude, p.site_longitude],
    }
    params = {
        "ksm": p.ksm_name,
        **m.text("what", what),
        **m.day("date", p.day),
        **m.num("distance", dist, 0),
        **m.num("limit", cfg.photo_radius_m, 0),
    }
    return [_finding("photo_far", "media", p.id, p.ksm_id, figures, params)]


@dataclass(frozen=True)
class DatedPhoto:
    """A photo whose EXIF time is known, as a local date of its site, and the report day it was sent for."""

    id: int
    ksm_id: int
    ksm_name: str
    day: date
    taken: date


def check_photo_stale(p: DatedPhoto, max_age_days: int) -> list[Finding]:
    """`photo_stale`: taken more than `dialog.photo_max_age_days` days before the report it was sent for
    (an old picture passed off as today's work; the chat warned the sender already)."""
    age = (p.day - p.taken).days
    if age <= max_age_days:
        return []
    figures = {"date": p.day.isoformat(), "taken": p.taken.isoformat(), "days": age, "limit": max_age_days}
    params = {"ksm": p.ksm_name, **m.day("date", p.day), **m.day("taken", p.taken), **m.num("days", age, 0)}
    return [_finding("photo_stale", "media", p.id, p.ksm_id, figures, params)]


# --- obstacles -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenObstacle:
    id: int
    short_id: str
    ksm_id: int
    ksm_name: str
    day: date
    today: date
    severity: str
    category: str
    description: str


def check_obstacle(
    o: OpenObstacle, cfg: MonitoringConfig, kinds: Iterable[str] = OBSTACLE_KINDS
) -> list[Finding]:
    """`obstacle_high`: an open obstacle of high severity; `obstacle_open`: open more than
    `obstacle_open_days` days (local dates of the site)."""
    kinds = set(kinds)
    days = max(0, (o.today - o.day).days)
    figures = {"date": o.day.isoformat(), "days_open": days, "severity": o.severity, "category": o.category}
    description = o.description if len(o.description) <= 120 else o.description[:119] + "…"
    params = {
        "code": o.short_id,
        "ksm": o.ksm_name,
        "days": days,
        "description": description,
        **m.day("date", o.day),
    }
    out = []
    if "obstacle_high" in kinds and o.severity == "tinggi":
        out.append(_finding("obstacle_high", "obstacle", o.id, o.ksm_id, figures, params))
    if "obstacle_open" in kinds and days > cfg.obstacle_open_days:
        out.append(
            _finding(
                "obstacle_open",
                "obstacle",
                o.id,
                o.ksm_id,
                {**figures, "limit_days": cfg.obstacle_open_days},
                params,
            )
        )
    return out
