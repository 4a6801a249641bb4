"""The organization's events: ResourceDriftDetected (discovery) and BillingReportReady (consolidated billing)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..model import AccountId, AwsResourceType, Region, ResourceState, utc_now

RESOURCE_DRIFT_DETECTED = "ResourceDriftDetected"
BILLING_REPORT_READY = "BillingReportReady"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ResourceDrift(_Strict):
    """detail of `ResourceDriftDetected` (source `miyabi.aws-agent`): a managed resource changed behind the agent."""

    version: Literal["1"] = "1"
    drift: Literal["deleted", "state", "tags"] = Field(
        description="deleted: gone from AWS (now Terminated); state / tags: changed outside the agent"
    )
    resource_key: str
    resource_id: str
    resource_type: AwsResourceType
    account_id: AccountId
    region: Region
    previous_state: ResourceState
    current_state: ResourceState
    tags_added: dict[str, str] = Field(default_factory=dict)
    tags_removed: list[str] = Field(default_factory=list)
    run_id: str = Field(description="the discovery run or task that saw it")
    detected_at: datetime = Field(default_factory=utc_now)


class CostLine(_Strict):
    key: str = Field(description="account id, service name or historical agent")
    name: str = ""
    amount: str = Field(description="USD, unblended")


class BillingReport(_Strict):
    """detail of `BillingReportReady`: consolidated cost by linked account, service and historical agent."""

    version: Literal["1"] = "1"
    period: Literal["month-to-date", "last-month"]
    start: str = Field(description="first day (inclusive), YYYY-MM-DD")
    end: str = Field(description="last day (exclusive), YYYY-MM-DD")
    currency: str = "USD"
    total: str
    by_account: list[CostLine] = Field(default_factory=list)
    by_service: list[CostLine] = Field(default_factory=list)
    by_agent: list[CostLine] = Field(default_factory=list, description="the MiyabiAgent cost-allocation tag")
    cached: bool = Field(default=False, description="served from the cache: no Cost Explorer request made")
    generated_at: datetime = Field(default_factory=utc_now)
    task_id: str | None = Field(default=None, description="the AnalyzeBilling task that asked for it (none: the CLI)")
