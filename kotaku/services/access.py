"""Who may do what, where: the access matrix (role × action), written once as data. Inside one's own scope
a role may do what the matrix says; outside it nobody may do anything (the national roles have no
outside). The chat's flows and the CLI follow it (tests/e2e/test_access_matrix.py tries every cell), and
README's table is made from it (`markdown_table`). Every refusal is logged by `log_refusal`."""

from __future__ import annotations

import enum
from typing import Any

import structlog

from kotaku.models import Person, Role

log = structlog.get_logger(__name__)


class Action(enum.StrEnum):
    REPORT_ATTENDANCE = "report_attendance"
    REPORT_PROGRESS = "report_progress"
    REPORT_OBSTACLE = "report_obstacle"
    REPORT_MESSAGE = "report_message"
    CORRECT = "correct"
    CLOSE_OBSTACLE = "close_obstacle"
    ALERT = "alert"
    READ_STATUS = "read_status"
    READ_SUMMARY = "read_summary"
    READ_CURVE = "read_curve"
    EXPORT = "export"
    INVITE = "invite"
    BIND_GROUP = "bind_group"


REPORTERS = frozenset({Role.KETUA_KSM, Role.BKM, Role.FASILITATOR})
ALL_BUT_WORKER = frozenset(Role) - {Role.WORKER}

# Inside one's own scope: the roles that may.
MATRIX: dict[Action, frozenset[Role]] = {
    Action.REPORT_ATTENDANCE: REPORTERS,
    Action.REPORT_PROGRESS: REPORTERS,
    Action.REPORT_OBSTACLE: REPORTERS | {Role.WORKER},
    Action.REPORT_MESSAGE: REPORTERS,
    Action.CORRECT: REPORTERS,
    Action.CLOSE_OBSTACLE: frozenset({Role.FASILITATOR, Role.ASKOT, Role.KORKOT, Role.ADMIN}),
    Action.ALERT: frozenset(
        {Role.FASILITATOR, Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.NASIONAL, Role.ADMIN}
    ),
    Action.READ_STATUS: ALL_BUT_WORKER - {Role.KETUA_KSM},
    Action.READ_SUMMARY: frozenset(Role),
    Action.READ_CURVE: ALL_BUT_WORKER,
    Action.EXPORT: ALL_BUT_WORKER - {Role.KETUA_KSM},
    Action.INVITE: frozenset({Role.FASILITATOR, Role.ASKOT, Role.KORKOT, Role.PROVINSI, Role.ADMIN}),
    Action.BIND_GROUP: frozenset({Role.KETUA_KSM, Role.FASILITATOR}),
}

# How each action is asked for, as README's table names it.
HOW: dict[Action, str] = {
    Action.REPORT_ATTENDANCE: "`/hadir`",
    Action.REPORT_PROGRESS: "`/progres`",
    Action.REPORT_OBSTACLE: "`/kendala`",
    Action.REPORT_MESSAGE: "`/laporan` (one message)",
    Action.CORRECT: "`/ubah`",
    Action.CLOSE_OBSTACLE: "`/selesai`",
    Action.ALERT: "`/peringatan` acknowledge, resolve; `kotaku alerts ack/resolve --as`",
    Action.READ_STATUS: "`/status`",
    Action.READ_SUMMARY: "`/rekap`",
    Action.READ_CURVE: "`/kurva`",
    Action.EXPORT: "`/unduh`",
    Action.INVITE: "`kotaku invite --as`",
    Action.BIND_GROUP: "`/daftarkan_grup`",
}

# The chat flow of an action (by its name), for the refusals the engine and the flows log.
FLOW_ACTIONS: dict[str, Action] = {
    "hadir": Action.REPORT_ATTENDANCE,
    "progres": Action.REPORT_PROGRESS,
    "kendala": Action.REPORT_OBSTACLE,
    "laporan": Action.REPORT_MESSAGE,
    "ubah": Action.CORRECT,
    "selesai": Action.CLOSE_OBSTACLE,
    "peringatan": Action.ALERT,
    "status": Action.READ_STATUS,
    "rekap": Action.READ_SUMMARY,
    "kurva": Action.READ_CURVE,
    "unduh": Action.EXPORT,
}

# Who is above whom, for invites: one invites only roles below one's own (an admin invites anyone).
RANK: dict[Role, int] = {
    Role.WORKER: 0,
    Role.KETUA_KSM: 1,
    Role.BKM: 2,
    Role.FASILITATOR: 3,
    Role.ASKOT: 4,
    Role.KORKOT: 5,
    Role.PROVINSI: 6,
    Role.NASIONAL: 7,
    Role.ADMIN: 8,
}


def allowed(role: Role, action: Action) -> bool:
    """Whether `role` may do `action` inside its own scope."""
    return role in MATRIX[action]


def may_invite(inviter: Role, invited: Role) -> bool:
    """Whether a person with role `inviter` may invite someone as `invited` (scope aside)."""
    if not allowed(inviter, Action.INVITE):
        return False
    return inviter == Role.ADMIN or RANK[invited] < RANK[inviter]


def action_of_flow(flow: str) -> str:
    """The matrix action a chat flow does; flows outside the matrix (`foto`, `pengingat`) by their name."""
    action = FLOW_ACTIONS.get(flow)
    return action.value if action is not None else flow


def log_refusal(person: Person | None, action: Action | str, reason: str, **context: Any) -> None:
    """The log line of a refusal (said to the person in a catalogue sentence by the caller): who, which
    action, why (`role`, `outside_scope`, ...) and what about. A warning, so the CLI's default level
    shows it too."""
    log.warning(
        "access_refused",
        action=str(action),
        reason=reason,
        person=person.code if person is not None else None,
        role=person.role.value if person is not None else None,
        **{k: v for k, v in context.items() if v is not None},
    )


def markdown_table() -> str:
    """README's access matrix: one row per action, one column per role; ✓ allowed in one's own scope."""
    roles = list(Role)
    header = "| action | how | " + " | ".join(r.value for r in roles) + " |"
    rule = "| --- | --- | " + " | ".join(":-:" for _ in roles) + " |"
    rows = [
        f"| {action.value} | {HOW[action]} | "
        + " | ".join("✓" if allowed(r, action) else "—" for r in roles)
        + " |"
        for action in Action
    ]
    return "\n".join([header, rule, *rows])
