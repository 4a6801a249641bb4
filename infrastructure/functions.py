"""The agent's Lambda functions: one per pipeline step, sharing the domain-library and Powertools layers."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .nag import acknowledge, wildcard
from .settings import ALL_STEP_NAMES, POWERTOOLS_LAYER_VERSION, PROJECT_ROOT, RUNTIME, RUNTIME_TAG

ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/*.egg-info"]
# The CLI and the embedded runtime are for engineers' machines, not for Lambda.
LAYER_EXCLUDES = [*ASSET_EXCLUDES, "python/aws_agent/local", "python/aws_agent/cli"]
DEFAULT_MEMORY_MB = 512
MEMORY_MB: Mapping[str, int] = {"intake": 256, "optimize_target": 1024, "discover_target": 1024}
DEFAULT_TIMEOUT = Duration.seconds(60)
TIMEOUTS: Mapping[str, Duration] = {
    "execute": Duration.seconds(300),
    "optimize_target": Duration.seconds(600),
    "discover_target": Duration.seconds(600),
}


def timeout_of(step: str) -> Duration:
    """The Lambda timeout of a step."""
    return TIMEOUTS.get(step, DEFAULT_TIMEOUT)


def powertools_layer_arn() -> str:
    """The public AWS-managed Powertools layer for our runtime and architecture, in the stack's region."""
    return (
        f"arn:aws:lambda:{Aws.REGION}:017000801446:layer:"
        f"AWSLambdaPowertoolsPythonV3-{RUNTIME_TAG}-arm64:{POWERTOOLS_LAYER_VERSION}"
    )


class AgentFunctions(Construct):
    """One arm64 Python function per folder under functions/, each with its own role and log group."""

    def __init__(self, scope: Construct, construct_id: str, *, environment: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.powertools_layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", powertools_layer_arn()
        )
        self.core_layer = lambda_.LayerVersion(
            self,
            "AgentCoreLayer",
            code=lambda_.Code.from_asset(str(PROJECT_ROOT / "layers" / "agent_core"), exclude=LAYER_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="aws_agent: the AWS Agent domain library",
        )
        self.by_step: dict[str, lambda_.Function] = {step: self._function(step, environment) for step in ALL_STEP_NAMES}

    def __getitem__(self, step: str) -> lambda_.Function:
        return self.by_step[step]

    def _function(self, step: str, environment: Mapping[str, str]) -> lambda_.Function:
        name = "".join(part.capitalize() for part in step.split("_"))
        log_group = logs.LogGroup(self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH)
        # An explicit role instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
        role = iam.Role(
            self,
            f"{name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"AWS Agent {step} step",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            f"{name}Function",
            description=f"AWS Agent pipeline step: {step}",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            code=lambda_.Code.from_asset(str(PROJECT_ROOT / "functions" / step), exclude=ASSET_EXCLUDES),
            handler="handler.handler",
            memory_size=MEMORY_MB.get(step, DEFAULT_MEMORY_MB),
            timeout=timeout_of(step),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            layers=[self.powertools_layer, self.core_layer],
            environment={**environment, "AGENT_STEP": step},
        )
        acknowledge(
            role,
            {
                wildcard("*"): "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords support no "
                "resource-level permissions, so AWS requires Resource '*'.",
            },
        )
        return function
