"""One settings object for the whole program: `config.toml` plus `KOTAKU_*` environment variables.

Precedence (highest first): explicit overrides, environment (`KOTAKU_DATABASE__URL`), the TOML file
(`--config`, `KOTAKU_CONFIG`, or `./config.toml` when present), then the defaults below.
"""

from __future__ import annotations

import os
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG_FILE = Path("config.toml")


class ConfigError(Exception):
    """Raised when the configuration is invalid; the message names the key and the fix."""


class _Section(BaseModel):
    """A config table: unknown keys (typos) are rejected, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class AppConfig(_Section):
    env: Literal["local", "test", "production"] = "local"
    language: Literal["id", "en"] = "id"
    default_timezone: str = "Asia/Jakarta"
    data_dir: Path = Path("var")

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_tz(v)


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///var/kotaku.db"
    echo: bool = False
    pool_size: int = Field(default=10, ge=1)
    # PostgreSQL: a pooled connection older than this is replaced (a server or proxy closing idle
    # connections); no ping before each use: an update that meets a dropped connection is handled again.
    pool_recycle_s: int = Field(default=1_800, ge=30)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    # SQLite durability: FULL syncs the write-ahead log at each commit (an acknowledged report survives a
    # power cut; about 0.25 ms a commit on an SSD), NORMAL leaves the last commits to the OS cache.
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    # Group commit (with FULL): each commit writes the WAL without syncing it and releases the write lock,
    # then waits for one sync of the WAL shared by every commit made meanwhile; the transaction (and so the
    # reply) returns only once its commit is on disk. Same durability as FULL, one sync for many writers.
    sqlite_group_commit: bool = True


class MediaConfig(_Section):
    dir: Path = Path("var/media")
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Largest webhook body accepted, Telegram's and WhatsApp's (413 above it, the rest unread); real
    # updates are a few KB.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # SIGTERM: stop taking updates (webhooks answer 503, so the platform retries), finish those in hand,
    # flush the outbox batch in flight, release the scheduler lock, and exit within this many seconds.
    shutdown_s: float = Field(default=20.0, gt=0, le=600)
    # Several processes on one database take a conversation's stored updates by lease (kotaku.services
    # .inbox): a process that died leaves its conversations to the others after this many seconds.
    inbox_lease_s: float = Field(default=30.0, ge=1, le=3600)
    # Handled webhook updates are kept this many days (redeliveries within it are recognised), then deleted.
    inbox_keep_days: int = Field(default=14, ge=1)


class TelegramConfig(_Section):
    token: SecretStr | None = None
    bot_username: str = "kotaku_bot"
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    webhook_url: str | None = None
    # The HTTP client under python-telegram-bot (replies, polling and the outbox sender): "aiohttp"
    # (bot.telegram.request) keeps up with 1,000 sends/s; "httpx" is PTB's own HTTPXRequest, several times
    # more CPU a request with many in flight (the outbox then falls far below its configured rate).
    http: Literal["aiohttp", "httpx"] = "aiohttp"


class WhatsAppTemplate(_Section):
    """An approved message template (Meta, category UTILITY) used outside the 24-hour window."""

    name: str
    languages: dict[str, str] = Field(default_factory=lambda: {"id": "id", "en": "en"})
    # Outbox payload fields filled in as the body parameters {{1}}, {{2}}, ... in this order.
    params: list[str] = Field(default_factory=lambda: ["text"])


def _default_templates() -> dict[str, WhatsAppTemplate]:
    return {"default": WhatsAppTemplate(name="kotaku_pemberitahuan")}


class WhatsAppConfig(_Section):
    phone_id: str | None = None
    display_number: str | None = None
    token: SecretStr | None = None
    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    base_url: str = "https://graph.facebook.com"
    api_version: str | None = None
    webhook_path: str = "/whatsapp/webhook"
    rate_per_s: float = Field(default=80.0, gt=0)
    pair_seconds: float = Field(default=6.0, ge=0)
    window_hours: float = Field(default=24.0, gt=0)
    media_attempts: int = Field(default=3, ge=1, le=10)
    restricted_pause_minutes: float = Field(default=60.0, gt=0)
    # Template per outbox message kind (reminder, digest, alert, escalation, obstacle, weekly, ...);
    # "default" serves every kind without its own. Without one, a message outside the window waits.
    templates: dict[str, WhatsAppTemplate] = Field(default_factory=_default_templates)


class SecurityConfig(_Section):
    nik_key: SecretStr | None = None


class ImportConfig(_Section):
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_rows: int = Field(default=200_000, ge=1)


class InviteConfig(_Section):
    valid_days: int = Field(default=14, ge=1, le=365)
    # Wrong invite codes: per chat identity (a Telegram user id, a WhatsApp number) per hour; and, in a
    # sliding window of `window_minutes`, from all identities of one channel and from everyone together.
    # Reaching a shared limit holds code registration for everyone (of that channel) and tells the admins.
    max_failures_per_hour: int = Field(default=5, ge=1)
    window_minutes: int = Field(default=60, ge=1, le=1440)
    max_failures_per_channel: int = Field(default=50, ge=1)
    max_failures_global: int = Field(default=100, ge=1)


class DialogConfig(_Section):
    draft_ttl_hours: float = Field(default=12.0, gt=0)
    max_jump_percent: float = Field(default=20.0, gt=0, le=100)
    photo_milestones: list[int] = Field(default_factory=lambda: [0, 50, 100])
    correction_days: int = Field(default=7, ge=1)
    roster_page_size: int = Field(default=10, ge=3, le=10)
    # A photo taken more than this many days before the report's date is warned about (and flagged).
    photo_max_age_days: int = Field(default=1, ge=0)


class MonitoringConfig(_Section):
    curve: Literal["s", "linear"] = "s"
    critical_low_plan_max: float = Field(default=70.0, ge=0, le=100)
    critical_behind_low: float = Field(default=10.0, ge=0)
    critical_behind_high: float = Field(default=5.0, ge=0)
    on_plan_tolerance: float = Field(default=0.0, ge=0)
    hok_hours: float = Field(default=8.0, gt=0)
    # Alert lifecycle and delivery (kotaku.monitoring.lifecycle).
    escalate_after_hours: float = Field(default=24.0, gt=0)
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(6, 0)
    digest_time: time = time(7, 0)
    # The checks (kotaku.monitoring.checks, evaluate); see docs/monitoring.md.
    disabled_checks: list[str] = Field(default_factory=list)
    evaluate_after_report: bool = True
    # After a report its KSM is evaluated by the background worker (kotaku.monitoring.worker), at most
    # `batch_seconds` after the mark when the worker is idle, `batch_ksms` KSMs per transaction; 0: in the
    # update's own task right after the commit. `alert_within_seconds` is the promise: no longer than this
    # between a report and its alerts (so `batch_seconds` may not exceed it; the worker logs when late).
    batch_seconds: float = Field(default=5.0, ge=0)
    batch_ksms: int = Field(default=200, ge=1)
    alert_within_seconds: float = Field(default=60.0, gt=0)
    sweep_minutes: int = Field(default=60, ge=5)
    alert_jobs_minutes: int = Field(default=15, ge=1)
    behind_reports: int = Field(default=3, ge=1)
    trend_reports: int = Field(default=5, ge=2)
    no_report_workdays: int = Field(default=3, ge=1)
    jump_percent: float = Field(default=20.0, gt=0, le=100)
    # wage_share: porsi upah (upah tercatat ÷ perkiraan nilai pekerjaan, to date) below `min_wage_share`,
    # judged once a KSM has `wage_share_min_days` days of attendance, its works are `wage_share_min_progress`
    # percent done (budget-weighted) and the value of the work done reaches `wage_share_min_funds` Rupiah.
    min_wage_share: float = Field(default=0.5, ge=0, le=1)
    wage_share_min_funds: int = Field(default=10_000_000, ge=0)
    wage_share_min_days: int = Field(default=10, ge=0)
    wage_share_min_progress: float = Field(default=50.0, ge=0, le=100)
    wage_ranges: dict[str, list[int]] = Field(
        default_factory=lambda: {"pekerja": [50_000, 150_000], "tukang": [70_000, 200_000]}
    )
    region_wage_ranges: dict[str, dict[str, list[int]]] = Field(default_factory=dict)
    max_roster_ratio: float = Field(default=1.0, gt=0)
    idle_attendance_days: int = Field(default=3, ge=1)
    late_entry_days: int = Field(default=2, ge=0)
    recent_days: int = Field(default=7, ge=1)
    history_days: int = Field(default=30, ge=7)
    photo_radius_m: float = Field(default=500.0, gt=0)
    phash_distance: int = Field(default=3, ge=0, le=32)
    obstacle_open_days: int = Field(default=7, ge=1)
    # crew_spike: a day's head count far above the KSM's usual crew (the days with workers among the
    # `crew_history_days` before it, once there are `crew_min_days`) or its activities' planned crew
    # (wage budget ÷ (`crew_plan_daily_wage` × work days), summed over the activities running that day).
    crew_history_days: int = Field(default=14, ge=2)
    crew_min_days: int = Field(default=3, ge=1)
    crew_spike_ratio: float = Field(default=2.0, gt=1)
    crew_plan_ratio: float = Field(default=3.0, gt=1)
    crew_spike_min_extra: int = Field(default=10, ge=0)
    crew_plan_daily_wage: int = Field(default=85_000, gt=0)

    @field_validator("wage_ranges")
    @classmethod
    def _check_wage_ranges(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        for skill, pair in v.items():
            if len(pair) != 2 or not 0 <= pair[0] <= pair[1]:
                raise ValueError(f"wage range for {skill!r} must be [low, high] with 0 <= low <= high")
        return v

    @field_validator("region_wage_ranges")
    @classmethod
    def _check_region_wage_ranges(cls, v: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, list[int]]]:
        for ranges in v.values():
            cls._check_wage_ranges(ranges)
        return v

    @model_validator(mode="after")
    def _batches_keep_the_alert_promise(self) -> MonitoringConfig:
        if self.batch_seconds > self.alert_within_seconds:
            raise ValueError(
                f"batch_seconds ({self.batch_seconds:g}) must not exceed alert_within_seconds "
                f"({self.alert_within_seconds:g}): a report's alerts would come later than promised"
            )
        return self


class RemindersConfig(_Section):
    """Reminder schedules (kotaku.reminders); times are local to each site (WIB/WITA/WIT)."""

    enabled: bool = True
    first_time: time = time(15, 0)
    second_time: time | None = time(17, 0)
    digest_time: time | None = time(17, 30)
    escalate_after_days: int = Field(default=2, ge=1)
    escalation_time: time = time(17, 30)
    escalation_roles: list[str] = Field(default_factory=lambda: ["askot", "korkot"])
    weekly_day: int = Field(default=0, ge=0, le=6)  # 0 = Monday
    weekly_time: time | None = time(8, 0)
    weekly_roles: list[str] = Field(default_factory=lambda: ["askot", "korkot"])
    weekly_chart: bool = True
    work_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5])  # Monday..Saturday
    national_holidays: bool = True
    extra_non_working_days: list[date] = Field(default_factory=list)
    grace_minutes: int = Field(default=120, ge=1)
    sweep_minutes: int = Field(default=5, ge=1)


class SchedulerConfig(_Section):
    """The scheduler leader among several `kotaku run` processes on one PostgreSQL (an advisory lock held
    on its own connection): when the leader dies, another process takes over within `failover_s`."""

    failover_s: float = Field(default=30.0, ge=1, le=3600)


class LoggingConfig(_Section):
    """What `kotaku run` writes to stderr: console lines for a person, or one JSON object a line (`json =
    true`) for a log collector; both masked the same way (kotaku.logs)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # `json` in config.toml and KOTAKU_LOGGING__JSON (a field named `json` would shadow pydantic's method).
    json_lines: bool = Field(default=False, alias="json")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class HealthConfig(_Section):
    """`/readyz` and the database figures on `/metrics` (bot/web.py, kotaku.health, kotaku.metrics)."""

    # The database must answer (and the figures be read) within this many seconds, or /readyz says 503.
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    # Not ready while more stored webhook updates than this wait to be handled (the process is behind).
    max_inbox_backlog: int = Field(default=1000, ge=1)
    # Backlogs, outbox depth and open alerts are read from the database at most this often (a scrape
    # storm reads the cached figures).
    cache_s: float = Field(default=5.0, ge=0, le=300)


class DeliveryConfig(_Section):
    """The outbox dispatcher (kotaku.notify.dispatcher): limits, retries and batching."""

    enabled: bool = True
    telegram_per_second: float = Field(default=30.0, gt=0)
    telegram_per_chat_per_second: float = Field(default=1.0, gt=0)
    telegram_group_per_minute: float = Field(default=20.0, gt=0)
    console_per_second: float = Field(default=1000.0, gt=0)
    rate_margin: float = Field(default=0.97, gt=0, le=1)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    send_timeout_seconds: float = Field(default=30.0, gt=0)
    # Sends in flight; the Telegram sender keeps as many connections to the Bot API (one a send).
    concurrency: int = Field(default=64, ge=1)
    batch_size: int = Field(default=500, ge=1)
    poll_seconds: float = Field(default=1.0, gt=0)
    claim_timeout_seconds: float = Field(default=300.0, gt=0)
    purge_after_days: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _claims_outlive_sends(self) -> DeliveryConfig:
        # A claim that went stale while its send was still under way is taken over and sent twice.
        if self.claim_timeout_seconds <= self.send_timeout_seconds:
            raise ValueError(
                f"claim_timeout_seconds ({self.claim_timeout_seconds:g}) must be longer than "
                f"send_timeout_seconds ({self.send_timeout_seconds:g})"
            )
        return self


class ExportsConfig(_Section):
    """Printed and machine exports (kotaku.exports, `kotaku export`): the default payment period."""

    # The period an export covers by default, and how Daftar Hadir / Daftar Pembayaran Upah are split:
    # "weekly" (7 days from `week_start`) or "monthly" (calendar months).
    period: Literal["weekly", "monthly"] = "weekly"
    week_start: int = Field(default=0, ge=0, le=6)  # 0 = Monday ... 6 = Sunday
    # A CSV export of at least `parallel_min_ksms` KSMs is written by `processes` worker processes, each
    # for a run of the KSMs (0: one per CPU, at most 4; 1: in the process asking for it).
    processes: int = Field(default=0, ge=0, le=32)
    parallel_min_ksms: int = Field(default=1_000, ge=1)


def _check_tz(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {v!r}; use e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura"
        ) from exc
    return v


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KOTAKU_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    app: AppConfig = Field(default_factory=AppConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    whatsapp: WhatsAppConfig = Field(default_factory=WhatsAppConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    importer: ImportConfig = Field(default_factory=ImportConfig)
    invite: InviteConfig = Field(default_factory=InviteConfig)
    dialog: DialogConfig = Field(default_factory=DialogConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    exports: ExportsConfig = Field(default_factory=ExportsConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _CURRENT_TOML.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def is_sqlite(self) -> bool:
        return self.database.url.startswith("sqlite")

    def has_telegram(self) -> bool:
        return self.telegram.token is not None and bool(self.telegram.token.get_secret_value())

    def has_whatsapp(self) -> bool:
        return bool(self.whatsapp.phone_id and self.whatsapp.token)


_CURRENT_TOML: dict[str, Path | None] = {"path": None}


def _resolve_config_path(path: str | Path | None) -> Path | None:
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p} (check --config or KOTAKU_CONFIG)")
        return p
    env = os.environ.get("KOTAKU_CONFIG")
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p} (check KOTAKU_CONFIG)")
        return p
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings; every validation problem becomes one `ConfigError` naming key and fix."""
    toml_path = _resolve_config_path(path)
    _CURRENT_TOML["path"] = toml_path
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, toml_path)) from exc
    except ValueError as exc:  # TOML syntax errors surface as ValueError subclasses
        raise ConfigError(f"cannot read config file {toml_path}: {exc}") from exc
    finally:
        _CURRENT_TOML["path"] = None
    _check_production(settings)
    return settings


def _explain(exc: ValidationError, toml_path: Path | None) -> str:
    lines = ["invalid configuration:"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        env = "KOTAKU_" + "__".join(str(p).upper() for p in err["loc"])
        where = f" in {toml_path}" if toml_path else ""
        if err["type"] == "extra_forbidden":
            fix = "remove it or check its spelling against config.example.toml"
        else:
            fix = f"set a valid value for `{key}`{where} or the environment variable {env}"
        lines.append(f"  - {key}: {err['msg']} (got {err.get('input')!r}); fix: {fix}")
    return "\n".join(lines)


def _check_production(settings: Settings) -> None:
    if settings.app.env != "production":
        return
    problems = []
    if settings.security.nik_key is None:
        problems.append("security.nik_key must be set in production (generate one with `kotaku keygen`)")
    if settings.telegram.mode == "webhook" and settings.telegram.webhook_secret is None:
        problems.append("telegram.webhook_secret must be set for telegram.mode = 'webhook'")
    if settings.has_whatsapp() and settings.whatsapp.app_secret is None:
        problems.append("whatsapp.app_secret must be set to verify webhook signatures")
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
