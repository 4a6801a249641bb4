"""The health sweep: every managed resource has its alarms (missing ones repaired) and a direct status; coverage."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from ..aws import Target, error_code
from ..basics import AwsResourceType, HealthStatus, ResourceState
from ..errors import AgentError
from ..observability import logger, metrics
from .alarms import (
    Managed,
    alarm_request,
    alarm_set,
    alarms_with_prefix,
    cloudwatch_for,
    ensure_alarms,
    own_alarms,
)

if TYPE_CHECKING:
    from ..pipeline.runtime import Runtime

_T = AwsResourceType
MAX_RESOURCES = 100_000
LISTED = 50
_NOT_FOUND = {
    "InvalidInstanceID.NotFound",
    "ResourceNotFoundException",
    "NoSuchBucket",
    "404",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "ValidationError",
    "NotFound",
    "InvalidVolume.NotFound",
}


@dataclass(frozen=True)
class Scope:
    """What a sweep or a HealthCheck covers; None means any."""

    account_id: str | None = None
    region: str | None = None
    resource_type: AwsResourceType | None = None
    resource_id: str | None = None

    def includes(self, record: dict[str, Any]) -> bool:
        return (
            (self.account_id is None or record.get("account_id") == self.account_id)
            and (self.region is None or record.get("region") == self.region)
            and (self.resource_type is None or record.get("resource_type") == self.resource_type.value)
            and (self.resource_id is None or record.get("id") == self.resource_id)
        )


def _ec2(client: Any, r: Managed) -> dict[str, Any]:
    found = client.describe_instance_status(InstanceIds=[r.id], IncludeAllInstances=True)["InstanceStatuses"]
    if not found:
        return {"status": "missing", "healthy": False}
    s = found[0]
    checks = (s.get("InstanceStatus", {}).get("Status"), s.get("SystemStatus", {}).get("Status"))
    state = s["InstanceState"]["Name"]
    healthy = state == "running" and all(c in (None, "ok", "initializing", "not-applicable") for c in checks)
    return {"status": f"{state}/{checks[0] or '-'}/{checks[1] or '-'}", "healthy": healthy}


def _lambda(client: Any, r: Managed) -> dict[str, Any]:
    config = client.get_function(FunctionName=r.id)["Configuration"]
    state = config.get("State", "Active")
    return {"status": f"{state}/{config.get('LastUpdateStatus', 'Successful')}", "healthy": state == "Active"}


def _s3(client: Any, r: Managed) -> dict[str, Any]:
    client.head_bucket(Bucket=r.id)
    return {"status": "exists", "healthy": True}


def _rds(client: Any, r: Managed) -> dict[str, Any]:
    status = client.describe_db_instances(DBInstanceIdentifier=r.id)["DBInstances"][0]["DBInstanceStatus"]
    return {"status": status, "healthy": status == "available"}


def _dynamodb(client: Any, r: Managed) -> dict[str, Any]:
    status = client.describe_table(TableName=r.id)["Table"]["TableStatus"]
    return {"status": status, "healthy": status == "ACTIVE"}


def _stack(client: Any, r: Managed) -> dict[str, Any]:
    status = client.describe_stacks(StackName=r.arn or r.id)["Stacks"][0]["StackStatus"]
    return {"status": status, "healthy": status.endswith("_COMPLETE") and "ROLLBACK" not in status}


def _sns(client: Any, r: Managed) -> dict[str, Any]:
    client.get_topic_attributes(TopicArn=r.arn or r.id)
    return {"status": "exists", "healthy": True}


def _volume(client: Any, r: Managed) -> dict[str, Any]:
    statuses = client.describe_volume_status(VolumeIds=[r.id])["VolumeStatuses"]
    status = statuses[0]["VolumeStatus"]["Status"] if statuses else "missing"
    return {"status": status, "healthy": status in ("ok", "insufficient-data")}


def _zone(client: Any, r: Managed) -> dict[str, Any]:
    client.get_hosted_zone(Id=r.id)
    return {"status": "exists", "healthy": True}


# A direct look at the resource, beside (or, for types without a health metric, instead of) its alarms.
DIRECT_CHECKS: dict[AwsResourceType, tuple[str, Callable[[Any, Managed], dict[str, Any]]]] = {
    _T.EC2_INSTANCE: ("ec2", _ec2),
    _T.LAMBDA_FUNCTION: ("lambda", _lambda),
    _T.S3_BUCKET: ("s3", _s3),
    _T.RDS_INSTANCE: ("rds", _rds),
    _T.DYNAMODB_TABLE: ("dynamodb", _dynamodb),
    _T.CLOUDFORMATION_STACK: ("cloudformation", _stack),
    _T.SNS: ("sns", _sns),
    _T.EBS_VOLUME: ("ec2", _volume),
    _T.ROUTE53_HOSTED_ZONE: ("route53", _zone),
}


def direct_status(rt: Runtime, resource: Managed) -> dict[str, Any] | None:
    entry = DIRECT_CHECKS.get(resource.resource_type)
    if entry is None:
        return None
    service, check = entry
    client = rt.sessions.client(service, Target(resource.account_id, resource.region), session_name="miyabi-health")
    try:
        return check(client, resource)
    except ClientError as exc:
        code = error_code(exc)
        return {"status": "missing" if code in _NOT_FOUND else f"error/{code}", "healthy": False}


class AlarmIndex:
    """The agent's alarms per account x region, read once per sweep (one paginated DescribeAlarms by the
    `<prefix>/<account>/` name prefix) instead of once per resource."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self._alarms: dict[tuple[str, str], dict[str, str]] = {}

    def of(self, resource: Managed) -> dict[str, str]:
        config = self._rt.settings.config.health
        cloudwatch = cloudwatch_for(self._rt.sessions, resource, "miyabi-health")
        where = (resource.account_id, cloudwatch.meta.region_name)
        if where not in self._alarms:
            self._alarms[where] = alarms_with_prefix(cloudwatch, f"{config.alarm_prefix}/{resource.account_id}/")
        return own_alarms(self._alarms[where], config, resource)


def check_resource(rt: Runtime, resource: Managed, *, repair: bool, index: AlarmIndex | None = None) -> dict[str, Any]:
    """One resource: its alarm set (repaired when asked), their states, a direct status, and whether it is covered."""
    config = rt.settings.config.health
    specs = alarm_set(resource.resource_type)
    finding: dict[str, Any] = {"resource": resource.key, "alarms_expected": len(specs)}
    missing: list[str] = []
    if specs:
        cloudwatch = cloudwatch_for(rt.sessions, resource, "miyabi-health")
        present = (index or AlarmIndex(rt)).of(resource)
        missing = [n for n in (alarm_request(config, resource, s)["AlarmName"] for s in specs) if n not in present]
        if missing and repair:
            finding["repaired"] = ensure_alarms(cloudwatch, config, resource, only_missing=True, present=present)
            missing = [n for n in missing if n not in finding["repaired"]]
        finding["alarm_states"] = {name.rsplit("/", 1)[-1]: state for name, state in present.items()}
    finding["alarms_missing"] = missing
    direct = direct_status(rt, resource)
    if direct is not None:
        finding["direct"] = direct
    # Covered: the whole alarm set is in place, or (types without a health metric) a direct check answered.
    finding["covered"] = (bool(specs) and not missing) or (not specs and direct is not None)
    return finding


def _records(rt: Runtime, scope: Scope) -> list[dict[str, Any]]:
    if scope.account_id:
        rows = rt.resources.by_account(scope.account_id, scope.resource_type.value if scope.resource_type else None)
    else:
        rows = rt.resources.list_resources(limit=MAX_RESOURCES)
    return [
        r
        for r in rows
        if scope.includes(r)
        and r.get("state") != ResourceState.TERMINATED.value
        and (r.get("tags") or {}).get("MiyabiManaged") == "true"
    ]


def health_counts(rt: Runtime) -> dict[str, int]:
    """Service agents by health status (for the dashboard)."""
    counts = Counter(
        str(a.get("health_status", HealthStatus.UNKNOWN.value)) for a in rt.resources.list_agents(MAX_RESOURCES)
    )
    return {status.value: counts.get(status.value, 0) for status in HealthStatus}


def sweep(rt: Runtime, scope: Scope | None = None, *, repair: bool = True) -> dict[str, Any]:
    """Check every managed resource in scope; coverage is the share whose health is observed (target: 100 %)."""
    findings = []
    index = AlarmIndex(rt)
    for record in _records(rt, scope or Scope()):
        resource = Managed.from_record(record)
        try:
            findings.append(check_resource(rt, resource, repair=repair, index=index))
        except AgentError as exc:  # one unreachable account must not hide the rest of the fleet
            findings.append({"resource": resource.key, "covered": False, "error": exc.message[:500]})
    covered = sum(1 for f in findings if f["covered"])
    repaired = sum(len(f.get("repaired", [])) for f in findings)
    coverage = round(100.0 * covered / len(findings), 2) if findings else 100.0
    unhealthy = [f for f in findings if not f["covered"] or (f.get("direct") or {}).get("healthy") is False]
    summary = {
        "checked": len(findings),
        "covered": covered,
        "coverage_percent": coverage,
        "alarms_repaired": repaired,
        # Named up to LISTED each (the counts are complete): logs and task records stay small at any fleet size.
        "not_covered": [f["resource"] for f in findings if not f["covered"]][:LISTED],
        "unhealthy_direct_count": sum(1 for f in unhealthy if f["covered"]),
        "unhealthy_direct": [f["resource"] for f in unhealthy if f["covered"]][:LISTED],
    }
    metrics.add_metric(name="HealthCheckCoverage", unit=MetricUnit.Percent, value=coverage)
    metrics.add_metric(name="HealthResourcesChecked", unit=MetricUnit.Count, value=len(findings))
    metrics.add_metric(name="HealthAlarmsRepaired", unit=MetricUnit.Count, value=repaired)
    logger.info("health sweep", extra=summary)
    return {**summary, "findings": findings}


def scheduled_sweep(rt: Runtime, event: dict[str, Any]) -> dict[str, Any]:
    """The sweep Lambda: the whole fleet, repairing; also publishes service agents by health for the dashboard."""
    result = sweep(rt, repair=True)
    counts = health_counts(rt)
    for status, count in counts.items():
        metrics.add_metric(name=f"ServiceAgents{status}", unit=MetricUnit.Count, value=count)
    return {**result, "health": counts}
