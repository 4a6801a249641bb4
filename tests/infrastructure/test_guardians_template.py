"""The guardians in the template: the approval wait (Choice, waitForTaskToken, timeout, Cancelled), the CloudTrail
watch rule and function, the Findings table and the SecurityAudit's read-only permissions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_cdk.assertions import Match

if TYPE_CHECKING:
    from conftest import Synthesized


def _statements_of(synth: Synthesized, step: str) -> list[dict[str, Any]]:
    role = synth.resources[synth.logical_id_of(step)]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_guard_routes_to_the_approval_wait_only_when_asked(synth: Synthesized) -> None:
    states = synth.definition["States"]
    choice = states["NeedsApproval?"]
    assert states["Guard"]["Next"] == "NeedsApproval?"
    (route,) = choice["Choices"]
    assert route["And"] == [
        {"Variable": "$.guard.decision", "IsPresent": True},
        {"Variable": "$.guard.decision", "StringEquals": "needs-approval"},
    ]
    assert route["Next"] == "RequestApproval" and choice["Default"] == "Execute"


def test_request_approval_waits_for_a_task_token_with_the_configured_timeout(synth: Synthesized) -> None:
    state = synth.definition["States"]["RequestApproval"]
    assert state["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    assert state["Parameters"]["FunctionName"] == f"${{{synth.logical_id_of('approval')}.Arn}}"
    assert state["Parameters"]["Payload"] == {
        "task.$": "$.task", "guard.$": "$.guard", "event.$": "$.event", "token.$": "$$.Task.Token",
    }  # fmt: skip
    # The timeout is the policy's approvals.timeout_seconds, which Guard puts in its decision.
    assert state["TimeoutSecondsPath"] == "$.guard.approval.timeout_seconds"
    assert state["ResultPath"] == "$.approval" and state["Next"] == "Execute"


def test_reject_or_timeout_ends_cancelled_other_errors_fail(synth: Synthesized) -> None:
    states = synth.definition["States"]
    catches = states["RequestApproval"]["Catch"]
    assert catches[0] == {"ErrorEquals": ["ApprovalRejected", "States.Timeout"], "ResultPath": "$.error",
                          "Next": "MarkCancelled"}  # fmt: skip
    assert catches[1]["ErrorEquals"] == ["States.ALL"] and catches[1]["Next"] == "RecordFailure"
    assert states["MarkCancelled"] == {"Type": "Pass", "Result": True, "ResultPath": "$.cancelled",
                                       "Next": "RecordCancellation"}  # fmt: skip
    record = states["RecordCancellation"]
    assert record["Resource"] == f"${{{synth.logical_id_of('fail')}.Arn}}"  # the one finisher of failures
    assert "Catch" not in record and record["Next"] == "TaskCancelled"
    assert states["TaskCancelled"]["Type"] == "Fail" and states["TaskCancelled"]["Error"] == "AwsTaskCancelled"


def test_the_state_machine_may_invoke_the_approval_function(synth: Synthesized) -> None:
    approval = synth.logical_id_of("approval")
    machine_role = next(
        r["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for logical_id, r in synth.of_type("AWS::StepFunctions::StateMachine").items()
        if logical_id.startswith("Pipeline")
    )
    statements = _statements_of_role(synth, machine_role)
    assert any("lambda:InvokeFunction" in _actions(s) and approval in json.dumps(s["Resource"]) for s in statements)


def _statements_of_role(synth: Synthesized, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_cloudtrail_watch_rule_targets_the_watch_function(synth: Synthesized) -> None:
    rules = [r for r in synth.of_type("AWS::Events::Rule").values()
             if "AWS API Call via CloudTrail" in json.dumps(r["Properties"].get("EventPattern", {}))]  # fmt: skip
    # One on the default bus (this account); one on the agent's bus for member accounts' forwarded calls.
    (rule,) = [r for r in rules if "EventBusName" not in r["Properties"]]
    (forwarded,) = [r for r in rules if "EventBusName" in r["Properties"]]
    assert forwarded["Properties"]["EventPattern"] == rule["Properties"]["EventPattern"]
    assert forwarded["Properties"]["Targets"][0]["Arn"] == rule["Properties"]["Targets"][0]["Arn"]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert {"aws.ec2", "aws.s3", "aws.rds"} <= set(pattern["source"])
    assert {"RunInstances", "CreateBucket", "CreateDBInstance", "CreateSecurityGroup",
            "AuthorizeSecurityGroupIngress"} <= set(pattern["detail"]["eventName"])  # fmt: skip
    assert "EventBusName" not in rule["Properties"]  # CloudTrail delivers to the default bus
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.logical_id_of("watch"), "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 4 and "DeadLetterConfig" in target
    synth.template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": [synth.logical_id_of("watch"), "Arn"]}},
    )


def test_watch_writes_findings_and_emits_but_manages_nothing(synth: Synthesized) -> None:
    props = synth.resources[synth.logical_id_of("watch")]["Properties"]
    assert "AGENT_FINDINGS_TABLE" in props["Environment"]["Variables"]
    actions = set().union(*(_actions(s) for s in _statements_of(synth, "watch")))
    assert "events:PutEvents" in actions and "dynamodb:PutItem" in actions
    assert not {a for a in actions if a.split(":")[0] in {"ec2", "s3", "rds", "lambda", "iam", "sts"}}
    synth.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {"KeySchema": [{"AttributeName": "finding_id", "KeyType": "HASH"}],
         "SSESpecification": {"SSEEnabled": True},
         "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
    )  # fmt: skip


def test_security_audit_permissions_are_read_only(synth: Synthesized) -> None:
    statements = [s for s in _statements_of(synth, "execute") if s.get("Sid", "").startswith("Audit")]
    actions = set().union(*(_actions(s) for s in statements))
    assert {"guardduty:ListDetectors", "cloudtrail:GetTrailStatus", "rds:DescribeDBInstances",
            "s3:GetBucketAcl", "s3:GetBucketPolicy"} <= actions  # fmt: skip
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in actions)


def test_approval_step_may_write_tasks_and_emit(synth: Synthesized) -> None:
    actions = set().union(*(_actions(s) for s in _statements_of(synth, "approval")))
    assert {"dynamodb:UpdateItem", "events:PutEvents"} <= actions
    assert not {a for a in actions if a.startswith("states:")}  # it only stores the token; the CLI sends it
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"AGENT_STEP": "approval"})}},
    )
