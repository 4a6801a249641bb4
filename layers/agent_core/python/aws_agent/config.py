"""The agent's policy configuration: the Guard's allow-lists, the account directory and defaults."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

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


class AgentConfig(BaseModel):
    """Policy knobs, from the `AGENT_CONFIG` JSON (CDK context `aws-agent:config` in the cloud)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    allowed_resource_types: list[AwsResourceType] = Field(
        default_factory=lambda: [
            AwsResourceType.S3_BUCKET,
            AwsResourceType.EC2_INSTANCE,
            AwsResourceType.LAMBDA_FUNCTION,
        ]
    )
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
    # Overrides of the guardians' policy file (aws_agent/data/policies.json), merged key by key; see guardians.policy.
    policies: dict[str, Any] = Field(default_factory=dict)
