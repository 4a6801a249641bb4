"""Auto-healing within autonomy: reboot, roll back, redeploy; at most N attempts per window, then one HealEscalated."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ..assignment import autonomy_for
from ..aws import Target, error_code, translate
from ..basics import AwsResourceType
from ..config import HealthConfig
from ..observability import logger, metrics
from ..registry import to_item
from .alarms import MANAGED_TAG, Managed
from .events import HEAL_ESCALATED, HealEscalated

if TYPE_CHECKING:
    from ..pipeline.runtime import Runtime

_T = AwsResourceType


class HealRefused(Exception):
    """The heal action cannot be taken on this resource (not managed, nothing to roll back to, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _client(rt: Runtime, service: str, resource: Managed) -> Any:
    return rt.sessions.client(service, Target(resource.account_id, resource.region), session_name="miyabi-heal")


def _require_managed(tags: dict[str, str], resource: Managed) -> None:
    if tags.get(MANAGED_TAG) != "true":
        raise HealRefused("not-managed", f"{resource.key} is not tagged {MANAGED_TAG}=true; the agent will not heal it")


def _reboot_ec2(rt: Runtime, resource: Managed, config: HealthConfig) -> dict[str, Any]:
    ec2 = _client(rt, "ec2", resource)
    reservations = ec2.describe_instances(InstanceIds=[resource.id])["Reservations"]
    instance = reservations[0]["Instances"][0]
    _require_managed({t["Key"]: t["Value"] for t in instance.get("Tags", [])}, resource)
    state = instance.get("State", {}).get("Name")
    if state != "running":  # e.g. stopped by the cost optimizer or a human: a reboot would be wrong, not a heal
        raise HealRefused("heal-failed", f"{resource.id} is {state}, not running; the agent does not reboot it")
    if config.heal_dry_run:
        return {"would": f"RebootInstances {resource.id}"}
    ec2.reboot_instances(InstanceIds=[resource.id])
    return {"rebooted": resource.id}


def _rollback_lambda(rt: Runtime, resource: Managed, config: HealthConfig) -> dict[str, Any]:
    lam = _client(rt, "lambda", resource)
    function = lam.get_function(FunctionName=resource.id)
    _require_managed(function.get("Tags", {}), resource)
    alias = str(resource.metadata.get("alias") or config.lambda_alias)
    try:
        current = lam.get_alias(FunctionName=resource.id, Name=alias)["FunctionVersion"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        raise HealRefused("heal-failed", f"{resource.id} has no alias {alias!r} to roll back") from exc
    if not current.isdigit():
        raise HealRefused("heal-failed", f"alias {alias!r} of {resource.id} points at {current}, not a version")
    pages = lam.get_paginator("list_versions_by_function").paginate(FunctionName=resource.id)
    versions = [int(v["Version"]) for page in pages for v in page["Versions"] if v["Version"].isdigit()]
    older = [v for v in versions if v < int(current)]
    if not older:
        raise HealRefused("heal-failed", f"{resource.id}:{alias} is at version {current}; no earlier version exists")
    previous = str(max(older))
    if config.heal_dry_run:
        return {"would": f"UpdateAlias {resource.id}:{alias} {current} -> {previous}"}
    lam.update_alias(FunctionName=resource.id, Name=alias, FunctionVersion=previous)
    return {"alias": alias, "from_version": current, "to_version": previous}


def _reboot_rds(rt: Runtime, resource: Managed, config: HealthConfig) -> dict[str, Any]:
    rds = _client(rt, "rds", resource)
    instance = rds.describe_db_instances(DBInstanceIdentifier=resource.id)["DBInstances"][0]
    tags = rds.list_tags_for_resource(ResourceName=instance["DBInstanceArn"])["TagList"]
    _require_managed({t["Key"]: t["Value"] for t in tags}, resource)
    if config.heal_dry_run:
        return {"would": f"RebootDBInstance {resource.id}"}
    rds.reboot_db_instance(DBInstanceIdentifier=resource.id)
    return {"rebooted": resource.id}


def _redeploy_ecs(rt: Runtime, resource: Managed, config: HealthConfig) -> dict[str, Any]:
    ecs = _client(rt, "ecs", resource)
    parts = (resource.arn or resource.id).split("/")
    cluster, service = str(resource.metadata.get("cluster") or parts[-2]), parts[-1]
    described = ecs.describe_services(cluster=cluster, services=[service], include=["TAGS"])["services"]
    if not described:
        raise HealRefused("heal-failed", f"ECS service {cluster}/{service} not found")
    _require_managed({t["key"]: t["value"] for t in described[0].get("tags", [])}, resource)
    if config.heal_dry_run:
        return {"would": f"UpdateService {cluster}/{service} forceNewDeployment"}
    ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
    return {"redeployed": f"{cluster}/{service}"}


Action = Callable[["Runtime", Managed, HealthConfig], dict[str, Any]]
HEAL_ACTIONS: dict[AwsResourceType, tuple[str, Action]] = {
    _T.EC2_INSTANCE: ("reboot", _reboot_ec2),
    _T.LAMBDA_FUNCTION: ("rollback", _rollback_lambda),
    _T.RDS_INSTANCE: ("reboot", _reboot_rds),
    _T.ECS_SERVICE: ("force-new-deployment", _redeploy_ecs),
}


def claim_attempt(rt: Runtime, resource: Managed, config: HealthConfig, now: float) -> tuple[bool, int]:
    """Take one heal attempt from the resource's budget (conditional counter on its ServiceAgent item)."""
    table, key = rt.settings.agents_table, to_item({"name": resource.key})
    cutoff = now - config.heal_window_minutes * 60
    if config.heal_max_attempts == 0:
        return False, 0
    attempts = [
        (  # inside the current window and below the bound: one more
            "ADD heal_attempts :one",
            "attribute_exists(#name) AND heal_window_start > :cutoff AND heal_attempts < :max",
        ),
        (  # no window yet, or the last one is over: a new window with this as its first attempt
            "SET heal_window_start = :now, heal_attempts = :one",
            "attribute_exists(#name) AND (attribute_not_exists(heal_window_start) OR heal_window_start <= :cutoff)",
        ),
    ]
    for update, condition in attempts:
        values = {":one": 1, ":cutoff": repr(cutoff), ":max": config.heal_max_attempts, ":now": repr(now)}
        used = {k: v for k, v in values.items() if k in update or k in condition}
        try:
            response = rt.dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#name": "name"},
                ExpressionAttributeValues={k: {"N": str(v)} for k, v in used.items()},
                ReturnValues="ALL_NEW",
            )
            return True, int(response["Attributes"]["heal_attempts"]["N"])
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise translate(exc, f"count heal attempts of {resource.key}") from exc
    item = rt.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
    return False, int(item.get("heal_attempts", {}).get("N", "0"))


def _first_escalation_of_window(rt: Runtime, resource: Managed) -> bool:
    """True once per heal window: the bound's escalation is announced once, not on every later alarm."""
    try:
        rt.dynamodb.update_item(
            TableName=rt.settings.agents_table,
            Key=to_item({"name": resource.key}),
            UpdateExpression="SET heal_escalated_window = heal_window_start",
            ConditionExpression="attribute_exists(heal_window_start) AND (attribute_not_exists(heal_escalated_window) "
            "OR heal_escalated_window <> heal_window_start)",
        )
        return True
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise translate(exc, f"record the heal escalation of {resource.key}") from exc


def _escalate(
    rt: Runtime, resource: Managed, action: str, reason: str, message: str, attempts: int, alarm: str
) -> dict[str, Any]:
    from .routing import emit

    config = rt.settings.config.health
    detail = HealEscalated(
        service_agent=resource.key,
        resource_type=resource.resource_type,
        resource_id=resource.id,
        account_id=resource.account_id,
        region=resource.region,
        action=action,
        reason=reason,
        message=message,
        attempts=attempts,
        window_minutes=config.heal_window_minutes,
        alarm=alarm,
    )
    emit(rt, HEAL_ESCALATED, detail, [resource.arn])
    metrics.add_metric(name="HealEscalations", unit=MetricUnit.Count, value=1)
    logger.warning("heal escalated", extra={"service_agent": resource.key, "reason": reason})
    return {"healed": False, "escalated": True, "reason": reason, "message": message, "attempts": attempts}


def heal(
    rt: Runtime, resource: Managed, alarm: str, autonomy: int | None = None, now: float | None = None
) -> dict[str, Any]:
    """Heal a resource whose healing alarm went to ALARM, if its autonomy allows and its budget is not spent."""
    config = rt.settings.config.health
    entry = HEAL_ACTIONS.get(resource.resource_type)
    if entry is None:
        return {"healed": False, "reason": f"no heal action for {resource.resource_type.value}"}
    action, act = entry
    level = autonomy if autonomy is not None else autonomy_for(resource.resource_type)
    if level < config.heal_min_autonomy:
        message = f"autonomy {level} is below the {config.heal_min_autonomy} auto-healing needs; a human decides"
        return _escalate(rt, resource, action, "autonomy-too-low", message, 0, alarm)
    allowed, attempts = claim_attempt(rt, resource, config, time.time() if now is None else now)
    if not allowed:
        if not _first_escalation_of_window(rt, resource) and config.heal_max_attempts > 0:
            return {"healed": False, "escalated": False, "reason": "attempts-exhausted (already escalated)"}
        message = (
            f"{attempts} heal attempt(s) within {config.heal_window_minutes} min did not clear the alarm; "
            f"the agent stops at {config.heal_max_attempts}"
        )
        return _escalate(rt, resource, action, "attempts-exhausted", message, attempts, alarm)
    try:
        done = act(rt, resource, config)
    except HealRefused as refused:
        return _escalate(rt, resource, action, refused.reason, refused.message, attempts, alarm)
    except ClientError as exc:
        failure = translate(exc, f"{action} {resource.key}")
        return _escalate(rt, resource, action, "heal-failed", str(failure)[:1000], attempts, alarm)
    metrics.add_metric(name="HealAttempts", unit=MetricUnit.Count, value=1)
    return {"healed": not config.heal_dry_run, "dry_run": config.heal_dry_run, "action": action, "attempts": attempts,
            **done}  # fmt: skip
