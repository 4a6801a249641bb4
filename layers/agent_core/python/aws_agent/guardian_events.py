"""Events of the guardians: a task waiting for a human (ApprovalRequested) and a flagged resource creation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .model import AccountId, AwsResourceType, AwsTaskType, HistoricalAgent, Region, utc_now

APPROVAL_REQUESTED = "ApprovalRequested"
RESOURCE_FLAGGED = "ResourceFlagged"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class GuardianVerdict(_Strict):
    guardian: str
    decision: Literal["allow", "deny", "needs-approval"]
    reasons: list[str] = Field(default_factory=list)


class ApprovalRequest(_Strict):
    """detail of `ApprovalRequested` (source `miyabi.aws-agent`): a task waits for `aws-agent approve|reject`."""

    version: Literal["1"] = "1"
    task_id: str
    task_type: AwsTaskType = Field(description="what: the operation")
    resource_type: AwsResourceType | None = None
    account_id: AccountId
    region: Region
    parameters: dict[str, object] = Field(default_factory=dict)
    assigned_agent: HistoricalAgent | None = None
    reasons: list[str] = Field(description="why a human must decide (autonomy, guardians)")
    guardians: list[GuardianVerdict] = Field(default_factory=list)
    estimated_daily_cost: str = Field(description="USD per day the action adds (offline price catalog)")
    requested_by: str | None = Field(default=None, description="who asked for the task")
    timeout_seconds: int = Field(description="the task ends Cancelled when nobody decides within this time")
    expires_at: datetime
    requested_at: datetime = Field(default_factory=utc_now)


class ResourceFlag(_Strict):
    """detail of `ResourceFlagged`: Cerberus saw a resource created (CloudTrail) that is unmanaged or non-compliant.

    The agent never acts on it: it records the finding and tells whoever listens."""

    version: Literal["1"] = "1"
    finding_id: str
    account_id: str
    region: str
    event_name: str = Field(description="the CloudTrail API call, e.g. RunInstances")
    event_source: str
    resource_ids: list[str] = Field(default_factory=list)
    managed: bool = Field(description="created by the agent (MiyabiManaged=true or the agent's own session)")
    issues: list[str] = Field(default_factory=list, description="unmanaged and/or what is non-compliant")
    actor: str | None = Field(default=None, description="the caller's ARN from CloudTrail")
    event_time: str | None = None
    flagged_at: datetime = Field(default_factory=utc_now)


GUARDIAN_SCHEMAS: dict[str, type[BaseModel]] = {APPROVAL_REQUESTED: ApprovalRequest, RESOURCE_FLAGGED: ResourceFlag}
