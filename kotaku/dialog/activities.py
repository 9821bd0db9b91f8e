"""Asking which activity, shared by /progres and /foto: the buttons' values, reading the answer, and
refusing another KSM's activity code with the reason."""

from __future__ import annotations

from collections.abc import Sequence

from kotaku.dialog.context import Context
from kotaku.dialog.inputs import picked_id
from kotaku.models import Activity
from kotaku.services.progress import named_activity, other_ksm_activity

VALUE_PREFIX = "a:"


def activity_value(activity: Activity) -> str:
    """The value of an activity's button: `a:<id>`."""
    return f"{VALUE_PREFIX}{activity.id}"


def answered_activity(text: str, activities: Sequence[Activity]) -> Activity | None:
    """The activity a tapped button (`a:<id>`) or a typed name, code or word of a name stands for."""
    if text.startswith(VALUE_PREFIX):
        activity_id = picked_id(text, VALUE_PREFIX)
        return next((a for a in activities if a.id == activity_id), None)
    return named_activity(activities, text) if text else None


async def refused_other_ksm(ctx: Context, ksm_id: int, text: str, key: str) -> bool:
    """An activity code of another KSM in the text: say so with `key` (given the `code`, its `owner` KSM
    and this `ksm`). True when refused."""
    found = await other_ksm_activity(ctx.session, ksm_id, text)
    if found is None:
        return False
    other, owner = found
    ksm = await ctx.ksm(ksm_id)
    ctx.say(ctx.t(key, code=other.code, owner=owner.name, ksm=ksm.name))
    return True
