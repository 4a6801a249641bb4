"""Deployment configuration: table/bus names and the Guard's allow-lists, read once per cold start."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .model import AccountId, AwsResourceType, Region


class AgentConfig(BaseModel):
    """Policy knobs, from the `AGENT_CONFIG` JSON (CDK context `aws-agent:config` in the cloud)."""

    model_config = ConfigDict(extra="forbid")

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


class Settings(BaseModel):
    """Where the agent's own state lives (environment variables set by the CDK stack)."""

    tasks_table: str
    resources_table: str
    agents_table: str
    event_bus: str
    state_machine_arn: str | None = None
    agent_account_id: str | None = None
    region: str = "us-east-1"
    config: AgentConfig = Field(default_factory=AgentConfig)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw_config = env.get("AGENT_CONFIG")
        return cls(
            tasks_table=env.get("AGENT_TASKS_TABLE", "aws-agent-tasks"),
            resources_table=env.get("AGENT_RESOURCES_TABLE", "aws-agent-resources"),
            agents_table=env.get("AGENT_AGENTS_TABLE", "aws-agent-service-agents"),
            event_bus=env.get("AGENT_EVENT_BUS", "aws-agent"),
            state_machine_arn=env.get("AGENT_STATE_MACHINE_ARN"),
            agent_account_id=env.get("AGENT_ACCOUNT_ID"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            config=AgentConfig.model_validate(json.loads(raw_config)) if raw_config else AgentConfig(),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process (cached: Lambda reads them once per cold start)."""
    return Settings.from_env()
