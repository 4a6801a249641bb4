"""Guard (minimal): allow-lists of resource types, accounts and regions; the seam for the full guardians."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ..errors import GuardDenied
from ..model import AwsTask
from ..registry import encode_task_fields
from .runtime import Runtime


class GuardDecision(BaseModel):
    decision: str  # "allow" | "deny" (| "needs-approval" once approvals exist)
    reasons: list[str]
    checks: dict[str, bool]


def decide(rt: Runtime, task: AwsTask) -> GuardDecision:
    cfg = rt.settings.config
    allowed_accounts = set(cfg.allowed_accounts) | {rt.agent_account_id}
    checks = {
        "resource_type": task.resource_type is None or task.resource_type in cfg.allowed_resource_types,
        "account": task.account_id in allowed_accounts,
        "region": task.region in cfg.allowed_regions,
    }
    reasons = []
    if not checks["resource_type"]:
        assert task.resource_type is not None
        reasons.append(f"resource type {task.resource_type.value} is not in the allowed list")
    if not checks["account"]:
        reasons.append(f"account {task.account_id} is not in the allowed list")
    if not checks["region"]:
        reasons.append(f"region {task.region} is not in the allowed list ({', '.join(cfg.allowed_regions)})")
    return GuardDecision(decision="deny" if reasons else "allow", reasons=reasons, checks=checks)


def guard(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(payload["task"])
    decision = decide(rt, task)
    rt.tasks.annotate(task.id, encode_task_fields({"guard": decision.model_dump()}))
    if decision.decision == "deny":
        raise GuardDenied("guard denied the task: " + "; ".join(decision.reasons))
    return decision.model_dump()
