"""`aws-agent health` through typer's CliRunner against moto: the sweep over a deployment's tables."""

from __future__ import annotations

import boto3
import pytest
from health_fixtures import ACCOUNT, alarm_names, make_runtime, register
from typer.testing import CliRunner

from aws_agent.cli import app
from aws_agent.model import AwsResourceType

runner = CliRunner()


def test_health_command_repairs_and_reports_coverage(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = make_runtime()
    register(rt, AwsResourceType.LAMBDA_FUNCTION, "api")
    lost = f"miyabi/{ACCOUNT}/LambdaFunction/api/Throttles"
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(AlarmNames=[lost])
    for name, value in {"AGENT_TASKS_TABLE": "tasks", "AGENT_RESOURCES_TABLE": "resources",
                        "AGENT_AGENTS_TABLE": "agents", "AGENT_EVENT_BUS": "agent-bus"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)

    report_only = runner.invoke(app, ["health", "--no-repair"])
    assert report_only.exit_code == 1, report_only.output  # coverage below 100 % fails the command
    assert "coverage 0.0 %" in report_only.output and lost not in alarm_names()

    repaired = runner.invoke(app, ["health", "--account", ACCOUNT, "--type", "LambdaFunction"])
    assert repaired.exit_code == 0, repaired.output
    assert "coverage 100.0 %" in repaired.output and "alarms repaired 1" in repaired.output
    assert lost in alarm_names()
