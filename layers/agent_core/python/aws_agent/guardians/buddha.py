"""Buddha (harmony): quotas per account and type, maximum sizes by account role, spread across availability zones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..basics import AwsResourceType, AwsTaskType
from ..pricing import ec2_hourly_price, rds_hourly_price
from .context import GuardContext
from .policy import GuardianDecision

GUARDIAN = "Buddha"
# Where each type names how many AZs it spans (VPC: a count; ASG: its subnets or zones; RDS: Multi-AZ).
_AZ_LISTS = ("subnets", "subnet_ids", "vpc_zone_identifier", "availability_zones")


def _price(kind: str, size: str) -> Decimal | None:
    return (ec2_hourly_price(size) if kind == "ec2" else rds_hourly_price(size))[0]


def _too_large(kind: str, asked: str, limit: str) -> bool:
    """Larger means a higher on-demand price; an unpriced size is too large (it cannot be shown to fit)."""
    asked_price, limit_price = _price(kind, asked), _price(kind, limit)
    return asked_price is None or limit_price is None or asked_price > limit_price


def size_reasons(ctx: GuardContext) -> list[str]:
    limits = ctx.policies.buddha.max_sizes.get(ctx.role) if ctx.role else None
    if limits is None:
        return []
    task = ctx.task
    reasons = []
    if task.resource_type is AwsResourceType.EC2_INSTANCE and limits.ec2_instance_type:
        asked = ctx.instance_type() or (
            ctx.default_instance_type if task.task_type is AwsTaskType.CREATE_RESOURCE else None
        )
        if asked and _too_large("ec2", asked, limits.ec2_instance_type):
            reasons.append(
                f"{asked} is larger than {limits.ec2_instance_type}, the largest instance in a {ctx.role} account"
            )
    if task.resource_type in (AwsResourceType.RDS_INSTANCE, AwsResourceType.AURORA_CLUSTER) and (
        limits.rds_instance_class
    ):
        asked = ctx.params.get("db_instance_class") or ctx.params.get("instance_class")
        if asked and _too_large("rds", str(asked), limits.rds_instance_class):
            reasons.append(
                f"{asked} is larger than {limits.rds_instance_class}, the largest database in a {ctx.role} account"
            )
    return reasons


def quota_reasons(ctx: GuardContext) -> list[str]:
    task = ctx.task
    if task.task_type is not AwsTaskType.CREATE_RESOURCE or task.resource_type is None:
        return []
    quota = ctx.policies.buddha.quota_for(task.resource_type)
    count = sum(1 for r in ctx.account_resources if r.get("resource_type") == task.resource_type.value)
    if count + 1 > quota:
        return [
            f"quota: account {task.account_id} already has {count} managed {task.resource_type.value} (max {quota})"
        ]
    return []


def az_count(resource_type: AwsResourceType, params: dict[str, Any]) -> int | None:
    """How many AZs the request spans, or None when the type has no AZ choice in its parameters."""
    if resource_type is AwsResourceType.VPC_NETWORK and "az_count" in params:
        return int(params["az_count"])
    if resource_type is AwsResourceType.AUTO_SCALING_GROUP:
        for key in _AZ_LISTS:
            value = params.get(key)
            if isinstance(value, str):
                value = [part for part in value.split(",") if part.strip()]
            if isinstance(value, list):
                return len(value)
        return None
    if resource_type in (AwsResourceType.RDS_INSTANCE, AwsResourceType.AURORA_CLUSTER) and "multi_az" in params:
        return 2 if params["multi_az"] else 1
    return None


def spread_reasons(ctx: GuardContext) -> tuple[list[str], list[str]]:
    """(denials, approvals): networks and groups in one AZ are denied; a single-AZ database waits for a human
    (Multi-AZ doubles its price, and a standby is a judgement call)."""
    task = ctx.task
    policy = ctx.policies.buddha
    if task.task_type is not AwsTaskType.CREATE_RESOURCE or task.resource_type is None:
        return [], []
    if ctx.role not in policy.az_spread_roles:
        return [], []
    zones = az_count(task.resource_type, ctx.params)
    if zones is None or zones >= policy.min_azs:
        return [], []
    reason = f"a {ctx.role} {task.resource_type.value} should span at least {policy.min_azs} AZs (asked {zones})"
    if task.resource_type in (AwsResourceType.RDS_INSTANCE, AwsResourceType.AURORA_CLUSTER):
        return [], [reason]
    return [reason], []


def check(ctx: GuardContext) -> GuardianDecision:
    if ctx.task.task_type not in (AwsTaskType.CREATE_RESOURCE, AwsTaskType.UPDATE_RESOURCE):
        return GuardianDecision.of(GUARDIAN, [])
    spread_denials, spread_approvals = spread_reasons(ctx)
    return GuardianDecision.of(GUARDIAN, quota_reasons(ctx) + size_reasons(ctx) + spread_denials, spread_approvals)
