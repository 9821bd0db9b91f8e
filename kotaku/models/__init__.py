"""The typed ORM for the whole domain; importing this package registers every table on `Base.metadata`."""

from kotaku.models.base import Base, UTCDateTime, utcnow
from kotaku.models.enums import (
    AlertSeverity,
    AlertStatus,
    AttendanceMode,
    Channel,
    Gender,
    Indicator,
    MediaKind,
    ObstacleCategory,
    ObstacleStatus,
    OutboxStatus,
    RegionLevel,
    Role,
    Severity,
    Skill,
)
from kotaku.models.ops import Alert, AuditLog, ConversationState, OutboxMessage, ProcessedInbound
from kotaku.models.people import AuthFailure, ChannelIdentity, GroupBinding, Invite, Person, Worker
from kotaku.models.program import Activity, Bkm, Ksm, PlanPoint, Region
from kotaku.models.reports import AttendanceDay, AttendanceRecord, Media, Obstacle, ProgressReport

__all__ = [
    "Activity",
    "Alert",
    "AlertSeverity",
    "AlertStatus",
    "AttendanceDay",
    "AttendanceMode",
    "AttendanceRecord",
    "AuditLog",
    "AuthFailure",
    "Base",
    "Bkm",
    "Channel",
    "ChannelIdentity",
    "ConversationState",
    "Gender",
    "GroupBinding",
    "Indicator",
    "Invite",
    "Ksm",
    "Media",
    "MediaKind",
    "Obstacle",
    "ObstacleCategory",
    "ObstacleStatus",
    "OutboxMessage",
    "OutboxStatus",
    "Person",
    "PlanPoint",
    "ProcessedInbound",
    "ProgressReport",
    "Region",
    "RegionLevel",
    "Role",
    "Severity",
    "Skill",
    "UTCDateTime",
    "Worker",
    "utcnow",
]
