"""Guard: the allow-lists of resource types, accounts and regions, then the guardians and the autonomy gate."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..errors import GuardDenied
from ..model import AwsTask
from ..registry import encode_task_fields
from .runtime import Runtime


class GuardDecision(BaseModel):
    decision: str  # "allow" | "deny" | "needs-approval"
    reasons: list[str]
    checks: dict[str, bool]
    guardians: list[dict[str, Any]] = Field(default_factory=list)  # each guardian's decision and reasons
    risk: int | None = None
    estimated_daily_cost: str = "0"
    policy_version: str | None = None
    # Present when a human must decide: the state machine waits this long for `aws-agent approve|reject`.
    approval: dict[str, Any] | None = None


def allow_lists(rt: Runtime, task: AwsTask) -> tuple[dict[str, bool], list[str]]:
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
    return checks, reasons


def decide(rt: Runtime, task: AwsTask) -> GuardDecision:
    """Allow-lists first (a task outside them is denied without asking the guardians), then every guardian."""
    from ..guardians import GuardContext, evaluate
    from ..guardians.policy import load_policies

    checks, reasons = allow_lists(rt, task)
    if reasons:
        return GuardDecision(decision="deny", reasons=reasons, checks=checks)
    cfg = rt.settings.config
    policies = load_policies(cfg)
    ctx = GuardContext(
        task=task,
        policies=policies,
        directory=dict(cfg.accounts),
        default_instance_type=cfg.default_ec2_instance_type,
        inventory=rt.resources.by_account,
    )
    gate = evaluate(ctx)
    approval = None
    if gate.decision == "needs-approval":
        approval = {"timeout_seconds": policies.approvals.timeout_seconds}
    return GuardDecision(
        decision=gate.decision.value,
        reasons=gate.reasons,
        checks=checks,
        guardians=[g.model_dump(mode="json") for g in gate.guardians],
        risk=gate.risk,
        estimated_daily_cost=gate.estimated_daily_cost,
        policy_version=gate.policy_version,
        approval=approval,
    )


def guard(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    task = AwsTask.model_validate(payload["task"])
    decision = decide(rt, task)
    rt.tasks.annotate(task.id, encode_task_fields({"guard": decision.model_dump()}))
    if decision.decision == "deny":
        raise GuardDenied("guard denied the task: " + "; ".join(decision.reasons))
    return decision.model_dump()
