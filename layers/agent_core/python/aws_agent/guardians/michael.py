"""Michael (ethics): required tags, estimated cost within the account's budget, necessity review before removal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..basics import AwsResourceType, AwsTaskType
from ..model import CostFinding
from ..pricing import estimate_daily_cost
from .context import GuardContext
from .policy import GuardianDecision, MichaelPolicy, Verdict

GUARDIAN = "Michael"


def estimated_daily_cost(ctx: GuardContext) -> Decimal:
    """What the action adds per day, from the offline price catalog (0 for deletes and unpriced types)."""
    task = ctx.task
    if task.resource_type is None or task.task_type not in (AwsTaskType.CREATE_RESOURCE, AwsTaskType.UPDATE_RESOURCE):
        return Decimal(0)
    metadata: dict[str, Any] = dict(ctx.params)
    if task.resource_type is AwsResourceType.EC2_INSTANCE:
        if task.task_type is AwsTaskType.UPDATE_RESOURCE and not ctx.instance_type():
            return Decimal(0)  # stop/start/reboot: no new spend
        metadata["instance_type"] = ctx.instance_type() or ctx.default_instance_type
        count = max(1, int(ctx.params.get("count") or 1))
        return estimate_daily_cost(task.resource_type, metadata) * count
    if task.task_type is AwsTaskType.UPDATE_RESOURCE:
        return Decimal(0)
    return estimate_daily_cost(task.resource_type, metadata)


def current_daily_cost(ctx: GuardContext) -> Decimal:
    """The account's managed resources today, priced the way registration prices them."""
    total = Decimal(0)
    for resource in ctx.account_resources:
        try:
            total += estimate_daily_cost(resource["resource_type"], resource.get("metadata") or {})
        except (KeyError, ValueError):
            continue  # a type the catalog does not know costs 0 here, as at registration
    return total


def check(ctx: GuardContext) -> GuardianDecision:
    task = ctx.task
    policy = ctx.policies.michael
    denials: list[str] = []
    approvals: list[str] = []
    if task.task_type is AwsTaskType.CREATE_RESOURCE and policy.required_tags:
        tags = ctx.params.get("tags") or {}
        missing = [key for key in policy.required_tags if key not in tags]
        if missing:
            denials.append(f"required tag(s) missing: {', '.join(missing)}")
    added = estimated_daily_cost(ctx)
    if added > 0:
        budget = ctx.policies.budget_of(task.account_id, ctx.directory)
        if budget is not None:
            spent = current_daily_cost(ctx)
            if spent + added > budget:
                denials.append(
                    f"estimated cost ${added:.2f}/day on top of ${spent:.2f}/day exceeds the account's budget "
                    f"of ${budget:.2f}/day"
                )
        if added >= policy.approval_daily_cost_usd:
            approvals.append(
                f"estimated cost ${added:.2f}/day is at or above ${policy.approval_daily_cost_usd:.2f}/day: "
                "a human approves spending that much"
            )
    return GuardianDecision.of(GUARDIAN, denials, approvals)


def review_finding(finding: CostFinding, policy: MichaelPolicy) -> Verdict:
    """In a sweep: removing an idle resource (delete, release) waits for a human's necessity review."""
    return Verdict.NEEDS_APPROVAL if finding.action in policy.review_actions else Verdict.ALLOW
