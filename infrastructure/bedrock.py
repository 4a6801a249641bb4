"""The Bedrock analyzer's grant: bedrock:InvokeModel on the configured model only, to the analyze function only."""

from __future__ import annotations

import re

from aws_cdk import Aws
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from aws_agent.config import BedrockConfig

from .nag import acknowledge, wildcard

# System-defined cross-region inference profiles: "<geography>.<foundation model id>".
_PROFILE = re.compile(r"^(?:us|us-gov|eu|apac|jp|au|ca|global)\.(?P<model>.+)$")
SID = "InvokeConfiguredBedrockModel"


def model_arns(config: BedrockConfig) -> tuple[list[str], str | None]:
    """The ARNs Converse needs bedrock:InvokeModel on, and the one wildcard ARN among them (if any).

    A foundation model is one ARN in one region. An inference profile needs the profile and the foundation
    model in every region the profile routes to (AWS documents the foundation-model ARN with a `*` region).
    """
    region = config.region or Aws.REGION
    model_id = config.model_id
    if model_id.startswith("arn:"):
        profile = re.search(r":inference-profile/(?P<id>.+)$", model_id)
        base = _PROFILE.match(profile.group("id")) if profile else None
        if base is None:
            return [model_id], None
        routed = f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{base.group('model')}"
        return [model_id, routed], routed
    profile_match = _PROFILE.match(model_id)
    if profile_match is None:
        return [f"arn:{Aws.PARTITION}:bedrock:{region}::foundation-model/{model_id}"], None
    profile_arn = f"arn:{Aws.PARTITION}:bedrock:{region}:{Aws.ACCOUNT_ID}:inference-profile/{model_id}"
    routed = f"arn:{Aws.PARTITION}:bedrock:*::foundation-model/{profile_match.group('model')}"
    return [profile_arn, routed], routed


def grant_bedrock_analyzer(function: lambda_.Function, config: BedrockConfig, bus: events.IEventBus) -> None:
    """When enabled: InvokeModel on the configured model, and PutEvents for the outcomes Analyze emits itself
    (a rejected request's AwsTaskFailed, ClarificationRequested). When disabled: nothing at all."""
    if not config.enabled:
        return
    resources, routed = model_arns(config)
    function.add_to_role_policy(iam.PolicyStatement(sid=SID, actions=["bedrock:InvokeModel"], resources=resources))
    bus.grant_put_events_to(function)
    if routed is not None and function.role is not None:
        rendered = routed.replace(Aws.PARTITION, "<AWS::Partition>")
        acknowledge(
            function.role,
            {
                wildcard(rendered): "A cross-region inference profile routes each request to the foundation model "
                "in one of its regions: AWS requires InvokeModel on that one model in every region (region `*`), "
                "beside the profile's own ARN; no other model is allowed."
            },
        )
