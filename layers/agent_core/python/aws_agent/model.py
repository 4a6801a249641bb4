"""The specification's types: accounts, resources, service agents, tasks and cost reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .basics import (
    ACCOUNT_ID_PATTERN,
    MAX_TAGS,
    REGION_PATTERN,
    TASK_ID_PATTERN,
    AccountRole,
    AwsResourceType,
    AwsTaskType,
    HealthStatus,
    HistoricalAgent,
    ResourceState,
    TaskStatus,
    execution_name,
    utc_now,
)

__all__ = [
    "ACCOUNT_ID_PATTERN",
    "MAX_TAGS",
    "REGION_PATTERN",
    "TASK_ID_PATTERN",
    "AccountRole",
    "AwsResourceType",
    "AwsTaskType",
    "HealthStatus",
    "HistoricalAgent",
    "ResourceState",
    "TaskStatus",
    "execution_name",
    "utc_now",
]

AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
TaskId = Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TagValue = Annotated[str, StringConstraints(max_length=256)]


class _Model(BaseModel):
    # defer_build: a handler builds validators only for the models it uses, at first use (cold-start cost).
    model_config = ConfigDict(extra="forbid", use_enum_values=False, validate_assignment=True, defer_build=True)


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
    """One cost finding: what to do to a resource, why, and the monthly saving (USD) it is worth."""

    resource_id: str
    resource_type: AwsResourceType
    account_id: AccountId
    region: Region
    action: str
    monthly_savings: Annotated[Decimal, Field(ge=0)]
    reason: str
    # Optional detail (added for the cost sweep; all default so older reports stay valid).
    aws_type: str | None = None  # CloudFormation type name where resource_type is coarse, e.g. AWS::EC2::EIP
    monthly_cost: Annotated[Decimal, Field(ge=0)] | None = None  # the resource's estimated cost today
    target: str | None = None  # what it becomes, e.g. the smaller DB instance class of a rightsize
    note: str | None = None  # what a human must do first, e.g. "snapshot first"
    managed: bool | None = None  # tagged MiyabiManaged=true
    decision: str | None = None  # what the policy did with it: "stopped", "dry-run", "cap reached", ...
    evidence: dict[str, Any] = Field(default_factory=dict)  # the numbers behind it (CPU maximum, object count)


class CostError(_Model):
    """A target (account x region) or a step of one that failed; the rest of the sweep went on."""

    account_id: str | None
    region: str
    code: str
    message: str


class CostReport(_Model):
    """A cost sweep's result. Savings are monthly USD from the offline price catalog (estimates, not a bill).

    total_savings: what the actions taken (optimizations) save; potential_savings: what the recommendations
    would save if a human applied them; savings_percent: (total + potential) / fleet_monthly_cost x 100, where
    fleet_monthly_cost is the estimated monthly cost of the resources the sweep scanned.
    """

    total_savings: Annotated[Decimal, Field(ge=0)] = Decimal("0")
    optimizations: list[CostFinding] = Field(default_factory=list)
    recommendations: list[CostFinding] = Field(default_factory=list)
    generated_at: datetime = Field(default_factory=utc_now)
    potential_savings: Annotated[Decimal, Field(ge=0)] = Decimal("0")
    fleet_monthly_cost: Annotated[Decimal, Field(ge=0)] = Decimal("0")
    savings_percent: Annotated[Decimal, Field(ge=0)] = Decimal("0")
    dry_run: bool = False
    targets: int = 0
    skipped: int = 0  # resources opted out with MiyabiOptimize=off: neither acted on nor recommended
    errors: list[CostError] = Field(default_factory=list)
    requests: dict[str, int] = Field(default_factory=dict)  # AWS API calls made, by service.Operation
