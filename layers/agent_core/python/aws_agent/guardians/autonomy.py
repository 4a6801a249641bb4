"""Autonomy: an action whose risk exceeds the resource type's autonomy level waits for a human; fleet averages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..assignment import autonomy_for
from .context import GuardContext
from .policy import GuardianDecision

GUARDIAN = "Autonomy"
TARGET_AVERAGE = 7.0  # the spec's success metric: average autonomy above 7/10


def check(ctx: GuardContext) -> GuardianDecision:
    task = ctx.task
    if task.resource_type is None:
        return GuardianDecision.of(GUARDIAN, [])  # sweeps and audits gate each action themselves
    risk = ctx.policies.risk_of(task.task_type)
    level = autonomy_for(task.resource_type)
    if risk > level:
        reason = (
            f"{task.task_type.value} has risk {risk}, above the autonomy of {task.resource_type.value} ({level}/10)"
        )
        return GuardianDecision.of(GUARDIAN, [], [reason])
    return GuardianDecision.of(GUARDIAN, [])


def average_autonomy(agents: Iterable[dict[str, Any]]) -> tuple[float | None, int]:
    """(mean autonomy_level, count) over ServiceAgent records; None when there are none."""
    levels = [int(a["autonomy_level"]) for a in agents if a.get("autonomy_level") is not None]
    return (sum(levels) / len(levels) if levels else None), len(levels)
