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
    _member_role_stack(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def _member_role_stack(app: cdk.App) -> None:
    """`cdk deploy MiyabiMemberRole MiyabiMemberForwarding -c aws-agent:agent-account=<management account>`: the member
    role and the forwarding rules in one account by hand (the StackSets of the main stack do it for whole OUs; the
    forwarding stack goes to every region of the account). Only added when that context is given."""
    from .member_forwarding import MEMBER_FORWARDING_STACK_NAME, MemberForwardingStack
    from .member_role import (
        AGENT_ACCOUNT_CONTEXT,
        AGENT_PRINCIPALS_CONTEXT,
        MEMBER_ROLE_STACK_NAME,
        MemberRoleStack,
        context_list,
    )
    from .settings import agent_config, event_bus_name

    agent_account = app.node.try_get_context(AGENT_ACCOUNT_CONTEXT)
    if not agent_account:
        return
    MemberRoleStack(
        app,
        MEMBER_ROLE_STACK_NAME,
        config=agent_config(app)[1],
        agent_account=str(agent_account),
        agent_principals=context_list(app, AGENT_PRINCIPALS_CONTEXT),
        env=environment(),
        description="AWS Agent member role: assumed by the agent's execution roles in the management account",
        analytics_reporting=False,
    )
    region = os.environ.get("CDK_DEFAULT_REGION") or "us-east-1"
    MemberForwardingStack(
        app,
        MEMBER_FORWARDING_STACK_NAME,
        config=agent_config(app)[1],
        agent_bus_arn=f"arn:aws:events:{region}:{agent_account}:event-bus/{event_bus_name(app)}",
        env=environment(),
        description="AWS Agent: alarm changes and creation calls of this account and region, to the agent's bus",
        analytics_reporting=False,
    )
