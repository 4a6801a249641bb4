"""The cost-optimization workflow in the template: table, Distributed Map, schedule, permissions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_cdk.assertions import Match

if TYPE_CHECKING:
    from .conftest import Synthesized


def _optimization_machine(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    ((logical_id, machine),) = [
        (k, v) for k, v in synth.of_type("AWS::StepFunctions::StateMachine").items() if k.startswith("Optimization")
    ]
    return logical_id, machine


def test_cost_reports_table(synth: Synthesized) -> None:
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "KeySchema": [
                        {"AttributeName": "run_id", "KeyType": "HASH"},
                        {"AttributeName": "part", "KeyType": "RANGE"},
                    ],
                    "BillingMode": "PAY_PER_REQUEST",
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )


def test_workflow_plans_maps_and_reports(synth: Synthesized) -> None:
    definition = synth.optimization_definition
    assert definition["StartAt"] == "PlanTargets"
    states = definition["States"]
    assert states["PlanTargets"]["Next"] == "SweepTargets"
    assert states["PlanTargets"]["Parameters"] == {"run_id.$": "$$.Execution.Name", "input.$": "$"}
    sweep = states["SweepTargets"]
    assert sweep["Type"] == "Map"
    assert sweep["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert sweep["ItemsPath"] == "$.targets"
    assert sweep["MaxConcurrency"] == 20
    assert sweep["ResultPath"] is None  # results go to the table, the state stays small
    assert sweep["ItemSelector"]["target.$"] == "$$.Map.Item.Value"
    inner = sweep["ItemProcessor"]["States"]["SweepTarget"]
    assert inner["Type"] == "Task" and inner["Resource"]  # the optimize_target function's ARN
    assert "TransientAwsError" in inner["Retry"][0]["ErrorEquals"]
    assert sweep["Next"] == "Report" and states["Report"]["End"] is True


def test_schedule_starts_the_workflow(synth: Synthesized) -> None:
    logical_id, _ = _optimization_machine(synth)
    (rule,) = [
        r
        for r in synth.of_type("AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"] and r["Properties"]["Targets"][0]["Arn"] == {"Ref": logical_id}
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 day)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": logical_id}
    assert json.loads(target["Input"]) == {"scheduled": True}


def _policy_statements(synth: Synthesized, policy_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in synth.of_type("AWS::IAM::Policy").items()
        if logical_id.startswith(policy_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_sweep_stops_only_managed_instances(synth: Synthesized) -> None:
    statements = _policy_statements(synth, "OptimizationSweepPolicy")
    (stop,) = [s for s in statements if s["Action"] == "ec2:StopInstances"]
    assert stop["Condition"] == {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
    reads = next(s for s in statements if "cloudwatch:GetMetricData" in s["Action"])
    assert all(not a.endswith(":*") or a == "ec2:Describe*" for a in reads["Action"])
    assert not any(a in ("ec2:TerminateInstances", "s3:DeleteBucket") for s in statements for a in s["Action"])


def test_execute_may_start_and_status_may_read_the_workflow(synth: Synthesized) -> None:
    logical_id, _ = _optimization_machine(synth)
    execute = _policy_statements(synth, "FunctionsExecuteRoleDefaultPolicy")
    assert any(s["Action"] == "states:StartExecution" and s["Resource"] == {"Ref": logical_id} for s in execute)
    status = _policy_statements(synth, "FunctionsStatusRoleDefaultPolicy")
    assert any("states:DescribeExecution" in s["Action"] for s in status)
    env = synth.resources[synth.logical_id_of("execute")]["Properties"]["Environment"]["Variables"]
    assert env["AGENT_OPTIMIZATION_STATE_MACHINE_ARN"] == {"Ref": logical_id}
