"""Deployment constants and the agent configuration read from CDK context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from pydantic import ValidationError

from aws_agent.config import AgentConfig

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
STACK_NAME: Final = "AwsAgent"

CONFIG_CONTEXT_KEY: Final = "aws-agent:config"
EVENT_BUS_CONTEXT_KEY: Final = "aws-agent:event-bus-name"
DEFAULT_EVENT_BUS_NAME: Final = "aws-agent"

# The pipeline's steps, one Lambda function (and one folder under functions/) each.
STEP_NAMES: Final = ("intake", "analyze", "guard", "execute", "status", "tag", "register", "complete", "fail")
# The cost-optimization workflow's steps (same layout: one function and one folder each).
OPTIMIZATION_STEP_NAMES: Final = ("optimize_plan", "optimize_target", "optimize_report")
# Health: the alarm-state router and the scheduled health sweep (infrastructure/health.py).
HEALTH_STEP_NAMES: Final = ("health", "health_sweep")
# The org-wide discovery workflow's steps (issue 4).
DISCOVERY_STEP_NAMES: Final = ("discover_plan", "discover_target")
# The guardians' functions: the approval wait's RequestApproval and Cerberus' CloudTrail watch.
GUARDIAN_STEP_NAMES: Final = ("approval", "watch")
ALL_STEP_NAMES: Final = (
    STEP_NAMES + OPTIMIZATION_STEP_NAMES + HEALTH_STEP_NAMES + DISCOVERY_STEP_NAMES + GUARDIAN_STEP_NAMES
)

# cdk-nag's AwsSolutions-L1 wants the newest Python runtime this construct library knows (3.14 in aws-cdk-lib
# 2.275); the Powertools layer name must carry the same runtime tag.
RUNTIME: Final = lambda_.Runtime.PYTHON_3_14
RUNTIME_TAG: Final = "python314"
# Version of the AWS-managed layer AWSLambdaPowertoolsPythonV3-python314-arm64 (account 017000801446, the same
# number in every commercial region). Bump it together with aws-lambda-powertools in requirements.txt; the
# current number is on https://docs.powertools.aws.dev/lambda/python/latest/#lambda-layer.
POWERTOOLS_LAYER_VERSION: Final = 38

TAG_KEY: Final = "MiyabiManaged"
TAG_VALUE: Final = "true"


def agent_config(scope: Construct) -> tuple[dict[str, Any], AgentConfig]:
    """The `aws-agent:config` context object as given (for AGENT_CONFIG) and parsed, validated at synth time.

    A JSON string (`cdk -c aws-agent:config='{...}'`) works as well as an object (cdk.json, CDK_CONTEXT_JSON).
    """
    raw = scope.node.try_get_context(CONFIG_CONTEXT_KEY)
    config: Any = json.loads(raw) if isinstance(raw, str) else (raw or {})
    if not isinstance(config, dict):
        raise TypeError(f"context {CONFIG_CONTEXT_KEY} must be a JSON object, got {type(config).__name__}")
    try:
        parsed = AgentConfig.model_validate(config)  # a bad config fails the synth, not every Lambda cold start
    except ValidationError as error:
        raise ValueError(f"context {CONFIG_CONTEXT_KEY} is not a valid agent configuration:\n{error}") from error
    return dict(config), parsed


def event_bus_name(scope: Construct) -> str:
    """The agent's own EventBridge bus name (context `aws-agent:event-bus-name`, default `aws-agent`)."""
    return str(scope.node.try_get_context(EVENT_BUS_CONTEXT_KEY) or DEFAULT_EVENT_BUS_NAME)


def managed_condition(key: str = "aws:ResourceTag") -> dict[str, dict[str, str]]:
    """`<key>/MiyabiManaged = true`: aws:ResourceTag for changes, aws:RequestTag for creations."""
    return {"StringEquals": {f"{key}/{TAG_KEY}": TAG_VALUE}}
