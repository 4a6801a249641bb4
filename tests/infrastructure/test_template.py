"""The synthesized AwsAgent template: state, messaging, functions, pipeline, IAM and cdk-nag, from one synthesis."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Match

if TYPE_CHECKING:  # the fixture's type, from this directory's conftest (only for annotations)
    from conftest import Synthesized

STEPS = (
    "intake", "analyze", "guard", "execute", "status", "tag", "register", "complete", "fail",
    "optimize_plan", "optimize_target", "optimize_report", "discover_plan", "discover_target",
    "health", "health_sweep", "approval", "watch",
)  # fmt: skip
TRANSIENT_ERRORS = [
    "TransientAwsError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Lambda states of the pipeline: state name -> (step, payload parameters or None for the whole state, ResultPath)
TASK_STATE = {"task.$": "$.task"}
TASK_AND_EXECUTION = {"task.$": "$.task", "execution.$": "$.execution"}
LAMBDA_STATES: dict[str, tuple[str, dict[str, str] | None, str]] = {
    "Analyze": ("analyze", None, "$.task"),
    "Guard": ("guard", TASK_STATE, "$.guard"),
    "Execute": ("execute", TASK_STATE, "$.execution"),
    "CheckStatus": ("status", TASK_AND_EXECUTION, "$.execution"),
    "Tag": ("tag", TASK_AND_EXECUTION, "$.tagging"),
    "Register": ("register", TASK_AND_EXECUTION, "$.registration"),
    "Complete": ("complete", None, "$.outcome"),
}
OUTPUT_KEYS = (
    "TasksTableName",
    "ResourcesTableName",
    "AgentsTableName",
    "EventBusName",
    "TaskQueueUrl",
    "DeadLetterQueueUrl",
    "StateMachineArn",
)


def _statements(synth: Synthesized, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy attached to a role."""
    return [
        statement
        for policy in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _role_of(synth: Synthesized, step: str) -> str:
    return str(synth.resources[synth.logical_id_of(step)]["Properties"]["Role"]["Fn::GetAtt"][0])


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _table_logical_id(synth: Synthesized, partition_key: str) -> str:
    for logical_id, table in synth.of_type("AWS::DynamoDB::Table").items():
        if table["Properties"]["KeySchema"] == [{"AttributeName": partition_key, "KeyType": "HASH"}]:
            return logical_id
    raise KeyError(partition_key)


# --- state -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("partition_key", "index_name", "index_pk", "index_sk"),
    [
        ("task_id", "by-status", "status", "created_at"),
        ("resource_key", "by-account-type", "account_id", "type_id"),
        ("name", "by-decision-maker", "decision_maker", "name"),
    ],
)
def test_table_keys_index_and_protection(
    synth: Synthesized, partition_key: str, index_name: str, index_pk: str, index_sk: str
) -> None:
    synth.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": Match.object_like(
                {
                    "KeySchema": [{"AttributeName": partition_key, "KeyType": "HASH"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True},
                    "GlobalSecondaryIndexes": [
                        Match.object_like(
                            {
                                "IndexName": index_name,
                                "KeySchema": [
                                    {"AttributeName": index_pk, "KeyType": "HASH"},
                                    {"AttributeName": index_sk, "KeyType": "RANGE"},
                                ],
                            }
                        )
                    ],
                    "AttributeDefinitions": Match.array_with(
                        [
                            {"AttributeName": name, "AttributeType": "S"}
                            for name in dict.fromkeys([partition_key, index_pk, index_sk])
                        ]
                    ),
                }
            ),
        },
    )


def test_exactly_four_tables(synth: Synthesized) -> None:
    synth.template.resource_count_is("AWS::DynamoDB::Table", 5)  # + the guardians' Findings table


# --- messaging ---------------------------------------------------------------------------------------------------


def _queues(synth: Synthesized) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    # The messaging construct's two queues (the guardians' watch has its own dead-letter queue).
    queues = {k: q for k, q in synth.of_type("AWS::SQS::Queue").items() if k.startswith("Messaging")}
    ((task_id, task),) = [(k, q) for k, q in queues.items() if "RedrivePolicy" in q["Properties"]]
    ((dlq_id, dlq),) = [(k, q) for k, q in queues.items() if k != task_id]
    return task_id, task, dlq_id, dlq


def test_task_queue_is_encrypted_with_a_dead_letter_queue(synth: Synthesized) -> None:
    _, task, dlq_id, dlq = _queues(synth)
    assert task["Properties"]["SqsManagedSseEnabled"] is True
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert task["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_visibility_timeout_is_six_times_the_intake_timeout(synth: Synthesized) -> None:
    _, task, _, _ = _queues(synth)
    intake_timeout = synth.resources[synth.logical_id_of("intake")]["Properties"]["Timeout"]
    assert task["Properties"]["VisibilityTimeout"] >= 6 * intake_timeout


def test_both_queues_deny_insecure_transport(synth: Synthesized) -> None:
    task_id, _, dlq_id, _ = _queues(synth)
    for queue_id in (task_id, dlq_id):
        synth.template.has_resource_properties(
            "AWS::SQS::QueuePolicy",
            {
                "Queues": [{"Ref": queue_id}],
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                    )
                },
            },
        )


def test_rule_on_the_agent_bus_sends_task_requests_to_the_queue(synth: Synthesized) -> None:
    task_id, _, _, _ = _queues(synth)
    ((bus_id, bus),) = synth.of_type("AWS::Events::EventBus").items()
    assert bus["Properties"]["Name"] == "aws-agent"
    # (the alarm-state rules of health monitoring are tested in test_health_template.py)
    (rule,) = [
        r
        for r in synth.of_type("AWS::Events::Rule").values()
        if "EventBusName" in r["Properties"]
        and r["Properties"]["EventPattern"]["source"] != ["aws.cloudwatch"]
        and r["Properties"]["EventPattern"]["detail-type"] != ["AWS API Call via CloudTrail"]  # forwarded, Cerberus
    ]
    assert rule["Properties"]["EventBusName"] == {"Ref": bus_id}
    assert rule["Properties"]["EventPattern"] == {
        "source": ["miyabi.orchestrator"],
        "detail-type": ["AwsTaskRequested"],
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [task_id, "Arn"]}
    assert not {"InputTransformer", "Input", "InputPath"} & set(target)


# --- functions ---------------------------------------------------------------------------------------------------


def test_one_function_per_step(synth: Synthesized) -> None:
    synth.template.resource_count_is("AWS::Lambda::Function", len(STEPS))
    assert {synth.logical_id_of(step) for step in STEPS} == set(synth.of_type("AWS::Lambda::Function"))


@pytest.mark.parametrize("step", STEPS)
def test_function_configuration(synth: Synthesized, step: str) -> None:
    props = synth.resources[synth.logical_id_of(step)]["Properties"]
    assert props["Architectures"] == ["arm64"]
    assert props["Runtime"].startswith("python3.")
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == {"intake": 256, "optimize_target": 1024, "discover_target": 1024}.get(step, 512)
    assert props["Timeout"] == {"execute": 300, "optimize_target": 600, "discover_target": 600}.get(step, 60)

    layers = props["Layers"]
    assert len(layers) == 2
    powertools = json.dumps(layers[0])
    runtime_tag = props["Runtime"].replace(".", "")  # python3.14 -> python314
    assert f":017000801446:layer:AWSLambdaPowertoolsPythonV3-{runtime_tag}-arm64:" in powertools
    (core_layer_id,) = synth.of_type("AWS::Lambda::LayerVersion")
    assert layers[1] == {"Ref": core_layer_id}

    variables = props["Environment"]["Variables"]
    assert variables["AGENT_STEP"] == step
    assert {
        "AGENT_TASKS_TABLE",
        "AGENT_RESOURCES_TABLE",
        "AGENT_AGENTS_TABLE",
        "AGENT_EVENT_BUS",
        "AGENT_CONFIG",
        "AGENT_ACCOUNT_ID",
    } <= set(variables)
    assert isinstance(json.loads(variables["AGENT_CONFIG"]), dict)
    assert variables["POWERTOOLS_SERVICE_NAME"] == "aws-agent"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AwsAgent"
    assert ("AGENT_STATE_MACHINE_ARN" in variables) == (step == "intake")

    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert synth.resources[log_group_id]["Properties"]["RetentionInDays"] == 30


def test_core_layer_matches_runtime_and_architecture(synth: Synthesized) -> None:
    runtime = synth.resources[synth.logical_id_of("intake")]["Properties"]["Runtime"]
    synth.template.has_resource_properties(
        "AWS::Lambda::LayerVersion", {"CompatibleRuntimes": [runtime], "CompatibleArchitectures": ["arm64"]}
    )


def test_intake_consumes_the_task_queue_with_partial_batch_failures(synth: Synthesized) -> None:
    task_id, _, _, _ = _queues(synth)
    synth.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [task_id, "Arn"]},
            "FunctionName": {"Ref": synth.logical_id_of("intake")},
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


# --- pipeline ----------------------------------------------------------------------------------------------------


def test_state_machine_is_standard_traced_logged_and_bounded(synth: Synthesized) -> None:
    synth.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": False}),
        },
    )
    assert synth.definition["TimeoutSeconds"] == 3 * 3600 + 86400  # the longest deadline + the longest approval wait


def test_definition_states(synth: Synthesized) -> None:
    states = synth.definition["States"]
    assert synth.definition["StartAt"] == "Analyze"
    assert {name: state["Type"] for name, state in states.items()} == {
        **dict.fromkeys([*LAMBDA_STATES, "RecordFailure"], "Task"),
        "ResourceReady?": "Choice",
        "WaitForResource": "Wait",
        "NextStep": "Choice",
        "TaskCompleted": "Succeed",
        "TaskFailed": "Fail",
        # The approval wait (see test_guardians_template.py)
        "NeedsApproval?": "Choice",
        "RequestApproval": "Task",
        "MarkCancelled": "Pass",
        "RecordCancellation": "Task",
        "TaskCancelled": "Fail",
    }
    assert states["Analyze"]["Next"] == "Guard"
    assert states["Guard"]["Next"] == "NeedsApproval?"
    assert states["Execute"]["Next"] == "ResourceReady?"
    assert states["Tag"]["Next"] == "Register"
    assert states["Register"]["Next"] == "Complete"
    assert states["Complete"]["Next"] == "TaskCompleted"
    assert states["TaskFailed"]["Error"] == "AwsTaskFailed"


@pytest.mark.parametrize("state_name", [*LAMBDA_STATES, "RecordFailure"])
def test_lambda_state_calls_its_function_with_its_payload(synth: Synthesized, state_name: str) -> None:
    step, parameters, result_path = LAMBDA_STATES.get(state_name, ("fail", None, "$.failure"))
    state = synth.definition["States"][state_name]
    # payload_response_only: the function ARN itself is the resource, the result is the raw handler output
    assert state["Resource"] == f"${{{synth.logical_id_of(step)}.Arn}}"
    assert state.get("Parameters") == parameters  # None: the whole state is the payload
    assert state["ResultPath"] == result_path
    assert state["Retry"] == [
        {
            "ErrorEquals": TRANSIENT_ERRORS,
            "IntervalSeconds": 2,
            "MaxAttempts": 4,
            "BackoffRate": 2,
            "MaxDelaySeconds": 30,
            "JitterStrategy": "FULL",
        }
    ]


@pytest.mark.parametrize("state_name", list(LAMBDA_STATES))
def test_every_step_failure_is_recorded(synth: Synthesized, state_name: str) -> None:
    assert synth.definition["States"][state_name]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
    ]


def test_record_failure_is_not_caught_and_ends_in_task_failed(synth: Synthesized) -> None:
    record_failure = synth.definition["States"]["RecordFailure"]
    assert "Catch" not in record_failure
    assert record_failure["Next"] == "TaskFailed"


def test_wait_until_ready_loop(synth: Synthesized) -> None:
    states = synth.definition["States"]
    ready = states["ResourceReady?"]
    (choice,) = ready["Choices"]
    assert {"Variable": "$.execution.ready", "BooleanEquals": False} in choice["And"]
    assert choice["Next"] == "WaitForResource"
    assert ready["Default"] == "NextStep"
    assert states["WaitForResource"] == {
        "Type": "Wait",
        "SecondsPath": "$.execution.poll_seconds",
        "Next": "CheckStatus",
    }
    assert states["CheckStatus"]["Next"] == "ResourceReady?"


def test_next_step_choice(synth: Synthesized) -> None:
    next_step = synth.definition["States"]["NextStep"]
    routes = {
        next(c["StringEquals"] for c in choice["And"] if "StringEquals" in c): choice["Next"]
        for choice in next_step["Choices"]
    }
    assert routes == {"tag": "Tag", "register": "Register"}
    assert all({"Variable": "$.execution.next", "IsPresent": True} in c["And"] for c in next_step["Choices"])
    assert next_step["Default"] == "Complete"


# --- IAM -----------------------------------------------------------------------------------------------------------


def test_no_statement_allows_every_action(synth: Synthesized) -> None:
    for logical_id, policy in synth.of_type("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert "*" not in _actions(statement), logical_id
            assert not any(action.endswith(":*") for action in _actions(statement)), logical_id


@pytest.mark.parametrize("step", ["execute", "status", "tag"])
def test_destructive_resource_actions_need_the_managed_tag(synth: Synthesized, step: str) -> None:
    statements = _statements(synth, _role_of(synth, step))
    managed = {"StringEquals": {"aws:ResourceTag/MiyabiManaged": "true"}}
    # s3:DeleteBucket is not tag-conditioned: S3 checks resource tags only on ABAC-enabled buckets (see permissions.py).
    for action in ("ec2:TerminateInstances", "ec2:StopInstances", "lambda:DeleteFunction"):
        granting = [s for s in statements if action in _actions(s)]
        assert granting, f"{step} cannot {action}"
        assert all(s.get("Condition") == managed for s in granting), action
    creating = [s for s in statements if "lambda:CreateFunction" in _actions(s)]
    assert creating
    assert all(s["Condition"] == {"StringEquals": {"aws:RequestTag/MiyabiManaged": "true"}} for s in creating)
    (pass_role,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}


@pytest.mark.parametrize("step", ["intake", "analyze", "guard", "register", "complete", "fail"])
def test_only_resource_steps_may_manage_aws_resources(synth: Synthesized, step: str) -> None:
    actions = {a for s in _statements(synth, _role_of(synth, step)) for a in _actions(s)}
    # Register creates the resource's alarms in its own account: it may assume the member role, nothing more.
    allowed = {"sts:AssumeRole"} if step == "register" else set()
    assert not {a for a in actions - allowed if a.split(":")[0] in {"ec2", "s3", "lambda", "iam", "sts", "ssm"}}


@pytest.mark.parametrize(
    ("step", "writes", "reads"),
    [
        ("intake", {"task_id"}, {"task_id"}),
        ("analyze", {"task_id"}, {"task_id"}),
        ("guard", {"task_id"}, {"task_id", "resource_key"}),  # + the account's resources: quotas, budget
        # Execute and CheckStatus set the records of dependents a cascade delete removes to Terminated (issue 3);
        # Execute's DiscoverResources reconciles (issue 4).
        ("execute", {"resource_key", "name"}, {"resource_key", "name"}),
        ("status", {"resource_key", "name"}, {"resource_key", "name"}),
        ("tag", set(), {"resource_key"}),
        ("register", {"resource_key", "name"}, {"resource_key", "name", "task_id"}),
        ("complete", {"task_id"}, {"task_id"}),
        ("fail", {"task_id"}, {"task_id"}),
    ],
)
def test_table_access_is_least_privilege(synth: Synthesized, step: str, writes: set[str], reads: set[str]) -> None:
    tables = {_table_logical_id(synth, pk): pk for pk in ("task_id", "resource_key", "name")}
    read_tables: set[str] = set()
    write_tables: set[str] = set()
    for statement in _statements(synth, _role_of(synth, step)):
        dynamodb_actions = [a for a in _actions(statement) if a.startswith("dynamodb:")]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in resources:
            text = json.dumps(resource)
            for logical_id, pk in tables.items():
                if dynamodb_actions and f'"{logical_id}"' in text:
                    read_tables.add(pk)
                    if "dynamodb:PutItem" in dynamodb_actions:
                        write_tables.add(pk)
    assert (write_tables, read_tables) == (writes, reads)


def test_intake_may_start_the_pipeline_and_only_finishers_may_emit_events(synth: Synthesized) -> None:
    intake = {a for s in _statements(synth, _role_of(synth, "intake")) for a in _actions(s)}
    assert "states:StartExecution" in intake
    for step in STEPS:
        actions = {a for s in _statements(synth, _role_of(synth, step)) for a in _actions(s)}
        # execute and discover_target announce ResourceDriftDetected (reconciliation, issue 4).
        emitters = {"complete", "fail", "optimize_report", "health", "execute", "discover_target", "approval", "watch"}
        assert ("events:PutEvents" in actions) == (step in emitters), step


# --- outputs and cdk-nag ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", OUTPUT_KEYS)
def test_outputs(synth: Synthesized, key: str) -> None:
    synth.template.has_output(key, {"Value": Match.any_value()})


def test_cdk_nag_reports_no_unacknowledged_finding(synth: Synthesized) -> None:
    assert synth.validation_error is None, (synth.outdir / "validation-report.json").read_text()
    report = json.loads((synth.outdir / "validation-report.json").read_text())  # written: the nag plugin ran
    assert report["pluginReports"] == []


def test_no_error_annotations(synth: Synthesized) -> None:
    # What assertions.Annotations.from_stack(stack).find_error("*", ...) reads, without its forced re-synthesis.
    messages = synth.app.synth().get_stack_artifact(synth.stack.artifact_id).messages
    assert [m for m in messages if m.level == "error"] == []


def test_every_acknowledgment_has_a_reason(synth: Synthesized) -> None:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = {
        rule_id: reason
        for construct in synth.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
        for rule_id, reason in (entry.data or {}).items()
    }
    assert acknowledged, "expected the IAM5 wildcard acknowledgments"
    for rule_id, reason in acknowledged.items():
        assert "AwsSolutions-" in rule_id
        assert len(str(reason)) >= 40, rule_id


def test_a_finishers_emission_lease_outlasts_its_lambda_timeout() -> None:
    """A claim to publish a task's outcome is taken over only from a finisher Lambda has already stopped."""
    from aws_agent.pipeline.finish import EMIT_LEASE_SECONDS
    from infrastructure.functions import timeout_of

    for step in ("complete", "fail"):
        assert timeout_of(step).to_seconds() < EMIT_LEASE_SECONDS, step
