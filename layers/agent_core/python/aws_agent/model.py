"""The specification's types: accounts, resources, service agents, tasks and cost reports."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

ACCOUNT_ID_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"
# Task ids become Step Functions execution names and DynamoDB keys: keep them printable and short.
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"

AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
TaskId = Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
MAX_TAGS = 40  # AWS allows 50 per resource; the agent reserves room for its own.


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccountRole(StrEnum):
    MANAGEMENT = "Management"
    PRODUCTION = "Production"
    SECURITY = "Security"
    DEVELOPMENT = "Development"


class AwsResourceType(StrEnum):
    EC2_INSTANCE = "Ec2Instance"
    S3_BUCKET = "S3Bucket"
    LAMBDA_FUNCTION = "LambdaFunction"
    RDS_INSTANCE = "RdsInstance"
    DYNAMODB_TABLE = "DynamoDbTable"
    CLOUDFORMATION_STACK = "CloudFormationStack"
    VPC_NETWORK = "VpcNetwork"
    CLOUDFRONT_DISTRIBUTION = "CloudFrontDistribution"
    API_GATEWAY = "ApiGateway"
    AUTO_SCALING_GROUP = "AutoScalingGroup"
    LOAD_BALANCER = "LoadBalancer"
    LAMBDA_EDGE = "LambdaEdge"
    CLOUDWATCH = "CloudWatch"
    XRAY = "XRay"
    SNS = "SNS"
    ECS_SERVICE = "EcsService"
    EBS_VOLUME = "EbsVolume"
    EFS_FILE_SYSTEM = "EfsFileSystem"
    AURORA_CLUSTER = "AuroraCluster"
    ROUTE53_HOSTED_ZONE = "Route53HostedZone"


class ResourceState(StrEnum):
    CREATING = "Creating"
    ACTIVE = "Active"
    UPDATING = "Updating"
    DELETING = "Deleting"
    FAILED = "Failed"
    TERMINATED = "Terminated"


class HealthStatus(StrEnum):
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"


class HistoricalAgent(StrEnum):
    BILL_GATES = "BillGates"
    STEVE_JOBS = "SteveJobs"
    NAPOLEON = "Napoleon"
    HANNIBAL = "Hannibal"
    DRUCKER = "Drucker"
    KOTLER = "Kotler"
    NOGUCHI = "Noguchi"


class AwsTaskType(StrEnum):
    CREATE_RESOURCE = "CreateResource"
    UPDATE_RESOURCE = "UpdateResource"
    DELETE_RESOURCE = "DeleteResource"
    DISCOVER_RESOURCES = "DiscoverResources"
    OPTIMIZE_COSTS = "OptimizeCosts"
    SECURITY_AUDIT = "SecurityAudit"
    HEALTH_CHECK = "HealthCheck"


class TaskStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=False, validate_assignment=True)


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags are allowed, got {len(tags)}")
    for key in tags:
        if key.lower().startswith("aws:"):
            raise ValueError(f"tag key {key!r} uses the reserved 'aws:' prefix")
    return tags


class AwsAccount(_Model):
    """A member account; credentials are never stored, only the role to assume."""

    id: AccountId
    name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    role: AccountRole
    region: Region = "us-east-1"
    credentials: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")]
    created_at: datetime = Field(default_factory=utc_now)


class AwsResource(_Model):
    id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    arn: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    resource_type: AwsResourceType
    region: Region
    account_id: AccountId
    state: ResourceState
    owner_agent: HistoricalAgent
    dependencies: list[str] = Field(default_factory=list)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    @property
    def key(self) -> str:
        """Unique across the organization: one record per resource."""
        return resource_key(self.account_id, self.region, self.resource_type, self.id)


def resource_key(account_id: str, region: str, resource_type: AwsResourceType | str, resource_id: str) -> str:
    return f"{account_id}#{region}#{AwsResourceType(resource_type).value}#{resource_id}"


class ServiceAgent(_Model):
    """A managed resource seen as an agent: who decides for it, how freely, at what cost."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=600)]
    service_type: AwsResourceType
    dependencies: list[str] = Field(default_factory=list)
    state: ResourceState
    autonomy_level: Annotated[int, Field(ge=0, le=10)]
    decision_maker: HistoricalAgent
    cost_per_day: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
    health_status: HealthStatus = HealthStatus.UNKNOWN


class AwsTask(_Model):
    id: TaskId
    task_type: AwsTaskType
    resource_type: AwsResourceType | None = None
    account_id: AccountId
    region: Region
    parameters: dict[str, Any] = Field(default_factory=dict)
    dependencies: list[str] = Field(default_factory=list)
    assigned_agent: HistoricalAgent | None = None
    status: TaskStatus = TaskStatus.PENDING
    created_at: datetime = Field(default_factory=utc_now)
    completed_at: datetime | None = None
    dry_run: bool = False

    @field_validator("parameters")
    @classmethod
    def _parameters_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 100:
            raise ValueError("at most 100 parameters are allowed")
        tags = value.get("tags")
        if tags is not None:
            if not isinstance(tags, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
            ):
                raise ValueError("parameters.tags must be a map of strings to strings")
            _check_tags(tags)
        return value


class CostFinding(_Model):
    resource_id: str
    resource_type: AwsResourceType
    account_id: AccountId
    region: Region
    action: str
    monthly_savings: Annotated[Decimal, Field(ge=0)]
    reason: str


class CostReport(_Model):
    total_savings: Annotated[Decimal, Field(ge=0)] = Decimal("0")
    optimizations: list[CostFinding] = Field(default_factory=list)
    recommendations: list[CostFinding] = Field(default_factory=list)
    generated_at: datetime = Field(default_factory=utc_now)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(task_id: str) -> str:
    """Step Functions execution name for a task: deterministic, so a redelivered task cannot run twice."""
    digest = hashlib.sha256(task_id.encode()).hexdigest()[:12]
    return f"{_SAFE_NAME.sub('-', task_id)[:60]}-{digest}"
