"""Unit-test fixtures: an in-process moto AWS and provider contexts built the way the pipeline builds them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aws_agent.aws import SessionFactory
from aws_agent.config import AgentConfig
from aws_agent.model import AwsResourceType, AwsTask, AwsTaskType
from aws_agent.resources.base import ProviderContext

AGENT_ACCOUNT = "123456789012"  # moto's default account: the agent's own credentials act here
MEMBER_ROLE = "MiyabiAgentRole"
LAMBDA_ROLE = "MiyabiLambdaExecutionRole"

MakeCtx = Callable[..., ProviderContext]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Dummy credentials in us-east-1; nothing from the developer's machine (profiles, endpoints) leaks in."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def make_ctx(mocked_aws: None) -> MakeCtx:
    """Build a ProviderContext: make_ctx(resource_type, params, task_id=..., task_type=..., account_id=..., region=...).

    One SessionFactory per test, as one per process in the pipeline; a task whose account is not the agent's makes
    it assume MiyabiAgentRole there (moto's STS grants any AssumeRole).
    """
    sessions = SessionFactory(agent_account_id=AGENT_ACCOUNT, role_name=MEMBER_ROLE)

    def make(
        resource_type: AwsResourceType,
        params: dict[str, Any] | None = None,
        *,
        task_id: str = "task-0001",
        task_type: AwsTaskType = AwsTaskType.CREATE_RESOURCE,
        account_id: str = AGENT_ACCOUNT,
        region: str = "us-east-1",
        config: AgentConfig | None = None,
    ) -> ProviderContext:
        task = AwsTask(
            id=task_id,
            task_type=task_type,
            resource_type=resource_type,
            account_id=account_id,
            region=region,
            parameters=params or {},
        )
        return ProviderContext(task=task, sessions=sessions, config=config or AgentConfig())

    return make


@pytest.fixture
def lambda_execution_role(mocked_aws: None) -> str:
    """The Lambda execution role the member-account bootstrap creates, in the agent's account; returns its ARN."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = boto3.client("iam").create_role(RoleName=LAMBDA_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])
