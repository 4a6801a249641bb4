"""The organization's events: drift, billing reports, and the account-creation and account-closure workflows'."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..basics import AccountRole
from ..model import AccountId, AwsResourceType, Region, ResourceState, utc_now

RESOURCE_DRIFT_DETECTED = "ResourceDriftDetected"
BILLING_REPORT_READY = "BillingReportReady"
ACCOUNT_CREATED = "AccountCreated"
ACCOUNT_CREATION_FAILED = "AccountCreationFailed"
ACCOUNT_CLOSURE_REQUESTED = "AccountClosureRequested"
ACCOUNT_CLOSED = "AccountClosed"
ACCOUNT_CLOSURE_FAILED = "AccountClosureFailed"


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


class AccountCreated(_Strict):
    """detail of `AccountCreated`, sent by the account-creation workflow once the account exists and is placed."""

    version: Literal["1"] = "1"
    account_id: AccountId
    name: str
    role: AccountRole
    request_id: str = Field(description="the CreateAccount request id (car-...)")
    parent_id: str = Field(description="the OU (or root) the account is in now")
    polls: int = Field(ge=0, description="DescribeCreateAccountStatus calls the wait loop made")
    created_at: datetime


class AccountCreationFailed(_Strict):
    """detail of `AccountCreationFailed`: AWS refused the request, Organizations reported FAILED, or polls ran out."""

    version: Literal["1"] = "1"
    name: str
    role: str = Field(description="the requested AccountRole, as given (empty for an invalid request)")
    request: dict[str, Any] = Field(
        description="the last CreateAccountStatus seen (State NOT_STARTED before CreateAccount answered); an "
        "AccountId here means the account exists but was not moved to its destination"
    )
    error: str = Field(description="e.g. CreateAccountFailed, Timeout, or the Organizations error name")
    cause: str = Field(description="AWS's reason (FailureReason such as EMAIL_ALREADY_EXISTS) or error message")
    execution: str = Field(description="the workflow execution, whose history has the details")
    failed_at: datetime


class AccountClosureRequest(_Strict):
    """detail of `AccountClosureRequested`: the closure workflow waits for `aws-agent accounts approve-close`."""

    version: Literal["1"] = "1"
    account_id: AccountId
    name: str
    requested_by: str = Field(description="the identity that asked; it may not approve its own request")
    reason: str
    execution: str = Field(description="the closure workflow's execution")
    timeout_seconds: int = Field(description="no answer within this time: nothing is closed")
    requested_at: datetime
    token: str = Field(
        description="the task token the approval answers (SendTaskSuccess/Failure on the closure workflow)"
    )


class AccountClosed(_Strict):
    """detail of `AccountClosed`: CloseAccount was accepted after an approval (the account is now PENDING_CLOSURE)."""

    version: Literal["1"] = "1"
    account_id: AccountId
    name: str
    requested_by: str
    approved_by: str
    closed_at: datetime


class AccountClosureFailed(_Strict):
    """detail of `AccountClosureFailed`: not managed, not approved (rejected or timed out), or AWS refused."""

    version: Literal["1"] = "1"
    account_id: str = Field(description="empty for a malformed request")
    error: str = Field(description="NotManaged, AccountClosureNotApproved, InvalidRequest, InvalidApproval or AWS's")
    cause: str
