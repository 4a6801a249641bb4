"""Health in the template: the alarm-state rules, the health function, the sweep schedule, IAM and the dashboard."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_cdk.assertions import Match

if TYPE_CHECKING:
    from .conftest import Synthesized

PATTERN = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {"alarmName": [{"prefix": "miyabi/"}]},
}


def _rules(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return synth.of_type("AWS::Events::Rule")


def _target_function(rule: dict[str, Any]) -> str:
    (target,) = rule["Properties"]["Targets"]
    return str(target["Arn"]["Fn::GetAtt"][0] if "Fn::GetAtt" in target["Arn"] else target["Arn"])


def test_alarm_state_changes_of_the_agents_alarms_reach_the_health_function(synth: Synthesized) -> None:
    matching = {k: r for k, r in _rules(synth).items() if r["Properties"].get("EventPattern") == PATTERN}
    assert len(matching) == 2  # the default bus (own account) and the agent's bus (forwarded from members)
    buses = sorted("EventBusName" in r["Properties"] for r in matching.values())
    assert buses == [False, True]
    health = synth.logical_id_of("health")
    for rule in matching.values():
        assert _target_function(rule) == health
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
         "FunctionName": {"Fn::GetAtt": [health, "Arn"]}},
    )  # fmt: skip


def test_health_function(synth: Synthesized) -> None:
    function = synth.resources[synth.logical_id_of("health")]["Properties"]
    assert function["Handler"] == "handler.handler" and function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    variables = function["Environment"]["Variables"]
    assert "miyabi" in variables["AGENT_CONFIG"] or variables["AGENT_CONFIG"]  # the health config rides along
    assert variables["AGENT_AGENTS_TABLE"] and variables["AGENT_EVENT_BUS"]


def test_sweep_runs_on_a_schedule(synth: Synthesized) -> None:
    sweep = synth.logical_id_of("health_sweep")
    scheduled = [r for r in _rules(synth).values() if "ScheduleExpression" in r["Properties"]]
    (rule,) = [r for r in scheduled if _target_function(r) == sweep]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"


def _statements(synth: Synthesized, step: str) -> list[dict[str, Any]]:
    role = synth.resources[synth.logical_id_of(step)]["Properties"]["Role"]["Fn::GetAtt"][0]
    out = []
    for policy in synth.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def test_alarm_permissions_are_scoped_to_the_agents_alarms(synth: Synthesized) -> None:
    for step in ("register", "execute", "health_sweep"):
        (statement,) = [s for s in _statements(synth, step) if "cloudwatch:PutMetricAlarm" in _actions(s)]
        assert set(_actions(statement)) == {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms",
                                            "cloudwatch:DescribeAlarms", "cloudwatch:TagResource"}  # fmt: skip
        assert json.dumps(statement["Resource"]).endswith(':alarm:miyabi/*"]]}')


def test_heal_actions_need_the_managed_tag(synth: Synthesized) -> None:
    statements = _statements(synth, "health")
    for action in ("ec2:RebootInstances", "rds:RebootDBInstance", "ecs:UpdateService", "lambda:UpdateAlias"):
        (granting,) = [s for s in statements if action in _actions(s)]
        assert granting["Condition"] == {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
    assert any("sts:AssumeRole" in _actions(s) for s in statements)
    # The sweep only reads and repairs alarms: no heal action.
    assert not any("ec2:RebootInstances" in _actions(s) for s in _statements(synth, "health_sweep"))


def test_dashboard_shows_tasks_failures_health_approvals_and_savings(synth: Synthesized) -> None:
    ((_, dashboard),) = synth.of_type("AWS::CloudWatch::Dashboard").items()
    body = dashboard["Properties"]["DashboardBody"]
    text = body if isinstance(body, str) else json.dumps(body)
    for title in ("Tasks by status", "Failures", "Service agents by health", "Approvals waiting",
                  "Optimization savings", "Health-check coverage"):  # fmt: skip
        assert title in text, title
    for metric in ("TasksCompleted", "TasksFailed", "ServiceAgentsUnhealthy", "HealthCheckCoverage",
                   "OptimizationSavings", "ApprovalsRequested"):  # fmt: skip
        assert metric in text, metric
    assert "AwsAgent" in text  # Powertools' namespace
    synth.template.has_resource("AWS::CloudWatch::Dashboard", {"Properties": Match.any_value()})
