"""Builds the CDK app (stack + cdk-nag checks), shared by app.py and the infrastructure tests."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from .agent_stack import AgentStack
from .settings import PROJECT_ROOT, STACK_NAME


def project_context() -> dict[str, Any]:
    """The `context` of cdk.json, so `python app.py` synthesizes exactly what `cdk synth` does."""
    cdk_json = PROJECT_ROOT / "cdk.json"
    if not cdk_json.is_file():
        return {}
    return dict(json.loads(cdk_json.read_text()).get("context", {}))


def environment() -> cdk.Environment | None:
    """The CLI's default account/region when set, else an environment-agnostic stack."""
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    return cdk.Environment(account=account, region=region) if account or region else None


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[cdk.App, AgentStack]:
    """The app with the AwsAgent stack and the AWS Solutions checks (cdk-nag 3: a validation plugin)."""
    app = cdk.App(context={**project_context(), **(context or {})}, outdir=outdir)
    stack = AgentStack(
        app,
        STACK_NAME,
        env=environment(),
        description="AWS Agent: event-driven serverless manager of AWS resources",
        analytics_reporting=False,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack
