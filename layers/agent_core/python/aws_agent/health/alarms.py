"""The alarm set of each resource type, its naming convention, and creating, repairing and removing it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..aws import SessionFactory, Target, translate
from ..basics import AwsResourceType, HealthStatus
from ..config import HealthConfig

_T = AwsResourceType
MANAGED_TAG = "MiyabiManaged"
RESOURCE_TAG = "MiyabiResource"
MAX_ID_SEGMENT = 150  # alarm names stop at 255 characters; longer ids are shortened with a digest
DELETE_BATCH = 100  # DeleteAlarms takes at most 100 names


@dataclass(frozen=True)
class Managed:
    """A managed resource as the health code sees it (from the Resources table or a registration)."""

    account_id: str
    region: str
    resource_type: AwsResourceType
    id: str
    arn: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.account_id}#{self.region}#{self.resource_type.value}#{self.id}"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Managed:
        return cls(
            account_id=str(record["account_id"]),
            region=str(record["region"]),
            resource_type=AwsResourceType(record["resource_type"]),
            id=str(record["id"]),
            arn=str(record.get("arn", "")),
            metadata=dict(record.get("metadata") or {}),
            tags=dict(record.get("tags") or {}),
        )


Dimensions = Callable[[Managed], dict[str, str]]


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm of a type's set: which metric, when it breaches, and what a breach means for health."""

    metric: str
    namespace: str
    dimensions: Dimensions
    threshold: float
    comparison: str = "GreaterThanOrEqualToThreshold"
    statistic: str = "Sum"
    period: int = 300
    evaluation_periods: int = 1
    severity: HealthStatus = HealthStatus.DEGRADED  # ALARM means Degraded or Unhealthy
    # Counters (errors, throttles) publish nothing when nothing happens: no data is good news for them.
    treat_missing_data: str = "notBreaching"
    heals: bool = False  # an ALARM of this one triggers the type's heal action (within autonomy and bounds)


def _dim(name: str, value: Callable[[Managed], str] = lambda r: r.id) -> Dimensions:
    return lambda r: {name: value(r)}


def _meta(key: str) -> Callable[[Managed], str]:
    return lambda r: str(r.metadata.get(key) or r.id)


def _lb_dimension(r: Managed) -> str:
    """ALB metrics use the ARN suffix `app/<name>/<id>`."""
    arn = r.arn or r.id
    return arn.split(":loadbalancer/", 1)[1] if ":loadbalancer/" in arn else arn


def _ecs(r: Managed) -> dict[str, str]:
    """ECS services are identified as `<cluster>/<service>` (or an ARN ending so)."""
    parts = (r.arn or r.id).split("/")
    cluster = str(r.metadata.get("cluster") or (parts[-2] if len(parts) >= 2 else "default"))
    return {"ClusterName": cluster, "ServiceName": parts[-1]}


_GREATER = "GreaterThanThreshold"
_LESS = "LessThanThreshold"
_UNHEALTHY = HealthStatus.UNHEALTHY
_GIB = 1024**3

# Every type of the spec with a CloudWatch health signal. Types without one (documented in the README):
# CloudFormationStack, VpcNetwork, CloudWatch, XRay and Route53HostedZone publish no per-resource health metric,
# and S3Bucket publishes request metrics (5xxErrors) only once request metrics are configured on the bucket;
# the health sweep checks those types directly instead (DescribeStacks, HeadBucket, ...).
ALARM_SETS: dict[AwsResourceType, tuple[AlarmSpec, ...]] = {
    _T.EC2_INSTANCE: (
        AlarmSpec("StatusCheckFailed", "AWS/EC2", _dim("InstanceId"), 1, statistic="Maximum", period=60,
                  evaluation_periods=2, severity=_UNHEALTHY, treat_missing_data="missing", heals=True),
        AlarmSpec("CPUUtilization", "AWS/EC2", _dim("InstanceId"), 90, _GREATER, "Average", evaluation_periods=3,
                  treat_missing_data="missing"),
    ),
    _T.LAMBDA_FUNCTION: (
        AlarmSpec("Errors", "AWS/Lambda", _dim("FunctionName"), 5, severity=_UNHEALTHY, heals=True),
        AlarmSpec("Throttles", "AWS/Lambda", _dim("FunctionName"), 1),
    ),
    _T.LAMBDA_EDGE: (  # replicas report in the region they ran in, named us-east-1.<function>
        AlarmSpec("Errors", "AWS/Lambda", _dim("FunctionName", lambda r: f"us-east-1.{r.id}"), 5,
                  severity=_UNHEALTHY),
    ),
    _T.RDS_INSTANCE: (
        AlarmSpec("CPUUtilization", "AWS/RDS", _dim("DBInstanceIdentifier"), 90, _GREATER, "Average",
                  evaluation_periods=3, treat_missing_data="missing"),
        AlarmSpec("FreeStorageSpace", "AWS/RDS", _dim("DBInstanceIdentifier"), 2 * _GIB, _LESS, "Minimum",
                  severity=_UNHEALTHY, treat_missing_data="missing"),
        # Connection exhaustion is what a reboot cures (leaked connections); CPU and storage are not.
        AlarmSpec("DatabaseConnections", "AWS/RDS", _dim("DBInstanceIdentifier"), 500, _GREATER, "Maximum",
                  evaluation_periods=3, treat_missing_data="missing", heals=True),
    ),
    _T.AURORA_CLUSTER: (
        AlarmSpec("CPUUtilization", "AWS/RDS", _dim("DBClusterIdentifier"), 90, _GREATER, "Average",
                  evaluation_periods=3, treat_missing_data="missing"),
        # Aurora storage grows by itself; what runs out is the instances' local (temporary) storage.
        AlarmSpec("FreeLocalStorage", "AWS/RDS", _dim("DBClusterIdentifier"), 2 * _GIB, _LESS, "Minimum",
                  severity=_UNHEALTHY, treat_missing_data="missing"),
        AlarmSpec("DatabaseConnections", "AWS/RDS", _dim("DBClusterIdentifier"), 1000, _GREATER, "Maximum",
                  evaluation_periods=3, treat_missing_data="missing"),
    ),
    _T.DYNAMODB_TABLE: (
        AlarmSpec("ReadThrottleEvents", "AWS/DynamoDB", _dim("TableName"), 1),
        AlarmSpec("WriteThrottleEvents", "AWS/DynamoDB", _dim("TableName"), 1),
        AlarmSpec("SystemErrors", "AWS/DynamoDB", _dim("TableName"), 1, severity=_UNHEALTHY),
    ),
    _T.API_GATEWAY: (
        AlarmSpec("5XXError", "AWS/ApiGateway", _dim("ApiName", _meta("name")), 5, severity=_UNHEALTHY),
        AlarmSpec("Latency", "AWS/ApiGateway", _dim("ApiName", _meta("name")), 5000, _GREATER, "p90",
                  evaluation_periods=3, treat_missing_data="missing"),
    ),
    _T.CLOUDFRONT_DISTRIBUTION: (  # CloudFront publishes in us-east-1 only, with Region=Global
        AlarmSpec("5xxErrorRate", "AWS/CloudFront", lambda r: {"DistributionId": r.id, "Region": "Global"}, 5,
                  _GREATER, "Average", evaluation_periods=2, severity=_UNHEALTHY),
    ),
    _T.LOAD_BALANCER: (
        AlarmSpec("HTTPCode_ELB_5XX_Count", "AWS/ApplicationELB", _dim("LoadBalancer", _lb_dimension), 10,
                  severity=_UNHEALTHY),
        AlarmSpec("UnHealthyHostCount", "AWS/ApplicationELB", _dim("LoadBalancer", _lb_dimension), 1,
                  statistic="Maximum", evaluation_periods=2),
    ),
    _T.AUTO_SCALING_GROUP: (
        AlarmSpec("StatusCheckFailed", "AWS/EC2", _dim("AutoScalingGroupName"), 1, statistic="Maximum",
                  period=60, evaluation_periods=2, severity=_UNHEALTHY, treat_missing_data="missing"),
        AlarmSpec("CPUUtilization", "AWS/EC2", _dim("AutoScalingGroupName"), 90, _GREATER, "Average",
                  evaluation_periods=3, treat_missing_data="missing"),
    ),
    _T.ECS_SERVICE: (
        AlarmSpec("CPUUtilization", "AWS/ECS", _ecs, 90, _GREATER, "Average", evaluation_periods=3,
                  treat_missing_data="missing"),
        # A service at its memory limit is usually leaking: replacing its tasks is the heal.
        AlarmSpec("MemoryUtilization", "AWS/ECS", _ecs, 90, _GREATER, "Average", evaluation_periods=3,
                  treat_missing_data="missing", heals=True),
    ),
    _T.SNS: (AlarmSpec("NumberOfNotificationsFailed", "AWS/SNS", _dim("TopicName", lambda r: r.id.split(":")[-1]), 1),),
    _T.EBS_VOLUME: (
        AlarmSpec("VolumeStalledIOCheck", "AWS/EBS", _dim("VolumeId"), 1, statistic="Maximum", period=60,
                  evaluation_periods=2, severity=_UNHEALTHY, treat_missing_data="missing"),
    ),
    _T.EFS_FILE_SYSTEM: (
        AlarmSpec("PercentIOLimit", "AWS/EFS", _dim("FileSystemId"), 95, _GREATER, "Average", evaluation_periods=3,
                  treat_missing_data="missing"),
        AlarmSpec("BurstCreditBalance", "AWS/EFS", _dim("FileSystemId"), 1e9, _LESS, "Minimum",
                  treat_missing_data="missing"),
    ),
}  # fmt: skip
# Alarms live where the metric is published.
ALARM_REGION: dict[AwsResourceType, str] = {_T.CLOUDFRONT_DISTRIBUTION: "us-east-1"}


def alarm_set(resource_type: AwsResourceType) -> tuple[AlarmSpec, ...]:
    return ALARM_SETS.get(resource_type, ())


def spec_for(resource_type: AwsResourceType, metric: str) -> AlarmSpec | None:
    return next((s for s in alarm_set(resource_type) if s.metric == metric), None)


def id_segment(resource_id: str) -> str:
    """The resource id as it appears in alarm names (shortened with a digest when too long)."""
    if len(resource_id) <= MAX_ID_SEGMENT:
        return resource_id
    return f"{resource_id[: MAX_ID_SEGMENT - 13]}~{hashlib.sha256(resource_id.encode()).hexdigest()[:12]}"


def alarm_prefix_of(prefix: str, resource: Managed) -> str:
    """`<prefix>/<account>/<type>/<id>/`: every alarm of one resource, and nothing of another."""
    return f"{prefix}/{resource.account_id}/{resource.resource_type.value}/{id_segment(resource.id)}/"


def alarm_name(prefix: str, resource: Managed, spec: AlarmSpec) -> str:
    return alarm_prefix_of(prefix, resource) + spec.metric


@dataclass(frozen=True)
class ParsedName:
    account_id: str
    resource_type: AwsResourceType
    id_segment: str
    metric: str


def parse_alarm_name(prefix: str, name: str) -> ParsedName | None:
    """The parts of one of the agent's alarm names; None for any other alarm."""
    parts = name.split("/")
    if len(parts) < 5 or parts[0] != prefix:
        return None
    try:
        resource_type = AwsResourceType(parts[2])
    except ValueError:
        return None
    return ParsedName(parts[1], resource_type, "/".join(parts[3:-1]), parts[-1])


def threshold_of(config: HealthConfig, resource_type: AwsResourceType, spec: AlarmSpec) -> float:
    return config.thresholds.get(f"{resource_type.value}.{spec.metric}", spec.threshold)


def alarm_request(config: HealthConfig, resource: Managed, spec: AlarmSpec) -> dict[str, Any]:
    """The PutMetricAlarm request of one alarm. No actions: state changes reach EventBridge by themselves."""
    statistic: dict[str, Any] = (
        {"ExtendedStatistic": spec.statistic} if spec.statistic.startswith("p") else {"Statistic": spec.statistic}
    )
    return {
        "AlarmName": alarm_name(config.alarm_prefix, resource, spec),
        "AlarmDescription": f"{spec.severity.value} when {spec.metric} breaches; health of {resource.key}"[:1024],
        "Namespace": spec.namespace,
        "MetricName": spec.metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions(resource).items()],
        "Period": spec.period,
        "EvaluationPeriods": spec.evaluation_periods,
        "Threshold": threshold_of(config, resource.resource_type, spec),
        "ComparisonOperator": spec.comparison,
        "TreatMissingData": spec.treat_missing_data,
        "ActionsEnabled": False,
        "Tags": [
            {"Key": MANAGED_TAG, "Value": "true"},
            # '#' is not allowed in tag values: the key's separators become '/'.
            {"Key": RESOURCE_TAG, "Value": resource.key.replace("#", "/")[:256]},
        ],
        **statistic,
    }


def cloudwatch_for(sessions: SessionFactory, resource: Managed, session_name: str | None = None) -> Any:
    region = ALARM_REGION.get(resource.resource_type, resource.region)
    return sessions.client("cloudwatch", Target(resource.account_id, region), session_name=session_name)


def alarms_with_prefix(cloudwatch: Any, prefix: str) -> dict[str, str]:
    """Alarm name -> state value of every metric alarm whose name starts with `prefix` (100 per page)."""
    found: dict[str, str] = {}
    try:
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"])
        for page in pages:
            found.update({a["AlarmName"]: a.get("StateValue", "INSUFFICIENT_DATA") for a in page["MetricAlarms"]})
    except ClientError as exc:
        raise translate(exc, f"describe the alarms named {prefix}*") from exc
    return found


def existing_alarms(cloudwatch: Any, config: HealthConfig, resource: Managed) -> dict[str, str]:
    """The agent's alarms of one resource: name -> state value."""
    return own_alarms(alarms_with_prefix(cloudwatch, alarm_prefix_of(config.alarm_prefix, resource)), config, resource)


def own_alarms(alarms: Mapping[str, str], config: HealthConfig, resource: Managed) -> dict[str, str]:
    """The alarms of this resource among `alarms`: its prefix then one metric segment. An id may hold '/'
    (`web/frontend`), so the prefix of `web` also matches the alarms of `web/frontend`: those are not its own."""
    prefix = alarm_prefix_of(config.alarm_prefix, resource)
    return {n: s for n, s in alarms.items() if n.startswith(prefix) and "/" not in n[len(prefix) :]}


def ensure_alarms(
    cloudwatch: Any,
    config: HealthConfig,
    resource: Managed,
    *,
    only_missing: bool,
    present: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the type's alarm set (all of it, or only what is missing); returns the names written."""
    specs = alarm_set(resource.resource_type)
    if not specs:
        return []
    if only_missing and present is None:
        present = existing_alarms(cloudwatch, config, resource)
    present = present if only_missing and present is not None else {}
    written = []
    for spec in specs:
        request = alarm_request(config, resource, spec)
        if request["AlarmName"] in present:
            continue
        try:
            cloudwatch.put_metric_alarm(**request)
        except ClientError as exc:
            raise translate(exc, f"create alarm {request['AlarmName']}") from exc
        written.append(request["AlarmName"])
    return written


def remove_alarms(cloudwatch: Any, config: HealthConfig, resource: Managed) -> list[str]:
    """Delete every alarm of the resource (found by its name prefix, so renamed sets go too)."""
    names = sorted(existing_alarms(cloudwatch, config, resource))
    for start in range(0, len(names), DELETE_BATCH):
        try:
            cloudwatch.delete_alarms(AlarmNames=names[start : start + DELETE_BATCH])
        except ClientError as exc:
            raise translate(exc, f"delete the alarms of {resource.key}") from exc
    return names


def sync_alarms(
    sessions: SessionFactory, config: HealthConfig, resource: Managed, *, terminated: bool, session_name: str | None
) -> dict[str, Any]:
    """Registration's hook: a live resource gets its alarm set (PutMetricAlarm is an upsert), a deleted one loses it."""
    if not terminated and not alarm_set(resource.resource_type):
        return {"created": 0, "deleted": 0}  # no call at all for types without a health metric
    cloudwatch = cloudwatch_for(sessions, resource, session_name)
    if terminated:
        return {"created": 0, "deleted": len(remove_alarms(cloudwatch, config, resource))}
    return {"created": len(ensure_alarms(cloudwatch, config, resource, only_missing=False)), "deleted": 0}
