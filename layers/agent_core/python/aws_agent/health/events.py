"""Health events the agent emits (version 1): a service agent's health changed; auto-healing gave up."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..model import AccountId, AwsResourceType, HealthStatus, Region, utc_now

SERVICE_AGENT_HEALTH_CHANGED = "ServiceAgentHealthChanged"
HEAL_ESCALATED = "HealEscalated"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ServiceAgentHealthChanged(_Strict):
    """detail of `ServiceAgentHealthChanged` (source `miyabi.aws-agent`): emitted only when the health changes."""

    version: Literal["1"] = "1"
    service_agent: str = Field(description="the service agent (its resource key: account#region#type#id)")
    resource_type: AwsResourceType
    resource_id: str
    account_id: AccountId
    region: Region
    previous_health: HealthStatus
    health: HealthStatus
    alarm: str = Field(description="the alarm whose state change caused it")
    alarm_state: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = Field(default="", description="CloudWatch's reason for the state change")
    alarm_states: dict[str, str] = Field(
        default_factory=dict, description="the current state of each of the resource's alarms, by metric"
    )
    changed_at: datetime = Field(description="the alarm state's timestamp")


class HealEscalated(_Strict):
    """detail of `HealEscalated` (source `miyabi.aws-agent`): a human must look; the agent will not heal this one."""

    version: Literal["1"] = "1"
    service_agent: str
    resource_type: AwsResourceType
    resource_id: str
    account_id: AccountId
    region: Region
    action: str = Field(description="the heal action that was not (or no longer) taken, e.g. reboot")
    reason: Literal["attempts-exhausted", "autonomy-too-low", "not-managed", "heal-failed"]
    message: str
    attempts: int = Field(description="heal attempts in the current window")
    window_minutes: int
    alarm: str
    escalated_at: datetime = Field(default_factory=utc_now)
