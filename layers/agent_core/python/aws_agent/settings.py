"""Where the agent's own state lives (environment set by the CDK stack), read once per cold start."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import AgentConfig


@dataclass
class Settings:
    """Names from the environment; the policy configuration is parsed only by the steps that read it."""

    tasks_table: str
    resources_table: str
    agents_table: str
    event_bus: str
    state_machine_arn: str | None = None
    optimization_state_machine_arn: str | None = None
    cost_reports_table: str | None = None
    agent_account_id: str | None = None
    region: str = "us-east-1"
    config_json: str | None = None
    preset_config: AgentConfig | None = None

    @cached_property
    def config(self) -> AgentConfig:
        if self.preset_config is not None:
            return self.preset_config
        from .config import AgentConfig  # pydantic: only the steps that apply policy pay for it

        return AgentConfig.model_validate(json.loads(self.config_json)) if self.config_json else AgentConfig()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if environ is None else environ
        return cls(
            tasks_table=env.get("AGENT_TASKS_TABLE", "aws-agent-tasks"),
            resources_table=env.get("AGENT_RESOURCES_TABLE", "aws-agent-resources"),
            agents_table=env.get("AGENT_AGENTS_TABLE", "aws-agent-service-agents"),
            event_bus=env.get("AGENT_EVENT_BUS", "aws-agent"),
            state_machine_arn=env.get("AGENT_STATE_MACHINE_ARN"),
            optimization_state_machine_arn=env.get("AGENT_OPTIMIZATION_STATE_MACHINE_ARN"),
            cost_reports_table=env.get("AGENT_COST_REPORTS_TABLE"),
            agent_account_id=env.get("AGENT_ACCOUNT_ID"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            config_json=env.get("AGENT_CONFIG") or None,
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The settings of this process (cached: Lambda reads them once per cold start)."""
    return Settings.from_env()
