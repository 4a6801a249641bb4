"""The event contract, in one place: what the orchestrator sends and what the agent emits (version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .accounts.events import (
    AccountClosed,
    AccountClosureFailed,
    AccountClosureRequest,
    AccountCreated,
    AccountCreationFailed,
    BillingReport,
    ResourceDrift,
)
from .guardian_events import GUARDIAN_SCHEMAS
from .health.events import HealEscalated, ServiceAgentHealthChanged
from .model import AccountId, AwsResourceType, AwsTaskType, HistoricalAgent, Region, TaskId, TaskStatus, utc_now

CONTRACT_VERSION: Literal["1"] = "1"
ORCHESTRATOR_SOURCE = "miyabi.orchestrator"
AGENT_SOURCE = "miyabi.aws-agent"
TASK_REQUESTED = "AwsTaskRequested"
TASK_COMPLETED = "AwsTaskCompleted"
TASK_FAILED = "AwsTaskFailed"
COST_REPORT_READY = "CostReportReady"
CLARIFICATION_REQUESTED = "ClarificationRequested"

MAX_TITLE_CHARS = 512
MAX_BODY_CHARS = 65_536
MAX_LABELS = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class IssueRef(_Strict):
    """A GitHub issue handed over as the task: the analyzer reads its title, body and labels."""

    number: Annotated[int, Field(ge=1, description="GitHub issue number")]
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE_CHARS)]
    body: Annotated[str, StringConstraints(max_length=MAX_BODY_CHARS)] = ""
    labels: Annotated[list[Annotated[str, StringConstraints(max_length=100)]], Field(max_length=MAX_LABELS)] = []
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None


class StructuredTask(_Strict):
    """A task already in the agent's terms; account and region default to the agent's own."""

    task_type: AwsTaskType
    resource_type: AwsResourceType | None = None
    account_id: AccountId | None = None
    account_name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    region: Region | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    dependencies: Annotated[list[Annotated[str, StringConstraints(max_length=2048)]], Field(max_length=100)] = []


class TaskRequest(_Strict):
    """detail of an `AwsTaskRequested` event (source `miyabi.orchestrator`)."""

    version: Literal["1"] = CONTRACT_VERSION
    task_id: TaskId = Field(description="idempotency key: the same id is never run twice")
    task: StructuredTask | None = None
    issue: IssueRef | None = None
    dry_run: bool = False
    requested_by: Annotated[str, StringConstraints(max_length=256)] | None = None

    @model_validator(mode="after")
    def _exactly_one_payload(self) -> TaskRequest:
        if (self.task is None) == (self.issue is None):
            raise ValueError("exactly one of 'task' or 'issue' is required")
        return self


class ResourceRef(_Strict):
    id: str
    arn: str
    resource_type: AwsResourceType
    account_id: AccountId
    region: Region


class ErrorInfo(_Strict):
    code: str = Field(description="machine-readable error code, e.g. InvalidEvent, GuardDenied, AwsError")
    message: str = Field(description="what went wrong, for a human")
    state: str | None = Field(default=None, description="the pipeline step that failed")


class TaskOutcome(_Strict):
    """detail of `AwsTaskCompleted` and `AwsTaskFailed` events (source `miyabi.aws-agent`)."""

    version: Literal["1"] = CONTRACT_VERSION
    task_id: str
    status: TaskStatus
    task_type: AwsTaskType | None = None
    resource_type: AwsResourceType | None = None
    account_id: AccountId | None = None
    region: Region | None = None
    assigned_agent: HistoricalAgent | None = None
    dry_run: bool = False
    resource: ResourceRef | None = None
    result: dict[str, Any] = Field(default_factory=dict)
    error: ErrorInfo | None = None
    completed_at: datetime = Field(default_factory=utc_now)


class FindingSummary(_Strict):
    resource_id: str
    resource_type: AwsResourceType
    account_id: str
    region: str
    action: str
    monthly_savings: str


class CostReportSummary(_Strict):
    """detail of `CostReportReady` (source `miyabi.aws-agent`): the figures, and where the full report is kept."""

    version: Literal["1"] = CONTRACT_VERSION
    run_id: str = Field(description="the optimization run (the workflow's execution name)")
    dry_run: bool
    targets: int = Field(description="account x region pairs swept")
    total_savings: str = Field(description="USD per month saved by actions taken")
    potential_savings: str = Field(description="USD per month the recommendations would save")
    fleet_monthly_cost: str = Field(description="estimated USD per month of the swept resources")
    savings_percent: str
    optimizations: int
    recommendations: int
    errors: int
    top: list[FindingSummary] = Field(default_factory=list, description="the largest findings (at most 20)")
    report: str = Field(description="where the full CostReport is stored: <table>/<run_id>")
    generated_at: datetime = Field(default_factory=utc_now)


class AnalyzerReading(_Strict):
    """What one analyzer read from an issue: its task type and resource type, or why it refused."""

    task_type: AwsTaskType | None = None
    resource_type: AwsResourceType | None = None
    confidence: float | None = Field(default=None, description="the model's self-reported confidence (0-1)")
    error: str | None = Field(default=None, description="why the analyzer could not read a task")


class ClarificationRequest(_Strict):
    """detail of `ClarificationRequested` (source `miyabi.aws-agent`): the issue needs a human's answer first.

    The task ends `Cancelled` and no action is taken; this is its one outcome event (no AwsTaskFailed follows).
    """

    version: Literal["1"] = CONTRACT_VERSION
    task_id: str
    status: TaskStatus = TaskStatus.CANCELLED
    issue_number: int | None = None
    issue_url: str | None = None
    reason: Literal["low-confidence", "disagreement"] = Field(
        description="low-confidence: the model was unsure; disagreement: model and rules read different tasks"
    )
    message: str = Field(description="what is unclear, for a human")
    questions: list[str] = Field(default_factory=list, description="what the issue's author should answer")
    model: AnalyzerReading = Field(description="what the Bedrock analyzer read")
    rules: AnalyzerReading = Field(description="what the rule-based analyzer read")
    requested_at: datetime = Field(default_factory=utc_now)


SCHEMAS: dict[str, type[BaseModel]] = {
    "AwsTaskRequested": TaskRequest,
    "AwsTaskCompleted": TaskOutcome,
    "AwsTaskFailed": TaskOutcome,
    "CostReportReady": CostReportSummary,
    "ClarificationRequested": ClarificationRequest,
    "ServiceAgentHealthChanged": ServiceAgentHealthChanged,
    "HealEscalated": HealEscalated,
    "ResourceDriftDetected": ResourceDrift,
    "BillingReportReady": BillingReport,
    "AccountCreated": AccountCreated,
    "AccountCreationFailed": AccountCreationFailed,
    "AccountClosureRequested": AccountClosureRequest,
    "AccountClosed": AccountClosed,
    "AccountClosureFailed": AccountClosureFailed,
}
SCHEMAS.update(GUARDIAN_SCHEMAS)
