"""The agent's policy configuration: the Guard's allow-lists, the account directory and defaults."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .model import AccountId, AwsResourceType, Region


class OptimizationConfig(BaseModel):
    """The scheduled cost-optimization sweep (see aws_agent.costs for what each knob means)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    schedule: str = "rate(1 day)"  # an EventBridge schedule expression
    # Scheduled runs act (within autonomy, guard and caps) on managed resources only; manual runs are dry runs.
    scheduled_apply: bool = True
    days: Annotated[int, Field(ge=1, le=455)] = 14
    cpu_threshold: Annotated[float, Field(gt=0, le=100)] = 5.0
    max_actions_per_account: Annotated[int, Field(ge=0)] = 50
    max_percent_per_account: Annotated[float, Field(ge=0, le=100)] = 50.0
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 20  # Map concurrency over account x region


class BedrockConfig(BaseModel):
    """The optional Bedrock analyzer of free-text issues (see aws_agent.analysis.bedrock); off unless enabled."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    enabled: bool = False
    # A foundation-model id, a cross-region inference-profile id ("us.anthropic..."), or either's full ARN.
    model_id: Annotated[str, StringConstraints(min_length=1, max_length=2048)] = (
        "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    )
    region: Region | None = None  # default: the agent's own region
    # Below this self-reported confidence the task asks for clarification instead of acting.
    confidence_threshold: Annotated[float, Field(ge=0, le=1)] = 0.7
    max_tokens: Annotated[int, Field(ge=256, le=8192)] = 1024
    # The analyze Lambda has 60 s: every attempt must fit (attempts x (connect + read) < 55 s).
    connect_timeout_seconds: Annotated[float, Field(gt=0, le=10)] = 3.0
    read_timeout_seconds: Annotated[float, Field(gt=0, le=50)] = 20.0
    max_attempts: Annotated[int, Field(ge=1, le=3)] = 2

    @model_validator(mode="after")
    def _fits_the_lambda_timeout(self) -> BedrockConfig:
        if self.max_attempts * (self.connect_timeout_seconds + self.read_timeout_seconds) >= 55:
            raise ValueError("bedrock: max_attempts x (connect + read timeout) must stay under 55 s")
        return self


class HealthConfig(BaseModel):
    """Alarms, health routing, auto-healing and the health sweep (see aws_agent.health)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    # Every alarm the agent owns is named <alarm_prefix>/<account>/<type>/<id>/<metric>; the health rule matches it.
    alarm_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")] = "miyabi"
    # Threshold overrides by "<ResourceType>.<Metric>", e.g. {"Ec2Instance.CPUUtilization": 95}.
    thresholds: dict[str, float] = Field(default_factory=dict)
    sweep_schedule: str = "rate(1 hour)"  # an EventBridge schedule expression
    heal_enabled: bool = True
    heal_dry_run: bool = False  # decide and record, but make no heal call
    heal_min_autonomy: Annotated[int, Field(ge=0, le=10)] = 5  # a service agent heals itself from this level on
    heal_max_attempts: Annotated[int, Field(ge=0, le=20)] = 3  # per resource and window, then HealEscalated
    heal_window_minutes: Annotated[int, Field(ge=1, le=10_080)] = 60
    lambda_alias: str = "live"  # the alias a Lambda rollback moves back one published version


class MultiAccountConfig(BaseModel):
    """The organization: member-role sessions, the account directory, discovery, billing and budgets (issue 4)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    # Optional sts:ExternalId the member role's trust policy requires.
    member_role_external_id: Annotated[str, StringConstraints(min_length=2, max_length=1224)] | None = None
    credentials_cache_size: Annotated[int, Field(ge=1, le=10_000)] = 256
    # The account tag that names an account's AccountRole; otherwise its OU's name decides.
    account_role_tag: str = "MiyabiAccountRole"
    # Read the account directory from AWS Organizations (the `accounts` mapping stays the fallback).
    use_organizations: bool = True
    discovery_schedule: str = "rate(6 hours)"
    discovery_concurrency: Annotated[int, Field(ge=1, le=1000)] = 20
    # Memory bound of one discovery worker: resources recorded per account x region at most.
    discovery_max_resources_per_target: Annotated[int, Field(ge=1, le=100_000)] = 5000
    # The types the scheduled discovery lists (each is one or more describes per account x region); None: all.
    discovery_resource_types: list[AwsResourceType] | None = None
    # Cost Explorer results are cached this long (every page costs $0.01).
    billing_cache_hours: Annotated[int, Field(ge=1, le=744)] = 12
    # Monthly budget per managed account, in USD, and the percentages that notify.
    budget_limit_usd: Annotated[float, Field(gt=0)] = 100.0
    budget_thresholds_percent: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [80.0, 100.0]
    )
    budget_subscribers: list[str] = Field(default_factory=list)  # e-mail addresses


class AgentConfig(BaseModel):
    """Policy knobs, from the `AGENT_CONFIG` JSON (CDK context `aws-agent:config` in the cloud)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    # Every type of the spec by default (a type without a provider fails with UnsupportedResourceType); a deployment
    # narrows the list to what it wants the agent to touch.
    allowed_resource_types: list[AwsResourceType] = Field(default_factory=lambda: list(AwsResourceType))
    # Empty means "the agent's own account / region only".
    allowed_accounts: list[AccountId] = Field(default_factory=list)
    allowed_regions: list[Region] = Field(default_factory=lambda: ["us-east-1"])
    # Account directory for tasks that name an account ("Apollo"); issue 4 fills it from Organizations.
    accounts: dict[Annotated[str, StringConstraints(min_length=1, max_length=50)], AccountId] = Field(
        default_factory=dict
    )
    member_role_name: str = "MiyabiAgentRole"
    lambda_execution_role_name: str = "MiyabiLambdaExecutionRole"
    default_ec2_instance_type: str = "t3.micro"
    max_ec2_instances_per_task: Annotated[int, Field(ge=1, le=20)] = 1
    optimization: OptimizationConfig = Field(default_factory=OptimizationConfig)
    bedrock: BedrockConfig = Field(default_factory=BedrockConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    multi_account: MultiAccountConfig = Field(default_factory=MultiAccountConfig)
    # Overrides of the guardians' policy file (aws_agent/data/policies.json), merged key by key; see guardians.policy.
    policies: dict[str, Any] = Field(default_factory=dict)
